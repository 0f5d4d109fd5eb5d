"""Drawing results on frames for every head: boxes (MOT, SOT), masks (MOTS, VOS), joints (pose, posetrack).

Colours are a pure function of the identity (golden-ratio hue walk), so an identity keeps its
colour across frames, sequences and runs, and neighbouring ids get well separated hues.
Frames are RGB ``uint8 [H, W, 3]`` in and out; :class:`Mp4Writer` converts to BGR for OpenCV and
writes to a temporary file renamed on close, so a killed run never leaves a broken mp4 behind.
"""

from __future__ import annotations

import colorsys
import os
import tempfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from videossl.utils.atomic import default_file_mode


def color_for(identity: int) -> tuple[int, int, int]:
    """A stable, saturated RGB colour for an integer identity."""
    hue = (int(identity) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_boxes(frame: np.ndarray, boxes_tlwh: Sequence, ids: Sequence[int], labels: Sequence[str] | None = None,
               thickness: int = 2) -> np.ndarray:
    """Rectangles with the id (or ``labels``) written above each; returns a new frame."""
    out = np.ascontiguousarray(frame).copy()
    scale = max(0.4, out.shape[0] / 1080.0)
    for k, (box, i) in enumerate(zip(boxes_tlwh, ids)):
        x, y, w, h = (int(round(float(v))) for v in box[:4])
        c = color_for(i)
        cv2.rectangle(out, (x, y), (x + w, y + h), c, thickness)
        text = str(i) if labels is None else str(labels[k])
        cv2.putText(out, text, (x, max(0, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, c, max(1, thickness - 1),
                    cv2.LINE_AA)
    return out


def draw_masks(frame: np.ndarray, masks: Sequence[np.ndarray], ids: Sequence[int], alpha: float = 0.5) -> np.ndarray:
    """Blend each binary mask ``[H, W]`` in its identity's colour, with a contour."""
    out = np.ascontiguousarray(frame).astype(np.float32)
    for m, i in zip(masks, ids):
        m = np.asarray(m).astype(bool)
        if not m.any():
            continue
        out[m] = (1 - alpha) * out[m] + alpha * np.asarray(color_for(i), np.float32)
    out = out.clip(0, 255).astype(np.uint8)
    for m, i in zip(masks, ids):
        contours, _ = cv2.findContours(np.asarray(m).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, color_for(i), 1)
    return out


def draw_points(frame: np.ndarray, points: np.ndarray, ids: Sequence[int] | None = None,
                edges: Sequence[tuple[int, int]] = (), radius: int = 3) -> np.ndarray:
    """Joints ``[J, 2]`` (x, y; NaN = invisible) coloured by joint id, limbs in ``edges`` as lines."""
    out = np.ascontiguousarray(frame).copy()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ids = list(range(len(pts))) if ids is None else list(ids)
    for a, b in edges:
        if np.isfinite(pts[[a, b]]).all():
            cv2.line(out, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), color_for(ids[a]), 2, cv2.LINE_AA)
    for p, i in zip(pts, ids):
        if np.isfinite(p).all():
            cv2.circle(out, (int(p[0]), int(p[1])), radius, color_for(i), -1, cv2.LINE_AA)
    return out


class Mp4Writer:
    """``with Mp4Writer(path, fps) as w: w.write(rgb_frame)``; the size comes from the first frame."""

    def __init__(self, path: str | os.PathLike, fps: float = 25.0):
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self._writer = None
        self._tmp = None

    def write(self, frame_rgb: np.ndarray) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".tmp-{self.path.stem}.", suffix=".mp4", dir=self.path.parent)
            os.close(fd)
            h, w = frame_rgb.shape[:2]
            self._size = (w - w % 2, h - h % 2)  # many decoders reject odd sizes
            from videossl.io.reader import decoder_path  # OpenCV segfaults on a name that is not UTF-8

            self._writer = cv2.VideoWriter(decoder_path(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                           self._size)
        f = np.ascontiguousarray(frame_rgb[: self._size[1], : self._size[0], ::-1])
        self._writer.write(f)

    def close(self, keep: bool = True) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        if keep:
            os.chmod(self._tmp, default_file_mode())  # mkstemp creates 0600; a video is meant to be shared
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(keep=exc_type is None)


# ---------------------------------------------------------------------------------------------
# Propagation heads (vos, pose) and sot: thin wrappers so each head draws in one call.


def draw_label_map(frame: np.ndarray, label_map: np.ndarray, ids: Sequence[int] | None = None,
                   alpha: float = 0.5) -> np.ndarray:
    """A VOS prediction: every object id of ``label_map [H, W]`` (0 = background) blended in its colour."""
    lm = np.asarray(label_map)
    ids = [int(i) for i in np.unique(lm) if i not in (0, 255)] if ids is None else [int(i) for i in ids]
    return draw_masks(frame, [lm == i for i in ids], ids, alpha)


def draw_pose(frame: np.ndarray, joints: np.ndarray, edges: Sequence[tuple[int, int]] | None = None,
              radius: int = 3) -> np.ndarray:
    """Joints ``[J, 2]`` (x, y) with JHMDB's skeleton (limbs) unless ``edges`` is given."""
    if edges is None:
        from unitrack.data.jhmdb import SKELETON

        edges = SKELETON
    return draw_points(frame, joints, edges=edges, radius=radius)


def draw_people(frame: np.ndarray, people: Sequence[np.ndarray], ids: Sequence[int], radius: int = 3) -> np.ndarray:
    """Multi-person poses (PoseTrack): each person's keypoints ``[17, 3]`` (x, y, v; ``v = 0`` not drawn) with
    PoseTrack's skeleton, the whole skeleton in its identity's colour and the id written above the head."""
    from unitrack.data.posetrack import SKELETON

    edges = [(a - 1, b - 1) for a, b in SKELETON]  # the dataset's pairs are 1-based
    out = np.ascontiguousarray(frame).copy()
    scale = max(0.4, out.shape[0] / 1080.0)
    for kp, i in zip(people, ids):
        kp = np.asarray(kp, np.float64).reshape(-1, 3)
        pts = np.where(kp[:, 2:] > 0, kp[:, :2], np.nan)
        out = draw_points(out, pts, [i] * len(pts), edges=edges, radius=radius)
        if np.isfinite(pts).any():
            x, y = np.nanmin(pts[:, 0]), np.nanmin(pts[:, 1])
            cv2.putText(out, str(i), (int(x), max(0, int(y) - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                        color_for(i), 1, cv2.LINE_AA)
    return out


def draw_track_box(frame: np.ndarray, box_xywh, gt_xywh=None) -> np.ndarray:
    """A SOT prediction (colour of id 1), and the ground truth in white when given."""
    out = frame
    if gt_xywh is not None and np.all(np.isfinite(gt_xywh)):
        x, y, w, h = (int(round(float(v))) for v in gt_xywh)
        out = np.ascontiguousarray(out).copy()
        cv2.rectangle(out, (x, y), (x + w, y + h), (255, 255, 255), 1)
    return draw_boxes(out, [box_xywh], [1], labels=[""])
