"""Time the tracking metrics on a MOT17-sized sequence and a DAVIS-sized VOS set; write eval/results/metrics.md.

MOT: one synthetic sequence of 1,050 frames with ~30 pedestrians per frame (boxes drifting, tracks
entering/leaving), ground truth in the MOT17 format with distractor and conf-0 rows, predictions
= ground truth with jitter, 5 % misses, 3 false positives per frame and occasional identity swaps.
Timed: our ``unitrack.metrics.mot`` (preprocessing + motmetrics CLEAR/identity + TrackEval HOTA), and
as the reference in the same process TrackEval's own CLEAR + Identity + HOTA on the same
preprocessed frames (the MOTChallenge server's evaluator), plus reading the files through the CLI path.

VOS: ``--vos-seqs`` sequences x ``--vos-frames`` frames at 480x854 with 2 objects (moving ellipses,
predictions = shifted / eroded ground truth). Timed: ``unitrack.metrics.vos.sequence_scores``; the
reference is a transcription of davis2017-evaluation's per-object loop (``db_eval_iou`` /
``db_eval_boundary`` arithmetic on full frames). The DAVIS-2017 val figure (1,999 frames, 61 objects
over 30 sequences, i.e. roughly 4,000 scored object-frames) is extrapolated from the measured per
object-frame time and labelled as such.

Usage: ``python eval/bench_metrics.py [--vos-seqs 3 --vos-frames 40] [--out eval/results/metrics.md]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from unitrack.metrics import mot, vos

DAVIS_VAL_OBJECT_FRAMES = 4000  # approx.: ~61 objects x ~65 scored frames (1,999 frames in 30 val videos)


def make_mot(frames=1050, per_frame=30, seed=0):
    rng = np.random.default_rng(seed)
    gt, pred = [], []
    n_tracks = per_frame * 3
    start = rng.integers(1, frames - 100, n_tracks)
    length = rng.integers(100, 700, n_tracks)
    pos = rng.uniform([0, 100], [1800, 900], (n_tracks, 2))
    vel = rng.normal(0, 1.5, (n_tracks, 2))
    swap_at = {int(f) for f in rng.integers(1, frames, 40)}
    next_id = 10_000
    for f in range(1, frames + 1):
        alive = np.flatnonzero((start <= f) & (f < start + length))
        perm = {}
        if f in swap_at and len(alive) > 1:
            a, b = rng.choice(alive, 2, replace=False)
            perm = {a: b, b: a}
        for k in alive:
            x, y = pos[k] + vel[k] * (f - start[k])
            cls = 1 if k % 20 else 7  # a few static-person distractors
            conf = 0 if k % 37 == 0 else 1
            gt.append([f, k + 1, x, y, 50, 120, conf, cls, 1.0])
            if rng.random() < 0.95:
                j = perm.get(k, k)
                pred.append([f, j + 1, x + rng.normal(0, 3), y + rng.normal(0, 3), 50, 120, 1, -1, -1, -1])
        for _ in range(3):
            next_id += 1
            pred.append([f, next_id, *rng.uniform([0, 100], [1800, 900]), 50, 120, 1, -1, -1, -1])
    return np.array(gt), np.array(pred)


def trackeval_reference(frames):
    from trackeval.metrics import CLEAR, HOTA, Identity

    gids, n_gt = mot._relabel([f[0] for f in frames])
    pids, n_pr = mot._relabel([f[1] for f in frames])
    data = {"num_timesteps": len(frames), "num_gt_ids": n_gt, "num_tracker_ids": n_pr,
            "num_gt_dets": sum(map(len, gids)), "num_tracker_dets": sum(map(len, pids)),
            "gt_ids": gids, "tracker_ids": pids, "similarity_scores": [f[2] for f in frames]}
    cfg = {"PRINT_CONFIG": False}
    return CLEAR(cfg).eval_sequence(data), Identity(cfg).eval_sequence(data), HOTA(cfg).eval_sequence(data)


def timed(fn, *args, repeat=1):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_mot():
    gt, pred = make_mot()
    import motmetrics  # noqa: F401  (imports are not timed)
    import trackeval  # noqa: F401

    t_pre, frames = timed(mot.preprocess, gt, pred, 1050, repeat=3)
    t_clr, counts = timed(mot.clear_identity_counts, frames, repeat=3)
    t_hota, _ = timed(mot.hota_sequence, frames, repeat=3)
    t_all, (figs, _, _) = timed(mot.mot_sequence, gt, pred, 1050, repeat=3)
    t_ref, (clear, ident, hota) = timed(trackeval_reference, frames, repeat=3)
    assert (figs["FP"], figs["FN"], figs["IDSW"]) == (clear["CLR_FP"], clear["CLR_FN"], clear["IDSW"])
    assert abs(figs["MOTA"] - clear["MOTA"]) < 1e-12 and abs(figs["IDF1"] - ident["IDF1"]) < 1e-12
    # through the files, as `unitrack metrics` reads them
    from unitrack.data import writers

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        s = d / "gt" / "train" / "MOT17-SYN"
        (s / "gt").mkdir(parents=True)
        (s / "seqinfo.ini").write_text("[Sequence]\nname=MOT17-SYN\nimDir=img1\nframeRate=30\nseqLength=1050\n"
                                       "imWidth=1920\nimHeight=1080\nimExt=.jpg\n")
        g = gt.copy()
        writers.write_mot(s / "gt" / "gt.txt", g[:, 0] - 1, g[:, 1], g[:, 2:6] - [1, 1, 0, 0], g[:, 6], g[:, 7], g[:, 8])
        writers.write_mot(d / "mot" / "MOT17-SYN.txt", pred[:, 0] - 1, pred[:, 1], pred[:, 2:6] - [1, 1, 0, 0])
        t_disk, res = timed(mot.evaluate, d / "gt", d / "mot", repeat=2)
    return {"gt_boxes": len(gt), "pred_boxes": len(pred), "pre": t_pre, "clear": t_clr, "hota": t_hota,
            "total": t_all, "ref": t_ref, "disk": t_disk, "figs": figs, "disk_figs": res["overall"]}


def make_vos(n_seq, n_frames, seed=0, shape=(480, 854)):
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_seq):
        gt = np.zeros((n_frames, *shape), np.uint8)
        pred = np.zeros_like(gt)
        c = rng.uniform([100, 150], [380, 700], (2, 2))
        v = rng.normal(0, 2, (2, 2))
        for t in range(n_frames):
            for k in range(2):
                cy, cx = c[k] + v[k] * t
                axes = (int(60 + 20 * k), int(40 + 10 * k))
                cv2.ellipse(gt[t], (int(cx), int(cy)), axes, 15 * k, 0, 360, k + 1, -1)
                cv2.ellipse(pred[t], (int(cx) + 4, int(cy) + 2), (axes[0] - 3, axes[1]), 15 * k, 0, 360, k + 1, -1)
        seqs.append((gt, pred))
    return seqs


def davis_reference(gt, pred):
    """davis2017-evaluation's arithmetic, transcribed: full-frame products, dilation always."""
    n_obj = int(gt[0].max())
    out = []
    bound = vos.bound_pixels(gt.shape[1:])
    se = vos.disk(bound)
    for k in range(1, n_obj + 1):
        for t in range(1, len(gt) - 1):
            a, s = (gt[t] == k), (pred[t] == k)
            inters = np.sum(s & a)
            union = np.sum(s | a)
            j = 1.0 if np.isclose(union, 0) else inters / union
            fg_b, gt_b = vos.seg2bmap(s), vos.seg2bmap(a)
            fg_dil = cv2.dilate(fg_b.astype(np.uint8), se)
            gt_dil = cv2.dilate(gt_b.astype(np.uint8), se)
            n_fg, n_gt = np.sum(fg_b), np.sum(gt_b)
            p = np.sum(fg_b * gt_dil) / float(n_fg)
            r = np.sum(gt_b * fg_dil) / float(n_gt)
            out.append((j, 2 * p * r / (p + r)))
    return np.array(out)


def bench_vos(n_seq, n_frames):
    seqs = make_vos(n_seq, n_frames)
    obj_frames = sum(int(g[0].max()) * (len(g) - 2) for g, _ in seqs)
    t_ours = t_ref = 0.0
    for g, p in seqs:
        dt_o, (J, F) = timed(vos.sequence_scores, g, p, repeat=2)
        dt_r, ref = timed(davis_reference, g, p, repeat=2)
        assert np.allclose(np.stack([J.reshape(-1), F.reshape(-1)], 1), ref)
        t_ours += dt_o
        t_ref += dt_r
    res = vos.evaluate_arrays({str(i): g for i, (g, _) in enumerate(seqs)}, {str(i): p for i, (_, p) in enumerate(seqs)})
    return {"obj_frames": obj_frames, "ours": t_ours, "ref": t_ref, "overall": res["overall"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vos-seqs", type=int, default=3)
    ap.add_argument("--vos-frames", type=int, default=40)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "metrics.md"))
    args = ap.parse_args()
    from videossl.utils import machine_info

    m = bench_mot()
    v = bench_vos(args.vos_seqs, args.vos_frames)
    per = v["ours"] / v["obj_frames"]
    lines = [
        "# Metric evaluation speed",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on: {machine_info()} "
        "(shared with other jobs; single process; best of 2-3 runs per step, imports excluded). Produced by `python eval/bench_metrics.py`.",
        "",
        "## MOT17-sized sequence (1,050 frames, ~30 pedestrians per frame)",
        "",
        f"{m['gt_boxes']:,} ground-truth boxes (incl. static-person distractors and conf-0 rows), "
        f"{m['pred_boxes']:,} predicted boxes.",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| MOTChallenge preprocessing (IoU matrices, distractor removal) | {m['pre']:.2f} |",
        f"| motmetrics CLEAR + identity counts | {m['clear']:.2f} |",
        f"| TrackEval HOTA | {m['hota']:.2f} |",
        f"| **`mot.mot_sequence` total** | **{m['total']:.2f}** |",
        f"| reference: TrackEval CLEAR + Identity + HOTA on the same frames | {m['ref']:.2f} |",
        f"| `mot.evaluate` from files (read gt.txt + predictions, then all of the above) | {m['disk']:.2f} |",
        "",
        f"Ours / reference: {m['total'] / m['ref']:.2f}x the time of TrackEval alone (motmetrics' pandas "
        "event log is the extra cost). FP, FN, IDSW, MOTA and IDF1 equal TrackEval's CLEAR/Identity "
        "on this sequence (asserted). Figures: "
        + ", ".join(f"{k} {100 * x:.1f}" if k not in ('IDSW', 'FP', 'FN') else f"{k} {x}" for k, x in m["figs"].items())
        + ".",
        "",
        f"## DAVIS-sized VOS ({args.vos_seqs} sequences x {args.vos_frames} frames at 480x854, 2 objects)",
        "",
        "| | seconds | per scored object-frame (ms) |",
        "|---|---|---|",
        f"| `vos.sequence_scores` (J + F) | {v['ours']:.2f} | {1000 * per:.1f} |",
        f"| reference: davis2017-evaluation arithmetic, transcribed | {v['ref']:.2f} | {1000 * v['ref'] / v['obj_frames']:.1f} |",
        "",
        f"{v['obj_frames']} scored object-frames; ours / reference time {v['ours'] / v['ref']:.2f}x, identical J and F "
        f"(asserted). Extrapolated to DAVIS-2017 val (~{DAVIS_VAL_OBJECT_FRAMES:,} scored object-frames, "
        f"excluding PNG decoding): ~{per * DAVIS_VAL_OBJECT_FRAMES:.0f} s (extrapolated, not measured).",
        "",
        "Either figure is small next to producing the predictions (UniTrack's authors report ~2 fps for "
        "VOS and ~10 fps for MOT on a GPU), so metric evaluation is not the slow part of `unitrack eval`.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
