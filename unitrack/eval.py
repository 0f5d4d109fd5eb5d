"""``unitrack eval``: the one runner for every task — data -> model -> head -> predictions -> metrics.json.

Tasks plug in through the task table :data:`unitrack.tasks.TASKS`. A task's head module provides three functions:

``sequences(root: Path) -> list[str]``
    the sequence names of a dataset ROOT (the contract's layout for that task);
``prediction_path(task_dir: Path, seq: str) -> Path``
    where the sequence's prediction goes under ``RUN/<task>/``; its existence means "done"
    (heads write it atomically, so a killed run never leaves a half file that looks finished);
``run_sequence(job: SequenceJob) -> dict``
    track one sequence and write ``job.out``; return ``{"frames": n}`` plus any time split
    (seconds per stage). ``job.model`` loads the model on first access, so a fully resumed run
    never builds one; ``job.render`` is an mp4 path when ``--render`` was given.

Adding a task = one entry in the task table (:mod:`unitrack.tasks`) and a head module with those functions;
metrics come from the entry's metric module and the file/table from ``unitrack.metrics.report``.
A bad sequence (``InputError``) is reported in one ``error:`` line naming its file and skipped; the others
still run, their predictions stay written and are scored, ``metrics.json`` lists the failures under
``"failed"``, and the run ends with one ``failed:`` summary line (:class:`SequencesFailed`) and exit status 1
(2 when no sequence could be written at all).

Under ``torchrun`` the sequences are sharded over the ranks (``seqs[rank::world]``), each rank writes
its predictions and ``<task>_timings.rank<R>.json``; after a barrier rank 0 alone scores the union of
the predictions and writes ``metrics.json`` (the same figures as one process); other ranks return ``{}``.
"""

from __future__ import annotations

import argparse
import errno
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from unitrack.tasks import DEFAULT_MODEL, NAMES, get_task
from videossl.errors import InputError, MissingWeightsError

# errors of the output's file system (not of one sequence): stop, keep what is written, say where
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM})



class SequencesFailed(InputError):
    """Some sequences failed (each already reported in its own ``error:`` line); the others are written and
    scored in ``metrics`` (``RUN/metrics.json``). Not an ``error:`` line itself: the CLI prints it as the
    ``failed:`` summary and exits 1 (2 when ``done`` is 0)."""

    def __init__(self, failures: list[str], done: int, metrics: dict, metrics_path: Path):
        self.failures, self.done, self.metrics = failures, done, metrics
        super().__init__(None, f"{len(failures)} sequence(s) failed (see the error lines above); the other {done} "
                               f"are written and scored in {metrics_path}")

    @property
    def exit_code(self) -> int:
        return 1 if self.done else 2


@dataclass
class SequenceJob:
    """Everything a head needs to run one sequence."""

    root: Path
    seq: str
    out: Path
    device: str
    model_name: str
    render: Path | None = None
    options: dict = field(default_factory=dict)
    _loader: object = None

    @property
    def model(self):
        return self._loader()


class _LazyModel:
    """Builds the model once, on first use (a fully resumed run never loads weights)."""

    def __init__(self, name: str, device: str, pretrained: str | None = "default"):
        self.name, self.device, self.pretrained, self._model = name, device, pretrained, None

    def __call__(self):
        if self._model is None:
            from videossl.models import create_model

            self._model = create_model(self.name, pretrained=self.pretrained, device=self.device)
            self._model.eval()
        return self._model


def task_module(task: str):
    """The head module of ``task`` (from the task table)."""
    return get_task(task).head_module()


def clean_stale_temporaries(task_dir: Path, seqs: list[str]) -> list[Path]:
    """Remove the ``.tmp-<seq>.*`` files/folders a killed run left for these sequences (heads and
    ``atomic_write`` build every prediction there before renaming it into place, so none is a result).
    Only this shard's sequences: another rank may be writing its own right now."""
    gone = []
    for seq in seqs:
        for p in Path(task_dir).glob(f".tmp-{Path(seq).name}.*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def _normal_dir_mode(path: Path) -> None:
    """Give a prediction folder the mode ``mkdir`` would (``mkdtemp`` makes 0700): the umask's read bits,
    with search bits where read is granted (0755 under the usual umask 022)."""
    from videossl.utils.atomic import default_file_mode

    fmode = default_file_mode()
    path.chmod(fmode | ((fmode & 0o444) >> 2))


def disk_error(exc: OSError, where: Path, done: list[str], task_dir: Path) -> InputError:
    """One line for a write failure of the output's file system, listing the predictions kept
    (an ``OutputError``: exit status 4, as for an ``--out`` that fails the check before any work)."""
    from videossl.utils.outputs import OutputError, describe_os_error, display_path

    path = exc.filename or where
    kept = ", ".join(done[:10]) + (f" ... ({len(done)} in all)" if len(done) > 10 else "") if done else "none"
    return OutputError(display_path(path), f"cannot write: {describe_os_error(exc)}; stopped. Predictions completed "
                                           f"and kept in {task_dir}: {kept}; free space (or fix the folder) and "
                                           "re-run the same command to resume")


def evaluate_task(task: str, data: str | Path | None = None, model: str = DEFAULT_MODEL, out: str | Path = "runs/eval",
                  device: str = "auto", render: bool = False, sequences: list[str] | None = None,
                  options: dict | None = None, progress: bool = True, pretrained: str | None = "default",
                  model_loader=None) -> dict:
    """Run (or resume) one task and write ``RUN/metrics.json``; return the metrics dict.

    ``pretrained`` goes to ``create_model``: ``"default"`` is the model's own weights (the shipped checkpoint for
    videossl-tiny), else a tag (``imagenet``, ``openai``), a Hugging Face id or a local path. ``options``: the
    head's settings as a flat dict (``unitrack.heads.options``; strings are parsed, an unknown key fails here,
    before any work); they are recorded in ``metrics.json`` under ``"options"``. ``model_loader``: a callable
    returning the model (``unitrack bench`` shares one across tasks); default: built from ``model`` on first use.

    ``out`` is checked writable before any work; a full or read-only disk in the middle stops the run with one
    ``InputError`` line naming the path and the predictions kept (all of them resume)."""
    from unitrack.heads.options import normalize_options
    from videossl import dist as vdist
    from videossl.utils import resolve_device

    spec = get_task(task)
    mod = spec.head_module()
    options = normalize_options(task, options)
    if data is None:
        from unitrack.data.synth import ensure_benchmark

        root, dataset = Path(ensure_benchmark(task)), f"synthetic-{task}"
    else:
        root = Path(data)
        if not root.is_dir():
            raise InputError(root, "no such dataset directory")
        dataset = root.name
    rank, world, dev = vdist.setup_distributed(resolve_device(device))  # torchrun: cuda:LOCAL_RANK / gloo
    dev = str(dev)
    run = Path(out)
    task_dir = run / task
    seqs = list(sequences) if sequences else list(mod.sequences(root))
    if not seqs:
        raise InputError(root, f"no {task} sequences found (see the layout in CONTRACT.md)")
    from videossl.utils.outputs import check_output_dir

    check_output_dir(run)  # a read-only or full --out (or a file): one line now, not a traceback later
    check_output_dir(task_dir)
    try:
        return _evaluate(task, spec, mod, root, dataset, run, task_dir, seqs, model, pretrained, options, render,
                         progress, rank, world, dev, model_loader)
    except OSError as exc:
        if exc.errno not in DISK_ERRNOS:
            raise
        done = [s for s in seqs if spec.prediction_path(task_dir, s).exists()]
        raise disk_error(exc, run, done, task_dir) from None


def _evaluate(task, spec, mod, root, dataset, run, task_dir, seqs, model, pretrained, options, render, progress,
              rank, world, dev, model_loader) -> dict:
    from videossl import dist as vdist
    from videossl.utils import machine_info

    _check_resume(run / f"{task}_settings.json", task_dir,
                  {"model": model, "pretrained": pretrained, "data": str(root.resolve()), "options": options},
                  write=rank == 0)
    loader = model_loader if model_loader is not None else _LazyModel(model, dev, pretrained)
    clean_stale_temporaries(task_dir, seqs[rank::world])
    if rank == 0:  # atomic_write's temporaries of this task's run files (another rank writes only its own)
        clean_stale_temporaries(run, [f"{task}_timings.json", f"{task}_settings.json", "metrics.json"])
    main_timing = run / f"{task}_timings.json"
    timing_path = main_timing if world == 1 else run / f"{task}_timings.rank{rank}.json"
    timings = {}
    for p in [main_timing, *sorted(run.glob(f"{task}_timings.rank*.json"))]:  # rank files of a killed run
        timings.update(_read_timings(p))
    failures: list[str] = []

    from tqdm import tqdm

    bar = tqdm(seqs[rank::world], desc=f"{task}", unit="seq", disable=not progress or rank != 0, file=sys.stderr)
    for seq in bar:
        bar.set_postfix_str(seq)
        pred = spec.prediction_path(task_dir, seq)
        if pred.exists():
            continue  # resume: written atomically, so it is complete
        job = SequenceJob(root, seq, pred, dev, model, (run / "render" / task / f"{seq}.mp4") if render else None,
                          dict(options or {}), loader)
        t0 = time.perf_counter()
        try:
            info = dict(mod.run_sequence(job) or {})
        except MissingWeightsError:
            raise  # the model, not this sequence: every other sequence would fail the same way
        except InputError as exc:
            failures.append(str(exc))
            print(f"error: {exc}", file=sys.stderr)
            continue
        if pred.is_dir():
            _normal_dir_mode(pred)
        info["seconds"] = time.perf_counter() - t0
        timings[seq] = info
        from videossl.utils import atomic_write_json

        atomic_write_json(timing_path, timings)

    if world > 1:  # every rank's failures (also the barrier: all predictions are written)
        failures = sum(vdist.all_gather_object(failures), [])
        if rank != 0:
            return {}
        from videossl.utils import atomic_write_json

        for p in sorted(run.glob(f"{task}_timings.rank*.json")):
            timings.update(_read_timings(p))
        atomic_write_json(main_timing, timings)
        for p in run.glob(f"{task}_timings.rank*.json"):
            p.unlink()
    done = [s for s in seqs if spec.prediction_path(task_dir, s).exists()]
    from unitrack.metrics import evaluate as evaluate_metrics

    result = evaluate_metrics(task, root, task_dir, done) if done else {"overall": {}, "per_sequence": {}}
    frames = sum(timings.get(s, {}).get("frames", 0) for s in done if s in timings)
    secs = sum(timings.get(s, {}).get("seconds", 0.0) for s in done if s in timings)
    from unitrack.metrics import report

    metrics = report.build_record(task, result, model=model, dataset=dataset,
                                  fps=frames / secs if secs > 0 else None, machine=machine_info())
    metrics["options"] = options  # the head settings changed from their defaults (--opt)
    split: dict[str, float] = {}
    for s in done:
        for k, v in timings.get(s, {}).items():
            if k not in ("frames", "seconds") and isinstance(v, (int, float)):
                split[k] = split.get(k, 0.0) + v
    if split:
        metrics["time_split_s"] = {k: round(v, 3) for k, v in split.items()}  # seconds per stage, all sequences
    if failures:
        metrics["failed"] = failures
    from videossl.utils import atomic_write_json

    atomic_write_json(run / "metrics.json", metrics)
    if result["per_sequence"] or result["overall"]:
        print(report.format_table(task, result))
    fps = metrics.get("fps")
    print(f"{task}: {len(done)} sequence(s), {frames} frames, "
          f"{'n/a' if fps is None else f'{fps:.2f}'} fps ({model} on {dev}) -> {run / 'metrics.json'}")
    if failures:
        raise SequencesFailed(failures, len(done), metrics, run / "metrics.json")
    return metrics


def _read_timings(path: Path) -> dict:
    """A run's per-sequence timings (``{}`` when absent). Damaged (a hand edit, a bad disk): one warning and
    ``{}``: they only feed the fps figure, so the finished predictions are still resumed and scored."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
            return data
        problem = "not a {sequence: {frames, seconds, ...}} object"
    except (OSError, ValueError) as exc:
        problem = f"unreadable ({exc})"
    print(f"warning: {path}: {problem}; its timings are dropped (the fps of the resumed sequences is not "
          "known), their predictions are kept and scored", file=sys.stderr)
    return {}


def _check_resume(path: Path, task_dir: Path, settings: dict, write: bool) -> None:
    """One run directory, one configuration. Resuming skips the sequences already written, so resuming
    with another model, weights, dataset or head options would silently score a mix: refuse it in one
    line, before any work, and leave what is there untouched."""
    from videossl.utils import atomic_write_json

    if path.exists() and any(task_dir.iterdir()):
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            old = None  # unreadable: written atomically, so only a hand edit gets here; trust the request
            print(f"warning: {path}: unreadable ({exc}); cannot check that {task_dir} was made with these "
                  "settings: resuming with them and rewriting the file", file=sys.stderr)
        if isinstance(old, dict) and old != settings:
            key = next(k for k in settings if old.get(k) != settings[k])
            raise InputError(path, f"{task_dir} was made with {key}={old.get(key)!r}, this run asks for "
                                   f"{key}={settings[key]!r}; use another --out, or delete {task_dir} to start over")
    if write:
        atomic_write_json(path, settings)


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="run a tracking head on a benchmark and score it",
                              description="Run a task's head on every sequence (resuming finished ones), "
                                          "write RUN/<task>/ predictions and RUN/metrics.json.")
    p.add_argument("--task", required=True, choices=NAMES)
    p.add_argument("--data", default=None, help="dataset ROOT (default: the built-in synthetic benchmark)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name from the registry (default {DEFAULT_MODEL})")
    p.add_argument("--out", default="runs/eval", help="run folder (default runs/eval)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--render", action="store_true", help="also draw the results into RUN/render/<task>/<seq>.mp4")
    p.add_argument("--sequences", nargs="*", default=None, help="only these sequences")
    p.add_argument("--pretrained", default="default",
                   help="weights for --model: a tag (imagenet, openai), a Hugging Face id or a local checkpoint; "
                        "default: the model's own (ImageNet for mobilenetv2, the shipped checkpoint for videossl-tiny)")
    add_opt_argument(p)
    from videossl.clitools import add_progress_arg

    add_progress_arg(p)
    p.set_defaults(func=run)


def add_opt_argument(p: argparse.ArgumentParser) -> None:
    """``--opt KEY=VALUE`` (repeatable), shared by ``unitrack eval`` and ``unitrack track``."""
    from unitrack.heads.options import WHERE

    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="a head setting, repeatable (e.g. --opt use_appearance=false --opt topk=5); keys are the "
                        f"fields of the task's config ({WHERE}); an unknown key lists the valid ones")


def run(args: argparse.Namespace) -> int:
    from unitrack.heads.options import parse_opt_args
    from videossl import dist as vdist

    options = parse_opt_args(args.opt)
    try:
        evaluate_task(args.task, args.data, args.model, args.out, args.device, args.render, args.sequences,
                      options=options, progress=not args.no_progress, pretrained=args.pretrained)
    except SequencesFailed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        vdist.cleanup()
    return 0
