"""Writers of the prediction (and ground-truth) formats of the contract, each atomic.

They take the readers' in-memory conventions — **0-based** pixel coordinates and **0-based** frame
indices — and write each field's own on-disk convention (OTB and MOTChallenge are 1-based), so
``reader(writer(x)) == x``. Every file goes through ``videossl.utils.atomic_write*``: a killed run
leaves a complete previous file or none, never a truncated one.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from unitrack.data.davis import davis_palette
from unitrack.data.jhmdb import NUM_JOINTS
from unitrack.data.mots import encode_mask
from videossl.errors import InputError
from videossl.utils import atomic_write, atomic_write_json, atomic_write_text


def _fmt(v: float) -> str:
    """Shortest exact-enough decimal: integers without '.0', others to 1/1000 px; ``NaN`` as the OTB toolkit
    writes a lost target (``int(nan)`` would raise), infinities as ``inf``/``-inf`` (read back by every reader)."""
    v = float(v)
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return str(int(v)) if v == int(v) else f"{v:.3f}".rstrip("0")


def write_otb(path: str | os.PathLike, boxes: np.ndarray) -> None:
    """OTB box file: one ``x,y,w,h`` line per frame, 1-based (``boxes`` float ``[T, 4]`` 0-based xywh)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lines = [",".join(_fmt(v) for v in (x + 1, y + 1, w, h)) for x, y, w, h in boxes]
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def davis_png_bytes(mask: np.ndarray, palette: np.ndarray | None = None, path: str | os.PathLike | None = None) -> bytes:
    """Encode an object-id map (``uint8 [H, W]``, 0 = background) as an indexed PNG with the DAVIS palette."""
    from PIL import Image

    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise InputError(path, f"mask must be a non-empty 2-D id map, got shape {mask.shape}")
    if mask.min() < 0 or mask.max() > 255:
        raise InputError(path, "mask ids must be in 0..255")
    im = Image.frombytes("P", (mask.shape[1], mask.shape[0]), np.ascontiguousarray(mask, dtype=np.uint8).tobytes())
    im.putpalette((davis_palette() if palette is None else np.asarray(palette, np.uint8)).reshape(-1).tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def write_davis_png(path: str | os.PathLike, mask: np.ndarray, palette: np.ndarray | None = None) -> None:
    """An object-id map (``uint8 [H, W]``, 0 = background) as an indexed PNG with the DAVIS palette, atomically."""
    blob = davis_png_bytes(mask, palette, path)
    with atomic_write(path, "wb") as f:
        f.write(blob)


def write_mot(path: str | os.PathLike, frame: np.ndarray, ids: np.ndarray, boxes: np.ndarray, conf: np.ndarray | None = None,
              cls: np.ndarray | None = None, vis: np.ndarray | None = None) -> None:
    """MOTChallenge txt, rows sorted by (frame, id). ``frame`` 0-based, ``boxes`` 0-based xywh.

    Without ``cls``/``vis`` the line is the tracker format ``frame,id,x,y,w,h,conf,-1,-1,-1``; with
    them, the MOT16/17 ground-truth format ``frame,id,x,y,w,h,conf,class,visibility``.
    """
    frame = np.asarray(frame, dtype=np.int64).reshape(-1)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    conf = np.ones(len(frame)) if conf is None else np.asarray(conf, dtype=np.float64).reshape(-1)
    if not (len(frame) == len(ids) == len(boxes) == len(conf)):
        raise InputError(path, "frame, ids, boxes and conf must have the same length")
    order = np.lexsort((ids, frame))
    lines = []
    for i in order:
        x, y, w, h = boxes[i]
        head = f"{frame[i] + 1},{ids[i]},{_fmt(x + 1)},{_fmt(y + 1)},{_fmt(w)},{_fmt(h)},{_fmt(conf[i])}"
        if cls is None:
            lines.append(head + ",-1,-1,-1")
        else:
            lines.append(f"{head},{int(cls[i])},{_fmt(vis[i] if vis is not None else 1.0)}")
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def mots_line(frame: int, obj_id: int, class_id: int, rle: dict) -> str:
    """One MOTS20 line from a 0-based frame and a pycocotools RLE."""
    h, w = rle["size"]
    counts = rle["counts"].decode("ascii") if isinstance(rle["counts"], bytes) else rle["counts"]
    return f"{frame + 1} {obj_id} {class_id} {h} {w} {counts}"


def write_mots(path: str | os.PathLike, frame: np.ndarray, obj_id: np.ndarray, class_id: np.ndarray, masks=None, rles=None) -> None:
    """MOTS20 txt ``frame id class h w rle`` (frames written 1-based), sorted by (frame, id).

    Give either ``masks`` (bool ``[N, H, W]`` or a list of ``[H, W]``) or ``rles`` (pycocotools dicts).
    Overlapping masks in one frame are not resolved here: the MOTS20 tools reject them, so the
    caller (a head) decides who owns a pixel.
    """
    if (masks is None) == (rles is None):
        raise InputError(path, "give exactly one of masks or rles")
    if rles is None:
        rles = [encode_mask(np.asarray(m)) for m in masks]
    frame = np.asarray(frame, dtype=np.int64).reshape(-1)
    obj_id = np.asarray(obj_id, dtype=np.int64).reshape(-1)
    class_id = np.asarray(class_id, dtype=np.int64).reshape(-1)
    if not (len(frame) == len(obj_id) == len(class_id) == len(rles)):
        raise InputError(path, "frame, obj_id, class_id and masks must have the same length")
    order = np.lexsort((obj_id, frame))
    text = "".join(mots_line(int(frame[i]), int(obj_id[i]), int(class_id[i]), rles[i]) + "\n" for i in order)
    atomic_write_text(path, text)


def write_pose_json(path: str | os.PathLike, joints: np.ndarray) -> None:
    """Pose predictions ``{"joints": [[[x, y] x 15] x T]}``, 0-based pixels of the original frames."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 2):
        raise InputError(path, f"joints must be [T, {NUM_JOINTS}, 2], got {list(joints.shape)}")
    atomic_write_json(path, {"joints": np.round(joints, 3).tolist()}, indent=None)


def read_pose_json(path: str | os.PathLike) -> np.ndarray:
    """The inverse of :func:`write_pose_json`: float ``[T, 15, 2]``, 0-based."""
    import json

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "missing pose prediction file")
    try:
        obj = json.loads(path.read_text())
        joints = np.asarray(obj["joints"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"expected {{\"joints\": [[[x, y] x {NUM_JOINTS}] x T]}}: {exc}") from None
    if joints.size == 0:
        return np.zeros((0, NUM_JOINTS, 2))
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 2):
        raise InputError(path, f"joints must be [T, {NUM_JOINTS}, 2], got {list(joints.shape)}")
    return joints
