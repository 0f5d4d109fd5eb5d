"""Multi-person pose tracking on the synthetic PoseTrack benchmark: appearance vs motion only.

Every configuration runs ``unitrack eval --task posetrack`` (the same function, ``unitrack.eval.evaluate_task``)
on the synthetic PoseTrack 2018 benchmark of each seed (3 sequences x 40 frames of 480 x 270 each: four people
entering, crossing and occluding one another, a pair dressed alike, a panning camera), tracking the ground
truth's keypoints with the identities removed (oracle poses, so the figures measure association alone), and
scores it with ``unitrack.metrics.posetrack`` (poseval's MOTA / MOTP / precision / recall averaged over the 15
joints, IDSW summed over them, joint IDF1; person-box IDF1 / HOTA from TrackEval):

(a) the default head (``mobilenetv2`` ImageNet, box-pooled appearance + Kalman motion);
(b) the same tracker with the appearance off (``use_appearance=false``): the motion-only baseline;
(c) ``preset=unitrack``: UniTrack's PoseTrack settings (skeleton-mask cells, new tracks confirmed at once, ...);
(d) (c) with the appearance off;
(e) the default head on ``tiny-resnet`` with random weights (contrast: features that mean nothing).

    python eval/posetrack.py [--seeds 0] [--out eval/results/posetrack.md] [--skip-tiny]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import tempfile
from pathlib import Path

import torch

CONFIGS = [  # label, model, pretrained, options
    ("(a) mobilenetv2 (ImageNet), appearance + motion", "mobilenetv2", "imagenet", {}),
    ("(b) motion only (same tracker, appearance off)", "mobilenetv2", "imagenet", {"use_appearance": False}),
    ("(c) mobilenetv2 (ImageNet), preset=unitrack", "mobilenetv2", "imagenet", {"preset": "unitrack"}),
    ("(d) preset=unitrack, appearance off", "mobilenetv2", "imagenet", {"preset": "unitrack", "use_appearance": False}),
    ("(e) tiny-resnet (random weights), appearance + motion", "tiny-resnet", "random", {}),
]
KEYS = ("MOTA", "MOTP", "Precision", "Recall", "IDF1", "IDSW", "mAP", "IDF1_person", "HOTA_person")


def merged_root(seeds: list[int], dest: Path) -> Path:
    """One PoseTrack ROOT holding the synthetic sequences of every seed (symlinks, names prefixed by seed)."""
    from unitrack.data.synth import ensure_benchmark

    if len(seeds) == 1:
        return ensure_benchmark("posetrack", seed=seeds[0])
    import json

    ann = dest / "annotations" / "val"
    ann.mkdir(parents=True)
    for s in seeds:
        root = ensure_benchmark("posetrack", seed=s)
        (dest / f"s{s}").symlink_to(root / "images")
        for f in sorted((root / "annotations" / "val").glob("*.json")):
            d = json.loads(f.read_text())
            for im in d["images"]:
                im["file_name"] = f"s{s}/" + im["file_name"][len("images/"):]
            (ann / f"S{s}-{f.name}").write_text(json.dumps(d))
    return dest


def run(seeds: list[int], out_md: Path, skip_tiny: bool) -> None:
    from unitrack.eval import evaluate_task
    from videossl.utils import machine_info

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="posetrack-eval-"))
    root = merged_root(seeds, tmp / "data")
    rows = []
    for label, model, pretrained, options in CONFIGS:
        if skip_tiny and model == "tiny-resnet":
            continue
        print(f"== {label}", file=sys.stderr, flush=True)
        m = evaluate_task("posetrack", root, model, tmp / f"run{len(rows)}", "cpu", options=options, progress=False,
                          pretrained=pretrained)
        rows.append((label, m))
    date = _dt.date.today().isoformat()
    n_seq = len(rows[0][1]["per_sequence"])
    frames = sum(v["frames"] for v in rows[0][1]["per_sequence"].values())
    lines = [
        "# Pose tracking (PoseTrack layout): appearance vs motion only, synthetic multi-person benchmark",
        "",
        f"Measured {date} on {machine_info()}, device cpu; "
        f"`python eval/posetrack.py --seeds {' '.join(map(str, seeds))}`"
        + (" --skip-tiny" if skip_tiny else "") + ".",
        "",
        f"Data: the synthetic PoseTrack 2018 benchmark, seed(s) {', '.join(map(str, seeds))}: {n_seq} sequences, "
        f"{frames} frames of 480 x 270, four people each (entering, crossing, occluding one another, a pair dressed "
        "alike, panning camera). Poses tracked: the ground truth's keypoints with the identities removed and the "
        "order shuffled per frame (oracle poses), so MOTP / precision / mAP are near 100 by construction and the "
        "figures that tell the trackers apart are IDSW, IDF1 (poseval's, per joint) and the person-box IDF1 / HOTA; "
        "recall drops where a new person's first frame is held back (a tentative track). "
        "Metrics: `unitrack.metrics.posetrack` (poseval's definitions, MOTA / MOTP / precision / recall / IDF1 "
        "averaged over the 15 joints, IDSW summed over them). fps: frames per second of the whole head "
        "(decode, features, pooling, association) in this process.",
        "",
        "| configuration | " + " | ".join(KEYS) + " | fps |",
        "|---|" + "---|" * (len(KEYS) + 1),
    ]
    for label, m in rows:
        o = m["overall"]
        cells = [str(o[k]) if k == "IDSW" else ("n/a" if o.get(k) is None else f"{100 * o[k]:.1f}") for k in KEYS]
        fps = m.get("fps")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {'n/a' if fps is None else f'{fps:.2f}'} |")
    lines += ["", "Per sequence, IDSW (summed over joints) / person IDF1:", ""]
    seqs = list(rows[0][1]["per_sequence"])
    lines.append("| sequence | " + " | ".join(label.split(")")[0] + ")" for label, _ in rows) + " |")
    lines.append("|---|" + "---|" * len(rows))
    for s in seqs:
        cells = [f"{m['per_sequence'][s]['IDSW']} / {100 * m['per_sequence'][s]['IDF1_person']:.1f}" for _, m in rows]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    commands = {label: "unitrack eval --task posetrack --model {} --pretrained {} --device cpu{}".format(
        model, pretrained, "".join(f" --opt {k}={str(v).lower()}" for k, v in options.items()))
        for label, model, pretrained, options in CONFIGS}
    lines += ["", "Each row is one `unitrack eval` per seed (seed 0 is the default `--data`; seed S: "
                  "`unitrack data synth --seed S --tasks posetrack --out DIR` and `--data DIR/posetrack18`):", ""]
    lines += [f"- {label.split(')')[0]}): `{commands[label]}`" for label, _ in rows]
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--out", default="eval/results/posetrack.md")
    p.add_argument("--skip-tiny", action="store_true")
    a = p.parse_args()
    run(a.seeds, Path(a.out), a.skip_tiny)
    return 0


if __name__ == "__main__":
    sys.exit(main())
