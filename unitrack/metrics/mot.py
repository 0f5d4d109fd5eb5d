"""Multi-object tracking: CLEAR MOT and identity metrics (motmetrics) plus HOTA (TrackEval), MOTChallenge rules.

Rows are MOTChallenge lines as arrays: ground truth ``frame, id, x, y, w, h, conf, class, visibility``
(MOT15: ``class = -1``), predictions ``frame, id, x, y, w, h, ...``. Per frame, as TrackEval's
``MotChallenge2DBox`` preprocesses (the rules the MOTChallenge server applies):

1. predictions are matched to *all* ground-truth boxes (Hungarian on IoU, pairs with IoU < 0.5
   dropped); predictions matched to a distractor class (2 person on vehicle, 7 static person,
   8 distractor, 12 reflection; 6 non-MOT vehicle too for MOT20) are removed;
2. ground truth is kept only if ``conf != 0`` and ``class == 1`` (pedestrian). MOT15 (no classes,
   detected as a class column that is never positive) skips step 1 and the class test.

Then, on the same per-frame IoU matrices:

* motmetrics' ``MOTAccumulator`` with distance ``1 - IoU`` and no match where IoU < 0.5 (exactly what
  ``motmetrics.distances.iou_matrix(max_iou=0.5)`` gives) yields FN, FP, IDSW, IDTP;
  ``MOTA = (num_gt - FN - FP - IDSW) / num_gt`` and ``IDF1 = 2 IDTP / (num_gt + num_pred)``;
* TrackEval's ``HOTA`` gives ``HOTA = mean_α sqrt(DetA_α · AssA_α)`` over α = 0.05, 0.10, …, 0.95.

Sequences combine as the tools do: counts are summed, MOTA/IDF1 come from the sums, HOTA from
TrackEval's ``combine_sequences``. With no ground truth a zero denominator is taken as 1
(TrackEval's convention), so MOTA = -FP and IDF1 = 0 there; MOTA is < 0 when errors exceed the
ground truth, so it is the one key not confined to [0, 1].

NumPy 2: motmetrics 1.4's ``distances.iou_matrix`` calls ``np.asfarray``, removed in NumPy 2.0.
This module never calls it — it computes the IoU matrix itself (vectorised) and
hands motmetrics ready distances — so no NumPy pin and no monkey-patching is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from videossl.errors import InputError

DISTRACTOR_CLASSES = (2, 7, 8, 12)
MOT20_DISTRACTOR_CLASSES = (2, 6, 7, 8, 12)
PEDESTRIAN = 1
IOU_THRESHOLD = 0.5
_EPS = np.finfo(float).eps
_COUNTS = ("num_objects", "num_predictions", "num_misses", "num_false_positives", "num_switches", "idtp")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[N, M]`` IoU of xywh boxes (continuous coordinates, as TrackEval and motmetrics)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return iou


def _by_frame(rows: np.ndarray, num_frames: int) -> list[np.ndarray]:
    """Split rows into a list indexed by frame - 1 (frames outside 1..num_frames are dropped)."""
    rows = np.asarray(rows, np.float64)
    if rows.size == 0:
        return [np.zeros((0, max(rows.shape[1] if rows.ndim == 2 else 0, 6)))] * num_frames
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    frames = rows[:, 0].astype(np.int64)
    cuts = np.searchsorted(frames, np.arange(1, num_frames + 2))
    return [rows[cuts[t]:cuts[t + 1]] for t in range(num_frames)]


def preprocess(gt: np.ndarray, pred: np.ndarray, num_frames: int | None = None,
               distractor_classes=DISTRACTOR_CLASSES) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Apply the MOTChallenge rules; per frame ``(gt_ids, pred_ids, iou[gt, pred])``."""
    gt = np.asarray(gt, np.float64).reshape(-1, np.asarray(gt).shape[-1] if np.asarray(gt).size else 9)
    pred = np.asarray(pred, np.float64).reshape(-1, np.asarray(pred).shape[-1] if np.asarray(pred).size else 6)
    if num_frames is None:
        num_frames = int(max(gt[:, 0].max(initial=0), pred[:, 0].max(initial=0)))
    has_classes = gt.shape[1] >= 8 and bool(np.any(gt[:, 7] > 0))
    out = []
    for t, (g, p) in enumerate(zip(_by_frame(gt, num_frames), _by_frame(pred, num_frames))):
        for rows, what in ((g, "ground truth"), (p, "prediction")):
            if len(np.unique(rows[:, 1])) < len(rows):
                raise ValueError(f"{what} repeats an id within frame {t + 1}")
        iou = box_iou(g[:, 2:6], p[:, 2:6])
        keep_p = np.ones(len(p), bool)
        if has_classes and len(g) and len(p):
            score = np.where(iou < IOU_THRESHOLD - _EPS, 0.0, iou)
            r, c = linear_sum_assignment(-score)
            ok = score[r, c] > _EPS
            r, c = r[ok], c[ok]
            keep_p[c[np.isin(g[r, 7], distractor_classes)]] = False
        keep_g = g[:, 6] != 0 if g.shape[1] > 6 else np.ones(len(g), bool)
        if has_classes:
            keep_g &= g[:, 7] == PEDESTRIAN
        out.append((g[keep_g, 1].astype(np.int64), p[keep_p, 1].astype(np.int64), iou[keep_g][:, keep_p]))
    return out


def clear_identity_counts(frames) -> dict[str, int]:
    """motmetrics counts (objects, predictions, FN, FP, IDSW, IDTP) of one preprocessed sequence."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    for t, (gids, pids, iou) in enumerate(frames):
        dist = np.where(1.0 - iou > IOU_THRESHOLD, np.nan, 1.0 - iou)
        acc.update(gids, pids, dist, frameid=t + 1)
    if not any(len(g) or len(p) for g, p, _ in frames):
        return {k: 0 for k in _COUNTS}
    summary = mm.metrics.create().compute(acc, metrics=list(_COUNTS), name="seq")
    return {k: int(summary[k].iloc[0]) for k in _COUNTS}


def _relabel(ids_per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    allids = np.unique(np.concatenate(ids_per_frame)) if ids_per_frame else np.zeros(0, np.int64)
    return [np.searchsorted(allids, ids) for ids in ids_per_frame], len(allids)


def hota_sequence(frames) -> dict:
    """TrackEval ``HOTA().eval_sequence`` on one preprocessed sequence (its raw result dict)."""
    from trackeval.metrics import HOTA

    gids, n_gt = _relabel([f[0] for f in frames])
    pids, n_pr = _relabel([f[1] for f in frames])
    data = {
        "num_timesteps": len(frames), "num_gt_ids": n_gt, "num_tracker_ids": n_pr,
        "num_gt_dets": int(sum(len(g) for g in gids)), "num_tracker_dets": int(sum(len(p) for p in pids)),
        "gt_ids": gids, "tracker_ids": pids, "similarity_scores": [f[2] for f in frames],
    }
    return HOTA({"PRINT_CONFIG": False}).eval_sequence(data)


def _figures(counts: dict[str, int], hota: float) -> dict:
    n_gt = counts["num_objects"]
    errors = counts["num_misses"] + counts["num_false_positives"] + counts["num_switches"]
    return {
        "MOTA": float((n_gt - errors) / max(1, n_gt)),
        "IDF1": float(2 * counts["idtp"] / max(1, n_gt + counts["num_predictions"])),
        "HOTA": float(hota),
        "IDSW": int(counts["num_switches"]),
        "FP": int(counts["num_false_positives"]),
        "FN": int(counts["num_misses"]),
    }


def mot_sequence(gt: np.ndarray, pred: np.ndarray, num_frames: int | None = None,
                 distractor_classes=DISTRACTOR_CLASSES) -> tuple[dict, dict, dict]:
    """Figures, raw counts and TrackEval HOTA result of one sequence."""
    frames = preprocess(gt, pred, num_frames, distractor_classes)
    counts = clear_identity_counts(frames)
    hota = hota_sequence(frames)
    return _figures(counts, float(np.mean(hota["HOTA"]))), counts, hota


def combine(parts: dict[str, tuple[dict, dict, dict]]) -> dict:
    """Overall figures: summed counts; HOTA by TrackEval's ``combine_sequences``."""
    from trackeval.metrics import HOTA

    if not parts:
        return _figures({k: 0 for k in _COUNTS}, 0.0)
    counts = {k: sum(p[1][k] for p in parts.values()) for k in _COUNTS}
    hota = HOTA({"PRINT_CONFIG": False}).combine_sequences({s: p[2] for s, p in parts.items()})
    return _figures(counts, float(np.mean(hota["HOTA"])))


def evaluate_arrays(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray],
                    num_frames: dict[str, int] | None = None, distractor_classes=DISTRACTOR_CLASSES) -> dict:
    """``{"overall", "per_sequence"}`` from ``{seq: rows}``; a sequence absent from ``pred`` has no predictions."""
    parts = {}
    for seq, g in gt.items():
        n = (num_frames or {}).get(seq)
        parts[seq] = mot_sequence(g, pred.get(seq, np.zeros((0, 10))), n, distractor_classes)
    return {"overall": combine(parts), "per_sequence": {s: p[0] for s, p in parts.items()}}


def _rows(r) -> np.ndarray:
    """:class:`unitrack.data.mot.MOTRows` (0-based) back to 1-based-frame row arrays for :func:`preprocess`."""
    return np.column_stack([r.frame + 1, r.ids, r.boxes, r.conf, r.cls, r.vis]).astype(np.float64)


def evaluate(gt_root, pred_dir, sequences=None, split: str = "train") -> dict:
    """Score ``pred_dir/<SEQ>.txt`` against the MOTChallenge layout ``gt_root/<split>/<SEQ>/{gt/gt.txt, seqinfo.ini}``.

    Read with :mod:`unitrack.data.mot` (frames must lie in ``1..seqLength``); images are not needed.
    MOT20 sequences (name starting ``MOT20``) also treat class 6 as a distractor, as TrackEval does.
    """
    from unitrack.data import mot as motdata
    from unitrack.metrics._files import prediction_file

    names = list(sequences) if sequences is not None else motdata.list_sequences(gt_root, split)
    parts = {}
    for name in names:
        seq_dir = Path(gt_root) / split / name
        n = int(motdata.read_seqinfo(seq_dir / "seqinfo.ini")["seqLength"])
        gt = _rows(motdata.read_mot_txt(seq_dir / "gt" / "gt.txt", n))
        path = prediction_file(pred_dir, f"{name}.txt")
        pred = _rows(motdata.read_mot_txt(path, n)) if path is not None else np.zeros((0, 9))
        distractors = MOT20_DISTRACTOR_CLASSES if name.startswith("MOT20") else DISTRACTOR_CLASSES
        try:
            parts[name] = mot_sequence(gt, pred, n, distractors)
        except ValueError as exc:
            raise InputError(path if "prediction" in str(exc) else seq_dir / "gt" / "gt.txt", str(exc)) from None
    return {"overall": combine(parts), "per_sequence": {s: p[0] for s, p in parts.items()}}
