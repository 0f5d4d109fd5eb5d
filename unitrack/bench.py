"""``unitrack bench --model M``: every tracking task in one run, one report card (UniTrack's main table).

Each task runs through :func:`unitrack.eval.evaluate_task` into ``RUN/<task>/`` (its own run folder:
predictions, ``<task>_settings.json``, ``metrics.json``), so a bench run resumes task by task and sequence by
sequence, refuses a changed model/weights/data the way ``unitrack eval`` does, and shards under ``torchrun``
the same way. Data: the synthetic benchmark by default, or ``--data-root R`` holding the task table's ROOT
folders (``R/otb``, ``R/davis``, ``R/mot17``, ``R/mots20``, ``R/jhmdb``, ``R/posetrack18``; a missing one is skipped
with a note). For a model with a clip embedding the card also has the protocols of :mod:`unitrack.protocols`
(linear probe; zero-shot too with a text tower) on the synthetic action set, kept in ``RUN/actions.json``;
``--tasks`` names them like tasks (``linear-probe``, ``zero-shot``); by default every one the model has is run.
The card — a row per model, a column per task headline metric (from :mod:`unitrack.tasks`) — is written as
``RUN/report.md``, ``RUN/report.json`` and ``RUN/report.png``; ``--compare RUN2 ...`` adds those runs' rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from unitrack.protocols import PROTOCOLS
from unitrack.tasks import DEFAULT_MODEL, NAMES, TASKS, parse_task_list
from videossl.errors import InputError

#: what ``--tasks`` may name: the tracking tasks, then the clip-embedding protocols
CHOICES = NAMES + tuple(PROTOCOLS)


def bench(model: str = DEFAULT_MODEL, pretrained: str | None = "default", data_root=None, tasks=None,
          out="runs/bench", device: str = "auto", progress: bool = True) -> dict:
    """Run (or resume) every task of ``tasks`` and return ``{"model", "pretrained", "tasks": {task: overall}}``."""
    from unitrack.eval import _LazyModel, evaluate_task
    from videossl.utils.outputs import check_output_dir
    from videossl.utils import resolve_device

    chosen = parse_task_list(tasks, allowed=CHOICES)
    names = [t for t in chosen if t in TASKS]
    protocols = [t for t in chosen if t in PROTOCOLS] if tasks is not None else None  # None: all the model has
    roots = {}
    for t in names:
        if data_root is None:
            roots[t] = None
        else:
            r = Path(data_root) / TASKS[t].dataset
            if r.is_dir():
                roots[t] = r
            else:
                print(f"note: {r} not found; {t} skipped", file=sys.stderr)
    if data_root is not None and not roots and not protocols:
        raise InputError(data_root, f"holds none of {', '.join(TASKS[t].dataset for t in names)}")
    run = check_output_dir(out)
    loader = _LazyModel(model, str(resolve_device(device)), pretrained)  # one model for every task
    card = {"model": model, "pretrained": pretrained, "data": "synthetic" if data_root is None else str(data_root),
            "tasks": {}}
    from unitrack.eval import SequencesFailed
    from videossl import dist as vdist

    if vdist.env_world()[0] == 0 and protocols != []:
        card["tasks"].update(protocol_scores(run, model, pretrained, loader, protocols, progress))
    failed = []
    for t in roots:
        try:
            metrics = evaluate_task(t, roots[t], model, run / t, device, sequences=None, progress=progress,
                                    pretrained=pretrained, model_loader=loader)
        except SequencesFailed as exc:  # each bad sequence has had its error line; the card scores the others
            print(f"failed: {t}: {exc}", file=sys.stderr)
            metrics, failed = exc.metrics, failed + [t]
        if not metrics:  # a torchrun rank other than 0
            continue
        card["tasks"][t] = {k: metrics["overall"].get(k) for k in TASKS[t].metric_keys}
        card["tasks"][t]["fps"] = metrics.get("fps")
    if vdist.env_world()[0] != 0:  # torchrun: rank 0 alone writes the card
        return card
    from videossl.utils import atomic_write_json

    if failed:
        card["failed_tasks"] = failed  # the run's exit status is then 1
    atomic_write_json(run / "report.json", card)
    write_report(run, [card])
    return card


def protocol_scores(run: Path, model: str, pretrained, loader, wanted: list[str] | None, progress: bool) -> dict:
    """The clip-embedding protocols (:mod:`unitrack.protocols`), resumed from ``RUN/actions.json``.

    ``wanted`` None: every protocol the model has; a named one it lacks is one ``InputError`` line."""
    from unitrack.protocols import available, run_protocols
    from videossl.utils import atomic_write_json

    path = run / "actions.json"
    same = {"model": model, "pretrained": pretrained}
    old = _read_actions(path)
    matches = {k: old.get(k) for k in same} == same  # a file of another model or weights is not resumed
    done = old.get("protocols", {}) if matches else {}
    known = wanted if wanted is not None else old.get("available") if matches else None  # None: load to know
    if known is not None and all(p in done for p in known):
        return {p: done[p] for p in known}
    m = loader()
    has = available(m)
    lacking = [p for p in wanted or [] if p not in has]
    if lacking:
        raise InputError(None, f"model {model} has no {' or '.join(lacking)} (it needs "
                               f"{'a text tower' if 'zero-shot' in lacking else 'encode_video'}); drop it from --tasks")
    todo = [p for p in (wanted if wanted is not None else has) if p not in done]
    if todo:
        if progress:
            print(f"actions: {', '.join(todo)} on the synthetic action set", file=sys.stderr)
        done.update(run_protocols(m, todo, str(getattr(loader, "device", "cpu"))))
    record = {**same, "available": has, "protocols": done}
    if record != old:  # also when the model has none: the next run need not load it to find out
        atomic_write_json(path, record)
    return {p: done[p] for p in (wanted if wanted is not None else has)}


def _read_actions(path: Path) -> dict:
    """``RUN/actions.json`` as written, ``{}`` when absent. Damaged (a hand edit, a bad disk): one warning and
    ``{}``, so the protocols are run again and the file rewritten (they are a few seconds, nothing is lost)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and isinstance(data.get("protocols", {}), dict):
            return data
        problem = "not a bench protocols file"
    except (OSError, ValueError) as exc:
        problem = f"unreadable ({exc})"
    print(f"warning: {path}: {problem}; the protocols are run again", file=sys.stderr)
    return {}


def load_card(run) -> dict:
    path = Path(run) / "report.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a bench report: {exc}") from None


def _spec(name: str):
    """The task table entry or the protocol of a card column."""
    return TASKS.get(name) or PROTOCOLS[name]


def _cell(task: str, key: str, value) -> str:
    from unitrack.tasks import COUNT_KEYS

    if value is None:
        return "n/a"
    return str(int(value)) if key in COUNT_KEYS else f"{100 * float(value):.1f}"


def format_markdown(cards: list[dict]) -> str:
    """The report card: a row per model, a column per task metric (percent; counts as integers)."""
    cols = [(t, k) for t in CHOICES for k in _spec(t).shown_keys if any(t in c["tasks"] for c in cards)]
    head = "| model | " + " | ".join(f"{_spec(t).title} {k}" for t, k in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for c in cards:
        label = c["model"] + ("" if c.get("pretrained") in (None, "default") else f" ({c['pretrained']})")
        lines.append(f"| {label} | " + " | ".join(_cell(t, k, c["tasks"].get(t, {}).get(k)) for t, k in cols) + " |")
    return "\n".join(lines) + "\n"


def write_report(run: Path, cards: list[dict]) -> None:
    """``report.md`` and ``report.png`` (grouped bars of each task's headline metric) for ``cards``."""
    import numpy as np
    from matplotlib.figure import Figure

    from videossl.utils import atomic_write, atomic_write_text

    md = format_markdown(cards)
    atomic_write_text(run / "report.md", md)
    tasks = [t for t in CHOICES if any(t in c["tasks"] for c in cards)]
    fig = Figure(figsize=(1.6 * max(1, len(tasks)) + 2, 3.5))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(cards))
    for i, c in enumerate(cards):
        vals = [100 * float(c["tasks"].get(t, {}).get(_spec(t).headline) or 0.0) for t in tasks]
        ax.bar(np.arange(len(tasks)) + i * width, vals, width, label=c["model"])
    ax.set_xticks(np.arange(len(tasks)) + width * (len(cards) - 1) / 2,
                  [f"{_spec(t).title}\n{_spec(t).headline}" for t in tasks], fontsize=8)
    ax.set_ylabel("%")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(run / "report.png", "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    print(md, end="")


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="run every tracking task and write one report card",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name from the registry (default {DEFAULT_MODEL})")
    p.add_argument("--pretrained", default="default", help="weights for --model, passed to create_model")
    p.add_argument("--data-root", default=None,
                   help=f"folder with {', '.join(t.dataset for t in TASKS.values())} (default: synthetic benchmark)")
    p.add_argument("--tasks", nargs="+", default=None, metavar="TASK",
                   help=f"subset of {', '.join(CHOICES)} (default: all; the protocols the model has)")
    p.add_argument("--out", default="runs/bench", help="run folder (default runs/bench)")
    p.add_argument("--compare", nargs="+", default=None, metavar="RUN", help="other bench runs to line up")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    from videossl.clitools import add_progress_arg

    add_progress_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videossl import dist as vdist

    parse_task_list(args.tasks, allowed=CHOICES)  # checked before any work
    others = [load_card(r) for r in args.compare or []]
    try:
        card = bench(args.model, args.pretrained, args.data_root, args.tasks, args.out, args.device,
                     progress=not args.no_progress)
    finally:
        vdist.cleanup()
    if others:
        write_report(Path(args.out), [card, *others])
    return 1 if card.get("failed_tasks") else 0
