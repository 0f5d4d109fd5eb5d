"""Real ImageNet backbones vs the same nets at random init vs copy-first, on real frames and on the synthetic benchmark.

One command makes the table of ``eval/results/backbones.md`` (section "Real pretrained backbones"):

    python eval/eval_real_backbones.py --realdata ../shared/realdata

Rows: ``mobilenetv2`` and ``efficientnet-lite0`` with their packaged ImageNet weights, the same architectures
at random init (``torch.manual_seed(0)``, saved once to ``CACHE/<model>-random-seed0.safetensors`` and passed as
a file), and the trivial baseline: copy-first for SOT/VOS/pose, motion only (``use_appearance=false``, no model)
for MOT/MOTS, which have no copy-first.
Columns: VOS on ``davis2016-train5``, SOT on ``otb-Crossing``, MOT on ``mot17-mini`` (real, from ``--realdata``),
and the five tasks of the synthetic benchmark (seed 0). Plus SOT on ``otb-Crossing`` with ``mobilenetv2`` at the
fast setting ``--opt crop_size=264`` against the default 520, with the speed ratio (same process).

Every cell is one :func:`unitrack.eval.evaluate_task` run in ``CACHE/<row>/real/`` or
``CACHE/<row>/synthetic/<task>/`` (resumable sequence by sequence, like ``unitrack eval``; the synthetic folders
are laid out as a ``unitrack bench`` run, so ``unitrack bench --model mobilenetv2 --out
CACHE/mobilenetv2-imagenet/synthetic`` fills that row): an interrupted run picks up where it stopped; ``--rows`` /
``--parts`` split the work over processes (one torch thread each). ``--only-finished`` runs no model: it scores
the finished cells, marks the others "not run" and writes the table.

Cost: the real VOS cells are ~262 frames at 854x480 (~1 s/frame of features for these nets on one free core)
and the SOT cells (real and synthetic) 4 search crops of 520 px per frame; everything else is seconds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Real pretrained backbones on real frames (issue 18)"

#: row -> (model, weights); weights "random" = the seed-0 init saved to a file; model "copy-first" = baseline
ROWS = {
    "mobilenetv2-imagenet": ("mobilenetv2", "imagenet"),
    "efficientnet-lite0-imagenet": ("efficientnet-lite0", "imagenet"),
    "mobilenetv2-random": ("mobilenetv2", "random"),
    "efficientnet-lite0-random": ("efficientnet-lite0", "random"),
    "copy-first": ("copy-first", None),
}
REAL = {"vos": "davis2016-train5", "sot": "otb-Crossing", "mot": "mot17-mini"}
SYNTH = ("vos", "sot", "mot", "mots", "pose")
# the columns of the table: (task, metric keys shown)
SHOWN = {"vos": ("J_mean", "F_mean", "JF_mean"), "sot": ("success_auc", "precision_20"),
         "mot": ("MOTA", "IDF1", "HOTA", "IDSW"), "mots": ("sMOTSA", "IDF1", "IDSW"), "pose": ("PCK@0.1", "PCK@0.2")}
FAST_SOT = {"crop_size": 264}


def real_roots(realdata: Path, cache: Path) -> dict[str, Path]:
    """The task ROOTs the readers want, as links into ``realdata`` (OTB wants a ROOT holding ``Crossing/``)."""
    links = cache / "realroots"
    (links / "otb").mkdir(parents=True, exist_ok=True)
    want = {links / "otb" / "Crossing": realdata / REAL["sot"], links / "davis": realdata / REAL["vos"],
            links / "mot17": realdata / REAL["mot"]}
    for link, target in want.items():
        if not target.is_dir():
            raise SystemExit(f"error: {target}: not found (--realdata must hold {', '.join(REAL.values())})")
        if not link.is_symlink():
            link.symlink_to(target.resolve(), target_is_directory=True)
    return {"sot": links / "otb", "vos": links / "davis", "mot": links / "mot17"}


def random_weights(model: str, cache: Path) -> str:
    path = cache / f"{model}-random-seed0.safetensors"
    if not path.exists():
        from videossl.models import create_model
        from videossl.utils import save_safetensors_atomic

        torch.manual_seed(0)
        save_safetensors_atomic(create_model(model, pretrained=None).state_dict(), path)
    return str(path)


def finished(row: str, kind: str, task: str, root, cache: Path, tag: str = "") -> tuple[list[str], int]:
    """The sequences of the cell that have their prediction (scoring them costs no model time), and how many it has."""
    from unitrack.tasks import get_task

    spec = get_task(task)
    task_dir = cache / row / (kind + tag) / task
    task_dir = task_dir / task if kind == "synthetic" else task_dir  # bench layout, see run_cell
    seqs = spec.sequences(root)
    return [s for s in seqs if spec.prediction_path(task_dir, s).exists()], len(seqs)


def run_cell(row: str, kind: str, task: str, root, cache: Path, extra: dict | None = None, tag: str = "",
             only_finished: bool = False) -> dict | None:
    """One (row, real|synthetic, task) run; returns the overall metrics plus the model+head seconds.

    ``only_finished``: no model runs; a cell with no finished sequence is None (the table says "not run"), one
    with some is scored on those (``"partial": (done, of)``)."""
    from unitrack.eval import evaluate_task

    sequences, partial = None, None
    if only_finished:
        sequences, total = finished(row, kind, task, root, cache, tag)
        if not sequences:
            return None
        partial = (len(sequences), total) if len(sequences) < total else None
    model, weights = ROWS[row]
    options = dict(extra or {})
    if model == "copy-first":
        if task in ("mot", "mots"):
            model, weights, options["use_appearance"] = "mobilenetv2", "random", False  # motion only: no model used
        else:
            model, weights, options["baseline"] = "mobilenetv2", "random", "copy-first"
    pretrained = random_weights(model, cache) if weights == "random" else weights
    out = cache / row / (kind + tag)
    if kind == "synthetic":
        # laid out as a bench run (RUN/<task>/): the imagenet rows' folder is `unitrack bench --model M --out
        # CACHE/M-imagenet/synthetic` (which runs the same cells: "default" weights are the packaged ImageNet ones)
        out = out / task
        pretrained = "default" if weights == "imagenet" else pretrained
    m = evaluate_task(task, data=root, model=model, out=out, device="cpu", options=options or None, progress=False,
                      pretrained=pretrained, sequences=sequences)
    timings = json.loads((out / f"{task}_timings.json").read_text())
    done = sequences or list(timings)
    return {**m["overall"], "seconds": sum(timings[s].get("seconds", 0.0) for s in done if s in timings),
            "frames": sum(timings[s].get("frames", 0) for s in done if s in timings), "partial": partial,
            "per_sequence": m.get("per_sequence", {})}


def cell(result: dict | None, task: str) -> str:
    if not result:
        return "not run"
    vals = [result.get(k) for k in SHOWN[task]]
    text = " / ".join("n/a" if v is None else (str(int(v)) if k == "IDSW" else f"{100 * v:.1f}")
                      for k, v in zip(SHOWN[task], vals))
    return text + (f" ({result['partial'][0]}/{result['partial'][1]} seq)" if result.get("partial") else "")


def write_section(path: Path, res: dict, fast: dict, argv, wall: float) -> str:
    from videossl.utils import atomic_write_text, machine_info

    head = ([f"real {t.upper()} {REAL[t]} {'/'.join(SHOWN[t])}" for t in REAL]
            + [f"synthetic {t.upper()} {'/'.join(SHOWN[t])}" for t in SYNTH])
    lines = [SECTION, "",
             f"Measured {_dt.date.today()} on {machine_info()}; `python eval/eval_real_backbones.py {' '.join(argv)}`"
             f" ({wall / 60:.1f} min of model + head time in all, summed over the cells). Real data: "
             f"`/work/shared/realdata` (not in the project); synthetic: the seed-0 benchmark. Percent; IDSW a count. "
             f"Baseline row: copy-first for VOS/SOT/pose, motion only (no appearance model) for MOT/MOTS.", "",
             "| row | " + " | ".join(head) + " |", "|" + "---|" * (len(head) + 1)]
    for row in ROWS:
        cells = [cell(res.get((row, "real", t)), t) for t in REAL] + [cell(res.get((row, "synthetic", t)), t)
                                                                     for t in SYNTH]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    seqs = sorted({q for r in ROWS for q in (res.get((r, "real", "vos")) or {}).get("per_sequence", {})})
    if seqs:  # partial rows are compared on the sequences they have
        lines += ["", "Real VOS J&F per sequence (davis2016-train5):", "",
                  "| row | " + " | ".join(seqs) + " |", "|" + "---|" * (len(seqs) + 1)]
        for row in ROWS:
            per = (res.get((row, "real", "vos")) or {}).get("per_sequence", {})
            lines.append(f"| {row} | " + " | ".join(f"{100 * per[q]['JF_mean']:.1f}" if q in per else "not run"
                                                     for q in seqs) + " |")
    if fast.get("default") and fast.get("fast"):
        d, f = fast["default"], fast["fast"]
        ratio = (d["seconds"] / d["frames"]) / (f["seconds"] / f["frames"])
        lines += ["", "SOT on otb-Crossing, `mobilenetv2` ImageNet, default crop vs the fast setting (same process):", "",
                  "| setting | success AUC | precision@20 | s/frame |", "|---|---|---|---|",
                  f"| crop_size=520 (default) | {100 * d['success_auc']:.1f} | {100 * d['precision_20']:.1f} | "
                  f"{d['seconds'] / d['frames']:.3f} |",
                  f"| `--opt crop_size=264` | {100 * f['success_auc']:.1f} | {100 * f['precision_20']:.1f} | "
                  f"{f['seconds'] / f['frames']:.3f} |", "",
                  f"Fast/default: AUC {100 * (f['success_auc'] - d['success_auc']):+.1f} points, "
                  f"{ratio:.1f}x faster per frame."]
    text = "\n".join(lines) + "\n"
    old = path.read_text() if path.exists() else ""
    before, _, after = old.partition(SECTION)
    keep = ""
    if "\n## Reading the real rows" in after:  # hand-written reading notes below the table survive a rerun
        keep = "\n## Reading the real rows" + after.split("\n## Reading the real rows", 1)[1]
    atomic_write_text(path, before.rstrip("\n") + "\n\n" + text + keep)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    ap.add_argument("--cache", default="runs/eval_real_backbones")
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--parts", nargs="+", default=["real", "synthetic", "fast"], choices=["real", "synthetic", "fast"])
    ap.add_argument("--synthetic-tasks", nargs="+", default=list(SYNTH), choices=list(SYNTH),
                    help="synthetic tasks to run (the table always has all five columns)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only-finished", action="store_true",
                    help="no model runs: score the cells whose runs have finished, the others 'not run', and write the table")
    ap.add_argument("--out", default=str(ROOT / "eval" / "results" / "backbones.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cache = Path(args.cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    roots = real_roots(Path(args.realdata), cache)
    from unitrack.data.synth import ensure_benchmark

    res, fast = {}, {}
    for part in args.parts:
        for row in args.rows:
            if part == "fast":
                continue
            tasks = REAL if part == "real" else SYNTH if args.only_finished else args.synthetic_tasks
            for task in tasks:
                root = roots[task] if part == "real" else ensure_benchmark(task, 0)
                t0 = time.time()
                res[(row, part, task)] = run_cell(row, part, task, root, cache, only_finished=args.only_finished)
                print(f"[{row} {part} {task}] {cell(res[(row, part, task)], task)} ({time.time() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
    if "fast" in args.parts:
        fast["default"] = run_cell("mobilenetv2-imagenet", "real", "sot", roots["sot"], cache,
                                   only_finished=args.only_finished)
        fast["fast"] = run_cell("mobilenetv2-imagenet", "real", "sot", roots["sot"], cache, FAST_SOT, tag="-crop264",
                                only_finished=args.only_finished)
    complete = set(args.rows) == set(ROWS) and set(args.parts) == {"real", "synthetic", "fast"}
    if complete:  # only a run over every cell writes the table
        wall = sum(r["seconds"] for r in res.values() if r) + (fast["fast"] or {}).get("seconds", 0.0)
        print(write_section(Path(args.out), res, fast, argv, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
