"""Pose propagation: PCK@0.1 and PCK@0.2 with UniTrack's JHMDB convention.

The convention (UniTrack's ``eval_pck.py``, shared by the CRW / UVC line of JHMDB propagation work):

* coordinates are 0-based pixels of the original frames (JHMDB's ``pos_img`` minus 1);
* normaliser of frame t: ``0.6 × ‖(max - min)‖₂`` of the box around that frame's *visible*
  ground-truth joints (``0.6 × diagonal``);
* a joint is correct when ``‖pred - gt‖₂ / normaliser <= α`` (inclusive), α ∈ {0.1, 0.2};
* the first frame (given to the tracker) is not scored, nor are invisible joints;
* per-joint PCK = correct / scored over all scored frames of all videos (pooled, not averaged per
  video); the reported PCK is the mean over the 15 joints of the per-joint PCK (joints never scored
  are left out of that mean; 0 when none is scored). ``per_sequence`` applies the same to one video.

Visibility: by default a ground-truth joint is visible when its coordinates are finite (JHMDB
annotates all 15 joints in every frame, so all are). UniTrack's script instead marks a joint
invisible where the *propagated prediction* has a negative x — a prediction-dependent quirk not
reproduced here; pass ``visible`` to apply any other mask. A predicted joint that is missing or NaN
is wrong. A normaliser of 0 (a single visible joint) accepts only an exact prediction.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = (0.1, 0.2)
BOX_FACTOR = 0.6
NUM_JOINTS = 15


def normalised_distances(gt: np.ndarray, pred: np.ndarray, visible: np.ndarray | None = None,
                         skip_first: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Distances and normalisers of one video.

    ``gt``, ``pred``: ``[T, J, 2]`` (a shorter ``pred`` is padded with NaN). Returns ``d [T, J]``
    (inf where the prediction is missing) and ``scored [T, J]`` (bool) with the normaliser folded in
    as ``d / norm`` (0/0 → 0, x/0 → inf).
    """
    gt = np.asarray(gt, np.float64)
    if gt.ndim != 3 or gt.shape[2] != 2:
        raise ValueError(f"ground-truth joints must be [T, J, 2], got {gt.shape}")
    T, J = gt.shape[:2]
    pred = np.asarray(pred, np.float64)
    pred = pred.reshape(-1, J, 2)[:T] if pred.size else np.zeros((0, J, 2))
    if len(pred) < T:
        pred = np.concatenate([pred, np.full((T - len(pred), J, 2), np.nan)])
    vis = np.all(np.isfinite(gt), axis=2)
    if visible is not None:
        vis &= np.asarray(visible, bool).reshape(T, J)
    lo = np.where(vis[..., None], gt, np.inf).min(axis=1)
    hi = np.where(vis[..., None], gt, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):
        norm = BOX_FACTOR * np.linalg.norm(hi - lo, axis=1)
    norm = np.where(vis.any(axis=1), norm, 0.0)
    d = np.linalg.norm(pred - gt, axis=2)
    d = np.where(np.isfinite(d), d, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        dn = np.where(norm[:, None] > 0, d / np.where(norm > 0, norm, 1)[:, None], np.where(d == 0, 0.0, np.inf))
    scored = vis.copy()
    if skip_first and T:
        scored[0] = False
    return dn, scored


def pck_from_distances(dn: list[np.ndarray], scored: list[np.ndarray], thresholds=THRESHOLDS) -> dict[str, float]:
    """Pooled per-joint PCK, then the mean over joints, for each threshold."""
    out = {}
    if not dn or sum(int(s.sum()) for s in scored) == 0:
        return {f"PCK@{a}": 0.0 for a in thresholds}
    d = np.concatenate(dn, axis=0)
    s = np.concatenate(scored, axis=0)
    n = s.sum(axis=0)
    for a in thresholds:
        correct = ((d <= a) & s).sum(axis=0)
        per_joint = correct[n > 0] / n[n > 0]
        out[f"PCK@{a}"] = float(per_joint.mean())
    return out


def pck(gt: np.ndarray, pred: np.ndarray, visible: np.ndarray | None = None, thresholds=THRESHOLDS) -> dict[str, float]:
    """PCK of one video (``[T, J, 2]`` arrays)."""
    dn, s = normalised_distances(gt, pred, visible)
    return pck_from_distances([dn], [s], thresholds)


def evaluate_arrays(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray],
                    visible: dict[str, np.ndarray] | None = None) -> dict:
    """``{"overall", "per_sequence"}`` from ``{video: [T,15,2]}``; a video absent from ``pred`` scores 0."""
    per_seq, dns, ss = {}, [], []
    for v, g in gt.items():
        dn, s = normalised_distances(g, pred.get(v, np.zeros(0)), (visible or {}).get(v))
        per_seq[v] = pck_from_distances([dn], [s])
        dns.append(dn)
        ss.append(s)
    return {"overall": pck_from_distances(dns, ss), "per_sequence": per_seq}


def evaluate(gt_root, pred_dir, sequences=None) -> dict:
    """Score ``pred_dir/<video>.json`` against the JHMDB layout at ``gt_root`` (all annotated videos by default).

    Ground truth via :mod:`unitrack.data.jhmdb` (``pos_img - 1``), predictions via
    :func:`unitrack.data.writers.read_pose_json` (0-based). Sequences are named ``<class>/<video>``; the
    prediction is looked up as ``<class>/<video>.json`` first, then ``<video>.json`` (the contract's name).
    """
    from pathlib import Path

    from unitrack.data import jhmdb
    from unitrack.data.writers import read_pose_json
    from unitrack.metrics._files import prediction_dir, prediction_file

    root = prediction_dir(pred_dir)
    names = list(sequences) if sequences is not None else jhmdb.list_sequences(gt_root)
    gt, pred = {}, {}
    for name in names:
        gt[name] = jhmdb.read_joints(Path(gt_root) / "joint_positions" / name / "joint_positions.mat")
        nested = root / f"{name}.json"
        path = nested if nested.is_file() else prediction_file(root, f"{Path(name).name}.json")
        if path is not None:
            pred[name] = read_pose_json(path)
    return evaluate_arrays(gt, pred)
