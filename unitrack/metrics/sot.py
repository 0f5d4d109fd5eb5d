"""Single-object tracking: OTB success AUC and precision at 20 px, as the OTB toolkit and GOT-10k compute them.

Per sequence, with boxes ``(x, y, w, h)`` (the first predicted box replaced by the ground truth, as both
the OTB toolkit's ``calcSeqErrRobust.m`` and ``got10k.experiments.ExperimentOTB`` do, because trackers
are initialised with it):

* IoU: ``inter / (area_p + area_g - inter + eps)`` clipped to [0, 1], continuous coordinates (OTB's
  ``calcRectInt`` with its ``- 1`` / ``+ 1`` cancelling out);
* centre error: Euclidean distance between ``xy + (wh - 1) / 2`` of both boxes;
* success curve: ``S(t) = mean_frames[IoU > t]`` over the 21 thresholds ``t = linspace(0, 1, 21)``
  (strictly greater); ``success_auc = mean_t S(t)``;
* precision curve: ``P(d) = mean_frames[err <= d]`` for ``d = 0..50`` px; ``precision_20 = P(20)``.

The dataset figure averages the per-sequence *curves* and then takes the AUC / the value at 20 px
(equal to the mean of the per-sequence figures, both being linear).

Frames the two official codes treat differently, ``protocol="otb"`` (default, the dataset's own toolkit,
``calcSeqErrRobust.m`` + ``perfPlot.m``; pysot's ``OPEBenchmark`` does the same) or ``"got10k"``:

* invalid ground truth — a row with NaN, or not all four 1-based values ``> 0`` (``rect_anno > 0``):
  OTB counts the frame, with IoU -1 (a failure at every threshold) and centre error -1 (a *hit* at every
  distance); GOT-10k computes IoU / error on it as on any row, NaN failing both curves;
* a predicted row that is all NaN or has ``w <= 0`` or ``h <= 0`` (where the ground truth has no NaN):
  OTB carries the previous predicted box forward; GOT-10k scores it (NaN: a failure);
* a prediction file shorter than the ground truth: the missing frames are failures (IoU 0, infinite
  error) with a warning, as OTB's benchmark code does (``jwlim/tracker_benchmark``
  ``ComputeRectOverlap``: "tracking results N are fewer than ground-truth markings M", zero boxes
  appended); GOT-10k's ``ExperimentOTB.report`` asserts equal lengths. A longer file is cut, with a warning,
  as that code does. A sequence with no ground-truth row gets 0.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = ("otb", "got10k")
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


def valid_gt(gt: np.ndarray) -> np.ndarray:
    """OTB's ``sum(rect_anno > 0, 2) == 4`` on 0-based boxes: ``x, y > -1`` (1-based > 0), ``w, h > 0``, no NaN."""
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    return (gt[:, 0] > -1) & (gt[:, 1] > -1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)


def carry_forward(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """OTB's ``calcSeqErrRobust``: from frame 2 on, a predicted row that is all NaN or has ``w <= 0`` or
    ``h <= 0``, where the ground-truth row has no NaN, becomes the previous (already replaced) row."""
    pred = np.asarray(pred, np.float64).reshape(-1, 4)
    gt = np.asarray(gt, np.float64).reshape(-1, 4)[: len(pred)]
    bad = (np.isnan(pred).all(axis=1) | (pred[:, 2] <= 0) | (pred[:, 3] <= 0)) & ~np.isnan(gt).any(axis=1)
    bad[:1] = False
    last_good = np.maximum.accumulate(np.where(bad, 0, np.arange(len(pred))))
    return pred[last_good]


def sequence_curves(pred: np.ndarray, gt: np.ndarray, replace_first: bool = True,
                    protocol: str = "otb") -> tuple[np.ndarray, np.ndarray]:
    """Success curve (21 values) and precision curve (51 values) of one sequence.

    ``pred`` and ``gt`` are ``[T, 4]`` xywh; a shorter ``pred`` is padded with failures, a longer one cut.
    ``protocol``: ``"otb"`` or ``"got10k"`` (see the module docstring).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown SOT protocol {protocol!r} (expected {' or '.join(PROTOCOLS)})")
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    pred = np.asarray(pred, np.float64).reshape(-1, 4)[: len(gt)]
    if not len(gt):
        return np.zeros(len(IOU_THRESHOLDS)), np.zeros(len(CE_THRESHOLDS))
    n_pred = len(pred)
    if protocol == "otb":
        pred = carry_forward(pred, gt)
    pred = np.concatenate([pred, np.full((len(gt) - n_pred, 4), np.nan)])
    if replace_first:
        pred[0] = gt[0]
    ious = rect_iou(pred, gt)
    errs = center_error(pred, gt)
    ious[n_pred:], errs[n_pred:] = 0.0, np.inf  # frames the file does not have
    if replace_first:  # the tracker was given frame 1, also when its file is empty
        ious[0], errs[0] = rect_iou(gt[:1], gt[:1])[0], 0.0
    if protocol == "otb":
        ok = valid_gt(gt)
        ious[~ok], errs[~ok] = -1.0, -1.0
    succ = np.mean(ious[:, None] > IOU_THRESHOLDS[None, :], axis=0)
    prec = np.mean(errs[:, None] <= CE_THRESHOLDS[None, :], axis=0)
    return succ, prec


def sot_metrics(pred: np.ndarray, gt: np.ndarray, replace_first: bool = True,
                protocol: str = "otb") -> dict[str, float]:
    """``{"success_auc", "precision_20"}`` of one sequence."""
    succ, prec = sequence_curves(pred, gt, replace_first, protocol)
    return {"success_auc": float(np.mean(succ)), "precision_20": float(prec[PRECISION_AT])}


def aggregate(curves: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Dataset figures from per-sequence curves: mean curve, then AUC / value at 20 px."""
    if not curves:
        return {"success_auc": 0.0, "precision_20": 0.0}
    succ = np.mean([c[0] for c in curves], axis=0)
    prec = np.mean([c[1] for c in curves], axis=0)
    return {"success_auc": float(np.mean(succ)), "precision_20": float(prec[PRECISION_AT])}


def evaluate_arrays(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray], protocol: str = "otb") -> dict:
    """``{"overall", "per_sequence"}`` from ``{seq: [T,4]}`` dicts; a sequence absent from ``pred`` scores 0."""
    per_seq, curves = {}, []
    for seq in gt:
        c = sequence_curves(pred.get(seq, np.zeros((0, 4))), gt[seq], protocol=protocol)
        curves.append(c)
        per_seq[seq] = aggregate([c])
    return {"overall": aggregate(curves), "per_sequence": per_seq}


def evaluate(gt_root, pred_dir, sequences=None, protocol: str = "otb") -> dict:
    """Score ``pred_dir/<Seq>.txt`` (OTB box files) against the OTB-2015 / VOT layout at ``gt_root``.

    Both are read with :mod:`unitrack.data.otb` (1-based on disk, 0-based in memory; IoU and centre
    error do not depend on the shift). A missing or empty prediction file scores as no prediction; a file
    with fewer or more boxes than the ground truth gets one warning line (the missing frames fail).
    """
    from unitrack.data import otb
    from unitrack.data._common import warn
    from unitrack.metrics._files import prediction_file

    names = list(sequences) if sequences is not None else otb.list_sequences(gt_root)
    gt, pred = {}, {}
    for name in names:
        gt[name] = otb.load_sequence(gt_root, name).boxes
        path = prediction_file(pred_dir, f"{name}.txt")
        if path is not None:
            pred[name] = otb.read_boxes(path)
            n, m = len(pred[name]), len(gt[name])
            if n < m:
                warn(path, f"{n} boxes for {m} ground-truth frames; frames {n + 1}-{m} score as failures "
                           "(as OTB's benchmark code pads them)")
            elif n > m:
                warn(path, f"{n} boxes for {m} ground-truth frames; the last {n - m} are not scored")
    return evaluate_arrays(gt, pred, protocol)
