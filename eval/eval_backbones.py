"""Checkpoints of one model side by side: what their clip embeddings and their dense features are good for.

For each ``NAME=WEIGHTS`` (a checkpoint file, or ``random``: the model's random init under seed 0):

- **actions**: linear-probe and zero-shot top-1 on the synthetic action set (``bench_zeroshot.accuracy``;
  seed 0, 12 train / 6 test videos per class), and the effective rank of the test embeddings;
- **VOS / pose**: ``unitrack eval --task vos|pose`` J&F and PCK@0.1/0.2 on the synthetic benchmark of
  each ``--seeds`` value (seed 0 is the default benchmark; another seed is a held-out draw);
- **MOT**: IDSW / IDF1 / HOTA of the appearance head on the 12 pooled synthetic MOT sequences
  (``compare_mot.quality``, seeds 0-5), against motion only (which uses no model).

One row per checkpoint is cached as JSON in ``--cache`` (a rerun only computes missing rows), then
the table is written to ``--out``:

    python eval/eval_backbones.py --model videossl-tiny random=random shipped=default \\
        run800=/tmp/run/model.safetensors --out eval/results/backbones.md
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]


def action_scores(model, cache: Path) -> dict:
    from bench_zeroshot import accuracy
    from videossl.data.actions import generate_actions

    root = cache / "actions_seed0"
    if not (root / "ucfTrainTestlist" / "testlist01.txt").exists():
        generate_actions(root, 12, 6, seed=0)
    return accuracy(model, root, str(ROOT / "prompts" / "synthetic_actions.json"), clip_len=8, batch=16)


def tracking_scores(model_name: str, weights: str, seeds, device: str) -> dict:
    from unitrack.data.synth import ensure_benchmark
    from unitrack.eval import evaluate_task

    out = {}
    for seed in seeds:
        for task in ("vos", "pose"):
            data = ensure_benchmark(task, seed)
            m = evaluate_task(task, data=data, model=model_name, pretrained=weights, device=device, progress=False,
                              out=tempfile.mkdtemp(prefix=f"eval_backbones-{task}-"))
            overall = m["overall"]
            out[f"{task}_seed{seed}"] = ([100 * overall["JF_mean"]] if task == "vos"
                                        else [100 * overall["PCK@0.1"], 100 * overall["PCK@0.2"]])
    return out


def mot_scores(model_name: str, weights: str, device: str) -> dict:
    from compare_mot import quality

    _, res = quality(model_name, device, seeds=range(6), pretrained=weights)
    a, b = (res[k]["overall"] for k in ("(a) ours, appearance + motion", "(b) ours, motion only"))
    return {"mot": {k: a[k] for k in ("IDSW", "IDF1", "HOTA")}, "mot_motion_only_idsw": b["IDSW"]}


def evaluate_checkpoint(model_name: str, weights: str, seeds, cache: Path, device: str) -> dict:
    from videossl.models import create_model

    torch.manual_seed(0)  # "random" is then the same init in every process
    pretrained = weights
    if weights == "random":
        path = cache / f"{model_name}-random-seed0.safetensors"
        if not path.exists():
            from videossl.utils import save_safetensors_atomic

            save_safetensors_atomic(create_model(model_name, pretrained=None).state_dict(), path)
        pretrained = str(path)
    model = create_model(model_name, pretrained=pretrained, device=device).eval()
    row = {"weights": weights, "actions": action_scores(model, cache)}
    row.update(tracking_scores(model_name, pretrained, seeds, device))
    row.update(mot_scores(model_name, pretrained, device))
    return row


def write_markdown(path: Path, model_name: str, rows: dict, seeds, argv: list[str]) -> None:
    from videossl.utils import atomic_write_text, machine_info

    head = ["checkpoint", "action LP top-1", "zero-shot top-1", "eff. rank"]
    for s in seeds:
        head += [f"VOS J&F (seed {s})", f"pose PCK@0.1/0.2 (seed {s})"]
    head += ["MOT IDSW (motion only)", "MOT IDF1", "MOT HOTA"]
    lines = [f"# `{model_name}` checkpoints: clip embeddings and dense features", "",
             f"Measured {_dt.date.today()} on {machine_info()}; `python eval/eval_backbones.py {' '.join(argv)}`.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in rows.items():
        a = r["actions"]
        cells = [f"{name} (`{r['weights']}`)", f"{100 * a['lp_top1']:.1f}", f"{100 * a['zs_top1']:.1f}",
                 f"{a['effective_rank']:.1f}"]
        for s in seeds:
            pck = r[f"pose_seed{s}"]
            cells += [f"{r[f'vos_seed{s}'][0]:.1f}", f"{pck[0]:.1f} / {pck[1]:.1f}"]
        cells += [f"{r['mot']['IDSW']} ({r['mot_motion_only_idsw']})", f"{100 * r['mot']['IDF1']:.1f}",
                  f"{100 * r['mot']['HOTA']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Action set: 7 classes, {a['train']} train / {a['test']} test videos (chance 14.3).",
              "MOT: the 12 synthetic sequences of seeds 0-5 pooled, public detections, appearance + motion head.", ""]
    kept = ""
    if path.exists() and "## Reading the numbers" in path.read_text():
        kept = "## Reading the numbers" + path.read_text().split("## Reading the numbers", 1)[1]
    atomic_write_text(path, "\n".join(lines) + ("\n" + kept if kept else ""))


def main(argv: list[str] | None = None) -> int:
    from videossl.utils import atomic_write_json, resolve_device

    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="+", metavar="NAME=WEIGHTS")
    ap.add_argument("--model", default="videossl-tiny")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 7], help="synthetic VOS/pose benchmark seeds")
    ap.add_argument("--cache", default="runs/eval_backbones", help="per-checkpoint results (JSON) and the action set")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(ROOT / "eval" / "results" / "backbones.md"))
    args = ap.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    rows = {}
    for spec in args.checkpoints:
        name, sep, weights = spec.partition("=")
        if not sep:
            ap.error(f"{spec!r}: expected NAME=WEIGHTS")
        cached = cache / f"{name}.json"
        if cached.exists() and json.loads(cached.read_text()).get("weights") == weights:
            rows[name] = json.loads(cached.read_text())
            continue
        print(f"{name}: {weights}", file=sys.stderr)
        rows[name] = evaluate_checkpoint(args.model, weights, args.seeds, cache, device)
        atomic_write_json(cached, rows[name])
    write_markdown(Path(args.out), args.model, rows, args.seeds, argv)
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
