"""Video object segmentation: DAVIS region similarity J and boundary F-measure (semi-supervised), 2017 and 2016.

DAVIS-2017 follows ``davis2017-evaluation`` (``davis2017/metrics.py`` and ``evaluation.py``):

* masks are indexed label maps, 0 = background, 255 = void (excluded from J and F); the number of
  objects of a sequence is the largest label of its first ground-truth frame; a label in a
  prediction above that number is an error in the official tool and is ignored here;
* the first and the last frame are not scored;
* ``J = |P ∩ G| / |P ∪ G|`` on non-void pixels, 1 when both are empty;
* ``F``: boundaries by ``seg2bmap`` (1-px boundary, offset half a pixel towards the origin), each
  dilated with a disk of radius ``ceil(0.008 × ‖(H, W)‖)`` px (``cv2.dilate``), precision = fraction
  of predicted boundary pixels near the ground-truth boundary, recall the converse, ``F = 2PR/(P+R)``
  (P = R = 1 when both boundaries are empty; P = 1, R = 0 with no predicted boundary; P = 0, R = 1
  with no ground-truth boundary);
* per object: mean over its scored frames; dataset ``J_mean`` / ``F_mean``: mean over all objects of
  all sequences (not over sequences); ``JF_mean = (J_mean + F_mean) / 2``. ``per_sequence`` holds
  the same figures over that sequence's objects.

DAVIS-2016 (a root in the 2016 layout, or ``dataset_format="davis2016"``) follows the official DAVIS-2016
code, ``fperazzi/davis`` (``python/lib/davis/dataset/loader.py``, ``measures/{jaccard,f_boundary}.py``,
``dataset/utils.py``), read for this: ground truth and predictions are read as greyscale and cast to bool
(any non-zero pixel = the one object; no void); ``DAVISAnnotationLoader._eval`` scores
``annotations[1:-1]``, i.e. the first and the last frame are excluded as in 2017; ``db_eval_iou`` is the
same J (1 when both masks are empty) and ``db_eval_boundary`` the same F (``seg2bmap``, disk of radius
``ceil(0.008 × diagonal)``, same empty-boundary cases); a sequence's figure is the ``nanmean`` over its
frames and the dataset's the mean over sequences (``db_eval_view``), which, with one object per
sequence, is the 2017 mean over objects. So the two layouts of the same masks give the same J&F (measured
in ``eval/results/vos.md``).

A missing prediction PNG of a scored frame counts as all background, with one warning line naming the
first missing file and the count; the official tools do not score such a run at all (davis2017-evaluation
exits with "<seq> frame <f> not found!", the 2016 loader fails an assertion on the frame count).
Each object-frame is scored on the bounding box of ``gt | pred`` grown by 2 px, which gives exactly
the full-frame numbers (see ``_crop_box``) at a fraction of the cost on 480p frames.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BOUND_TH = 0.008
VOID = 255


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """1-px boundary map of a binary mask (D. Martin's ``seg2bmap``, as in the DAVIS toolkit)."""
    seg = np.asarray(seg).astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def disk(radius: int) -> np.ndarray:
    """``skimage.morphology.disk``: the uint8 structuring element ``x² + y² <= r²``."""
    r = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(r, r)
    return (x**2 + y**2 <= radius**2).astype(np.uint8)


def bound_pixels(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Boundary tolerance in pixels: ``bound_th`` itself if >= 1, else ``ceil(bound_th × diagonal)``."""
    return int(bound_th) if bound_th >= 1 else int(math.ceil(bound_th * math.hypot(*shape[:2])))


def jaccard(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity of one frame's binary masks (DAVIS ``db_eval_iou``)."""
    gt = np.asarray(gt, bool)
    pred = np.asarray(pred, bool)
    if void is not None:
        keep = ~np.asarray(void, bool)
        gt, pred = gt & keep, pred & keep
    inter = np.count_nonzero(gt & pred)
    union = np.count_nonzero(gt | pred)
    return 1.0 if union == 0 else inter / union


def f_boundary(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None, bound_th: float = BOUND_TH,
               bound_pix: int | None = None) -> float:
    """Boundary F-measure of one frame's binary masks (DAVIS ``f_measure``).

    ``bound_pix`` overrides the tolerance computed from ``gt.shape`` (needed when scoring a crop).
    """
    gt = np.asarray(gt, bool)
    pred = np.asarray(pred, bool)
    if void is not None:
        keep = ~np.asarray(void, bool)
        gt, pred = gt & keep, pred & keep
    fg_b = seg2bmap(pred)
    gt_b = seg2bmap(gt)
    n_fg = int(np.count_nonzero(fg_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_fg == 0 or n_gt == 0:
        precision = 1.0 if n_fg == 0 else 0.0
        recall = 1.0 if n_gt == 0 else 0.0
    else:
        se = disk(bound_pixels(gt.shape, bound_th) if bound_pix is None else bound_pix)
        fg_dil = cv2.dilate(fg_b.astype(np.uint8), se).astype(bool)
        gt_dil = cv2.dilate(gt_b.astype(np.uint8), se).astype(bool)
        precision = np.count_nonzero(fg_b & gt_dil) / n_fg
        recall = np.count_nonzero(gt_b & fg_dil) / n_gt
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def sequence_scores(gt: np.ndarray, pred: np.ndarray, num_objects: int | None = None,
                    skip_first_last: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-object, per-scored-frame J and F of one sequence.

    ``gt``, ``pred``: ``[T, H, W]`` integer label maps (255 in ``gt`` = void). Returns two
    ``[num_objects, T']`` arrays (``T' = T - 2`` with the DAVIS protocol).
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground truth {gt.shape}")
    if num_objects is None:
        first = gt[0][gt[0] != VOID] if len(gt) else np.zeros(0)
        num_objects = int(first.max()) if first.size else 0
    frames = range(1, len(gt) - 1) if skip_first_last else range(len(gt))
    J = np.zeros((num_objects, len(frames)))
    F = np.zeros((num_objects, len(frames)))
    bound = bound_pixels(gt.shape[1:]) if gt.ndim == 3 else 0
    for col, t in enumerate(frames):
        void = gt[t] == VOID
        for k in range(num_objects):
            g, p = gt[t] == k + 1, pred[t] == k + 1
            box = _crop_box(g | p)
            if box is None:  # absent from both: J = F = 1, as the official tool gives
                J[k, col] = F[k, col] = 1.0
                continue
            g, p, v = g[box], p[box], void[box]
            J[k, col] = jaccard(g, p, v)
            F[k, col] = f_boundary(g, p, v, bound_pix=bound)
    return J, F


def _crop_box(mask: np.ndarray, margin: int = 2) -> tuple[slice, slice] | None:
    """Bounding box of ``mask`` grown by ``margin`` px (clipped to the frame); ``None`` if empty.

    Scoring on this crop gives exactly the full-frame J and F: ``seg2bmap`` only looks one pixel
    down/right, so with 2 px of empty margin every boundary pixel lies inside the crop and no
    spurious one appears on its edges; boundary matching only compares boundary pixels with each
    other, so distances are unchanged; the tolerance comes from the full frame's diagonal.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, h)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, w)))


def summarize(per_object: list[tuple[float, float]]) -> dict[str, float]:
    """``{"J_mean", "F_mean", "JF_mean"}`` from per-object ``(mean J, mean F)`` pairs (0 when empty)."""
    if not per_object:
        return {"J_mean": 0.0, "F_mean": 0.0, "JF_mean": 0.0}
    j = float(np.mean([o[0] for o in per_object]))
    f = float(np.mean([o[1] for o in per_object]))
    return {"J_mean": j, "F_mean": f, "JF_mean": (j + f) / 2}


def object_means(J: np.ndarray, F: np.ndarray) -> list[tuple[float, float]]:
    """Per-object means over frames (``np.nanmean`` as DAVIS; an object with no scored frame gets 0)."""
    out = []
    for j, f in zip(J, F):
        out.append((float(np.mean(j)) if j.size else 0.0, float(np.mean(f)) if f.size else 0.0))
    return out


def evaluate_arrays(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray]) -> dict:
    """``{"overall", "per_sequence"}`` from ``{seq: [T,H,W] labels}``; absent predictions = background."""
    per_seq, all_objects = {}, []
    for seq, g in gt.items():
        p = pred.get(seq)
        if p is None:
            p = np.zeros_like(g)
        objs = object_means(*sequence_scores(g, p))
        per_seq[seq] = summarize(objs)
        all_objects += objs
    return {"overall": summarize(all_objects), "per_sequence": per_seq}


def evaluate(gt_root, pred_dir, sequences=None, dataset_format: str | None = None) -> dict:
    """Score ``pred_dir/<seq>/<frame>.png`` against the DAVIS root at ``gt_root`` (val list by default).

    ``dataset_format``: ``"davis2017"``, ``"davis2016"`` or ``None`` (detected from the layout, see
    :func:`unitrack.data.davis.detect_format`). Ground truth and predictions are read with
    :mod:`unitrack.data.davis` (size-checked against the frame; DAVIS-2016: any non-zero pixel is the one
    object). The scored frames are the annotated ones, minus the first and the last; a missing prediction
    frame counts as all background, with one warning line per sequence.
    """
    from unitrack.data import davis
    from unitrack.data._common import warn
    from unitrack.metrics._files import prediction_dir

    pred_root = prediction_dir(pred_dir)
    fmt = davis.detect_format(gt_root, dataset_format)
    names = list(sequences) if sequences is not None else davis.list_sequences(gt_root, dataset_format=fmt)
    per_seq, all_objects = {}, []
    for name in names:
        seq = davis.load_sequence(gt_root, name, dataset_format=fmt)
        ts = sorted(seq.annotations)
        gt = np.stack([seq.load_mask(t) for t in ts])
        pred = np.zeros_like(gt)
        if not (pred_root / name).is_dir():
            # the message and mechanism of unitrack.metrics._files.prediction_file, shared by every task
            warn(pred_root / name, "no prediction file (the folder of PNGs is missing); scored as all background")
        missing = []
        for i, t in enumerate(ts):
            path = pred_root / name / f"{seq.frames[t].stem}.png"
            if path.exists():
                pred[i] = davis.read_mask(path, (seq.height, seq.width), seq.binary)
            elif 0 < i < len(ts) - 1:  # only scored frames matter (the official tools read only those)
                missing.append(path)
        if missing and (pred_root / name).is_dir():
            more = f" (and {len(missing) - 1} more of {name})" if len(missing) > 1 else ""
            warn(missing[0], f"missing prediction{more}; scored as background (the official DAVIS tools stop here)")
        objs = object_means(*sequence_scores(gt, pred, 1 if seq.binary else None))
        per_seq[name] = summarize(objs)
        all_objects += objs
    return {"overall": summarize(all_objects), "per_sequence": per_seq}
