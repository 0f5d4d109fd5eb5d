"""The LSS claim in miniature: init (the LiT image model) vs trained (concept distillation on unlabelled videos).

Same data for every row:

- **actions**: zero-shot and linear-probe top-1 on the object-action set (``videossl.data.object_actions``, seed 0,
  ``--train-per-class`` / ``--test-per-class`` videos per class, 96 px, 16 frames; 8 classes, chance 12.5);
  concepts ``videossl/prompts/object_actions.json``; 8-frame clips (``bench_zeroshot.accuracy``); ``--clips blur``
  evaluates the slow-shutter set instead (``motion_blur=True``, the web-caption ablation; ``sharp``, the default,
  is the set of the first table);
- **VOS** J&F on the synthetic VOS benchmark (seed 0) and on the real ``--real`` set (DAVIS-2016 train5, all
  frames, 854x480, or ``--real-sequences``), ``unitrack eval --task vos`` at its defaults;
- **MOT** IDSW / IDF1 of the appearance + motion head on the 12 synthetic MOT sequences of seeds 0-5, against
  motion only (``compare_mot.quality``);
- **dense check**: the largest difference between this row's ``encode_frames`` and the first row's on the real
  frames (exactly 0 while the trunk is frozen; not with a trainable stage, ``--model-arg trainable_stages=1``).

``NAME=WEIGHTS`` per row (a ``mobilenetv2-lit`` tag such as ``image`` / ``video``, or a file); ``NAME=WEIGHTS@notemporal``
evaluates that file with the temporal branch zeroed (the ablation: what the head alone learnt). Rows are cached as
JSON in ``--cache``; ``--parts`` picks the measurements (a cached row keeps what it has):

    PYTHONPATH=$PWD python eval/lss_miniature.py init=image trained=video --out eval/results/lss-miniature.md
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
MODEL = "mobilenetv2-lit"
CONCEPTS = ROOT / "videossl" / "prompts" / "object_actions.json"
PARTS = ("actions", "vos", "mot", "real")


def load(weights: str):
    from videossl.models import create_model

    path, _, flag = weights.partition("@")
    model = create_model(MODEL, pretrained=path).eval()
    if flag == "notemporal":
        with torch.no_grad():
            model.temporal.up.weight.zero_()
            model.temporal.up.bias.zero_()
    return model


def weights_file(weights: str, cache: Path, model) -> str:
    """A file ``unitrack eval`` can load for this row (the ablation's zeroed branch saved once)."""
    if "@" not in weights:
        return weights
    from videossl.utils import save_safetensors_atomic

    source = Path(weights.partition("@")[0])
    # the stem alone collides: every run's export is called model.safetensors
    tag = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:8]
    path = cache / f"{source.stem}-{tag}-notemporal.safetensors"
    if not path.exists():
        # the whole state of the row's loaded model: a trained trunk stage (trainable_stages) is kept
        save_safetensors_atomic(model.state_dict(), path)
    return str(path)


def action_scores(model, cache: Path, train_per_class: int, test_per_class: int, clips: str = "sharp") -> dict:
    """``bench_zeroshot.accuracy``'s figures (zero-shot and linear probe on the same embeddings), plus the
    zero-shot top-1 of each class (which pairs the image model confuses)."""
    from videossl.actions import ucf101_splits
    from videossl.actions.evaluate import topk_hits
    from videossl.data.object_actions import generate_object_actions
    from videossl.linear_probe import evaluate_probe, fit_linear_probe
    from videossl.metrics.disentanglement import collapse_report
    from videossl.zeroshot import ZeroShotClassifier

    kind = "" if clips == "sharp" else "blur_"  # the sharp set keeps its old cache folder
    root = cache / f"object_actions_{kind}s0_{train_per_class}_{test_per_class}"
    if not (root / "ucfTrainTestlist" / "testlist01.txt").exists():
        generate_object_actions(root, train_per_class, test_per_class, size=96, seed=0, motion_blur=clips == "blur")
    split = ucf101_splits(root, (1,))[0]
    clf = ZeroShotClassifier(model, str(CONCEPTS), clip_len=8, batch_size=16)
    _, train_emb, f1 = clf.embed_videos([p for p, _ in split.train])
    _, test_emb, f2 = clf.embed_videos([p for p, _ in split.test])
    assert not f1 and not f2, f1 + f2
    y_test = torch.tensor([y for _, y in split.test])
    logits = clf.scores(test_emb).cpu()
    hits = topk_hits(logits, y_test, 1).float()
    confusion = torch.zeros(len(clf.class_names), len(clf.class_names), dtype=torch.long)
    confusion.index_put_((y_test, logits.argmax(1)), torch.ones(len(y_test), dtype=torch.long), accumulate=True)
    probe = fit_linear_probe(train_emb.cpu(), [str(y) for _, y in split.train])
    return {"zs_top1": float(hits.mean()),
            "zs_per_class": {c: float(hits[y_test == i].mean()) for i, c in enumerate(clf.class_names)},
            "zs_confusion": confusion.tolist(),  # [true class, predicted class] counts
            "lp_top1": evaluate_probe(probe, test_emb.cpu(), [str(y) for _, y in split.test])["top1"],
            "effective_rank": collapse_report(test_emb.float().cpu().numpy())["effective_rank"],
            "train": len(split.train), "test": len(split.test), "clips": clips}


def vos_jf(weights: str, data, sequences=None) -> dict:
    from unitrack.eval import evaluate_task

    t0 = time.time()
    m = evaluate_task("vos", data=data, model=MODEL, pretrained=weights, device="cpu", progress=False,
                      sequences=sequences, out=tempfile.mkdtemp(prefix="lss_miniature-vos-"))
    o = m["overall"]
    return {"J": 100 * o["J_mean"], "F": 100 * o["F_mean"], "JF": 100 * o["JF_mean"], "seconds": round(time.time() - t0)}


def mot_scores(weights: str) -> dict:
    from compare_mot import quality

    _, res = quality(MODEL, "cpu", seeds=range(6), pretrained=weights)
    a, b = (res[k]["overall"] for k in ("(a) ours, appearance + motion", "(b) ours, motion only"))
    return {"IDSW": a["IDSW"], "IDF1": 100 * a["IDF1"], "motion_only_IDSW": b["IDSW"]}


def dense_difference(model, ref, real: Path, frames: int = 3) -> float:
    """max |encode_frames(model) - encode_frames(ref)| on the first frames of the first real sequence."""
    from videossl.io import open_video
    from videossl.io.transforms import to_tensor_normalized

    seq = sorted((real / "JPEGImages" / "480p").iterdir())[0]
    x = to_tensor_normalized(open_video(seq).get_batch(list(range(frames))), model.mean, model.std)
    with torch.no_grad():
        return float((model.encode_frames(x) - ref.encode_frames(x)).abs().max())


def write_markdown(path: Path, rows: dict, args, argv) -> None:
    from videossl.utils import atomic_write_text, machine_info

    head = ["row (weights)", "zero-shot top-1", "linear-probe top-1", "VOS J&F synthetic (seed 0)",
            "MOT IDSW (motion only) / IDF1", "VOS J / F / **J&F** real (davis2016-train5)", "max Δ dense vs first row"]
    first = next(iter(rows.values()))

    def f(r, k, fmt):
        if k in r:
            return fmt(r[k])
        if k in ("vos", "mot", "real") and k in first and r.get("dense_diff") == 0.0:
            return f"= first row ({fmt(first[k])}): identical dense maps, not re-run"  # the heads are deterministic
        return "not run"

    lines = [f"<!-- written by eval/lss_miniature.py; measured {_dt.date.today()} on {machine_info()} -->", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in rows.items():
        lines.append("| " + " | ".join([
            f"{name} (`{r['weights']}`)",
            f(r, "actions", lambda a: f"{100 * a['zs_top1']:.1f}"),
            f(r, "actions", lambda a: f"{100 * a['lp_top1']:.1f}"),
            f(r, "vos", lambda v: f"{v['JF']:.1f}"),
            f(r, "mot", lambda m: f"{m['IDSW']} ({m['motion_only_IDSW']}) / {m['IDF1']:.1f}"),
            f(r, "real", lambda v: f"{v['J']:.1f} / {v['F']:.1f} / **{v['JF']:.1f}**"),
            f(r, "dense_diff", lambda d: f"{d:.1e}" if d else "0 (identical)"),
        ]) + " |")
    a = next((r["actions"] for r in rows.values() if "actions" in r), None)
    if a:
        clips = " of the slow-shutter (motion-blur) set" if a.get("clips") == "blur" else ""
        lines += ["", f"Actions: 8 classes, {a['train']} train / {a['test']} test videos{clips} (chance 12.5).", ""]
    conf = {n: r["actions"]["zs_confusion"] for n, r in rows.items() if "zs_confusion" in r.get("actions", {})}
    if conf:
        from videossl.data.object_actions import ACTIONS

        lines += ["Zero-shot confusion (rows: true class, columns: predicted; counts of test clips), classes in order "
                  + ", ".join(f"{i + 1} {a}" for i, a in enumerate(ACTIONS)) + ":", "",
                  "| true class | " + " | ".join(f"{n}: predicted 1-8" for n in conf) + " |", "|---|" + "---|" * len(conf)]
        for i, a in enumerate(ACTIONS):
            lines.append(f"| {i + 1} {a} | " + " | ".join(" ".join(str(c) for c in m[i]) for m in conf.values()) + " |")
        lines.append("")
    lines += [f"Command: `PYTHONPATH=$PWD python eval/lss_miniature.py {' '.join(argv)}`", ""]
    kept = ""  # the hand-written part of the page (everything from "## Reading the numbers") survives a rerun
    if path.exists() and "## Reading the numbers" in path.read_text():
        kept = "## Reading the numbers" + path.read_text().split("## Reading the numbers", 1)[1]
    title = "# The LSS claim in miniature: `mobilenetv2-lit` before and after concept distillation"
    atomic_write_text(path, "\n".join([title, ""] + lines) + ("\n" + kept if kept else ""))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rows", nargs="+", metavar="NAME=WEIGHTS")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--train-per-class", type=int, default=12)
    ap.add_argument("--test-per-class", type=int, default=8)
    ap.add_argument("--real", default=str(ROOT.parent / "shared" / "realdata" / "davis2016-train5"))
    ap.add_argument("--real-sequences", nargs="*", default=None)
    ap.add_argument("--clips", choices=("sharp", "blur"), default="sharp",
                    help="object-action clips: sharp (the first table's set) or blur (slow shutter, p=0.75)")
    ap.add_argument("--cache", default="runs/lss_miniature")
    ap.add_argument("--out", default=str(ROOT / "eval" / "results" / "lss-miniature.md"))
    return ap


def main(argv: list[str] | None = None) -> int:
    from videossl.utils import atomic_write_json

    argv = sys.argv[1:] if argv is None else argv
    ap = build_parser()
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    parts = [p for p in args.parts.split(",") if p]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows, ref = {}, None
    for spec in args.rows:
        name, sep, weights = spec.partition("=")
        if not sep:
            ap.error(f"{spec!r}: expected NAME=WEIGHTS")
        file = cache / f"{name}.json"
        row = json.loads(file.read_text()) if file.exists() else {}
        if row.get("weights") != weights or row.get("clips", "sharp") != args.clips:
            row = {"weights": weights, **({"clips": args.clips} if args.clips != "sharp" else {})}
        model = load(weights)
        ref = ref or model
        wfile = weights_file(weights, cache, model)
        todo = {"actions": lambda: action_scores(model, cache, args.train_per_class, args.test_per_class, args.clips),
                "vos": lambda: vos_jf(wfile, None),
                "mot": lambda: mot_scores(wfile),
                "real": lambda: vos_jf(wfile, args.real, args.real_sequences)}
        for part in parts:
            if part not in row:
                print(f"{name}: {part}", file=sys.stderr)
                row[part] = todo[part]()
                atomic_write_json(file, row)
        if "real" in parts or "dense_diff" not in row:
            if Path(args.real).is_dir():
                row["dense_diff"] = dense_difference(model, ref, Path(args.real))
                atomic_write_json(file, row)
        rows[name] = row
    write_markdown(Path(args.out), rows, args, argv)
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
