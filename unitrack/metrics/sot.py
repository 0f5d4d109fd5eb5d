"""Single-object tracking: OTB success AUC and precision at 20 px, as the GOT-10k toolkit computes them.

Per sequence, with boxes ``(x, y, w, h)`` (the first predicted box replaced by the ground truth, as
``got10k.experiments.ExperimentOTB`` does, because trackers are initialised with it):

* IoU: ``inter / (area_p + area_g - inter + eps)`` clipped to [0, 1], continuous coordinates (no +1);
* centre error: Euclidean distance between ``xy + (wh - 1) / 2`` of both boxes;
* success curve: ``S(t) = mean_frames[IoU > t]`` over the 21 thresholds ``t = linspace(0, 1, 21)``
  (strictly greater); ``success_auc = mean_t S(t)``;
* precision curve: ``P(d) = mean_frames[err <= d]`` for ``d = 0..50`` px; ``precision_20 = P(20)``.

The dataset figure averages the per-sequence *curves* and then takes the AUC / the value at 20 px
(equal to the mean of the per-sequence figures, both being linear).

Deviation from GOT-10k, stated: when a prediction file is shorter than the ground truth GOT-10k
truncates the ground truth to the prediction's length; here the missing frames count as failures
(IoU 0, infinite centre error), so a tracker that stops early is not rewarded. A predicted box with
NaN coordinates is likewise a failure. Ground-truth frames with NaN or non-positive size (absent
target) are skipped. A sequence with no scorable frame gets 0.
"""

from __future__ import annotations


import numpy as np

IOU_THRESHOLDS = np.linspace(0.0, 1.0, 21)
CE_THRESHOLDS = np.arange(0, 51)
PRECISION_AT = 20


def rect_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of ``[N, 4]`` xywh boxes, GOT-10k's ``rect_iou`` (eps in the denominator, clip)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore"):
        iou = np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)
    return np.where(np.isfinite(iou), iou, 0.0)


def center_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise distance between box centres ``xy + (wh - 1) / 2`` (GOT-10k's ``center_error``)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ca = a[:, :2] + (a[:, 2:] - 1) / 2
    cb = b[:, :2] + (b[:, 2:] - 1) / 2
    err = np.sqrt(np.sum((ca - cb) ** 2, axis=1))
    return np.where(np.isfinite(err), err, np.inf)


def sequence_curves(pred: np.ndarray, gt: np.ndarray, replace_first: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Success curve (21 values) and precision curve (51 values) of one sequence.

    ``pred`` and ``gt`` are ``[T, 4]`` xywh; a shorter ``pred`` is padded with failures.
    """
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    pred = np.asarray(pred, np.float64).reshape(-1, 4)[: len(gt)]
    if len(pred) < len(gt):
        pred = np.concatenate([pred, np.full((len(gt) - len(pred), 4), np.nan)])
    if replace_first and len(gt):
        pred = pred.copy()
        pred[0] = gt[0]
    valid = np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    if not valid.any():
        return np.zeros(len(IOU_THRESHOLDS)), np.zeros(len(CE_THRESHOLDS))
    ious = rect_iou(pred[valid], gt[valid])
    errs = center_error(pred[valid], gt[valid])
    succ = np.mean(ious[:, None] > IOU_THRESHOLDS[None, :], axis=0)
    prec = np.mean(errs[:, None] <= CE_THRESHOLDS[None, :], axis=0)
    return succ, prec


def sot_metrics(pred: np.ndarray, gt: np.ndarray, replace_first: bool = True) -> dict[str, float]:
    """``{"success_auc", "precision_20"}`` of one sequence."""
    succ, prec = sequence_curves(pred, gt, replace_first)
    return {"success_auc": float(np.mean(succ)), "precision_20": float(prec[PRECISION_AT])}


def aggregate(curves: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Dataset figures from per-sequence curves: mean curve, then AUC / value at 20 px."""
    if not curves:
        return {"success_auc": 0.0, "precision_20": 0.0}
    succ = np.mean([c[0] for c in curves], axis=0)
    prec = np.mean([c[1] for c in curves], axis=0)
    return {"success_auc": float(np.mean(succ)), "precision_20": float(prec[PRECISION_AT])}


def evaluate_arrays(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray]) -> dict:
    """``{"overall", "per_sequence"}`` from ``{seq: [T,4]}`` dicts; a sequence absent from ``pred`` scores 0."""
    per_seq, curves = {}, []
    for seq in gt:
        c = sequence_curves(pred.get(seq, np.zeros((0, 4))), gt[seq])
        curves.append(c)
        per_seq[seq] = aggregate([c])
    return {"overall": aggregate(curves), "per_sequence": per_seq}


def evaluate(gt_root, pred_dir, sequences=None) -> dict:
    """Score ``pred_dir/<Seq>.txt`` (OTB box files) against the OTB-2015 layout at ``gt_root``.

    Both are read with :mod:`unitrack.data.otb` (1-based on disk, 0-based in memory; IoU and centre
    error do not depend on the shift). A missing or empty prediction file scores as no prediction.
    """
    from unitrack.data import otb
    from unitrack.metrics._files import prediction_file

    names = list(sequences) if sequences is not None else otb.list_sequences(gt_root)
    gt, pred = {}, {}
    for name in names:
        gt[name] = otb.load_sequence(gt_root, name).boxes
        path = prediction_file(pred_dir, f"{name}.txt")
        if path is not None:
            pred[name] = otb.read_boxes(path)
    return evaluate_arrays(gt, pred)
