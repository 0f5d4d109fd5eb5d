"""MOTS20 (multi-object tracking and segmentation): ``ROOT/train/<SEQ>/{img1, gt/gt.txt, seqinfo.ini}``.

Each line is ``frame obj_id class_id img_height img_width rle`` (space separated; frames 1-based),
``rle`` the COCO compressed run-length string of a column-major mask (pycocotools). ``obj_id`` is
``class_id * 1000 + k``; class 2 = pedestrian, 1 = car, **10 = ignore region** (a mask of pixels where
nothing is scored, id 10000). Masks of one frame never overlap.

In memory (:class:`MOTSRows`): ``frame`` is the **0-based** frame index; ``rles`` keep pycocotools
dicts (``{"size": [h, w], "counts": bytes}``) so masks are decoded only when asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames, expect_frames, read_lines
from unitrack.data.mot import read_seqinfo
from videossl.errors import InputError

IGNORE_CLASS = 10
CLASS_NAMES = {1: "car", 2: "pedestrian", IGNORE_CLASS: "ignore"}


def encode_mask(mask: np.ndarray) -> dict:
    """A boolean ``[H, W]`` mask as a pycocotools RLE dict (counts as bytes)."""
    from pycocotools import mask as mask_utils

    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def decode_rle(rle: dict) -> np.ndarray:
    """A pycocotools RLE dict as a boolean ``[H, W]`` mask."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode(rle).astype(bool)


def rle_counts(counts: str) -> list[int]:
    """Run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString``), for validation.

    pycocotools accepts any string without complaint and decodes garbage, so the reader checks that
    the characters are legal, the runs non-negative and their sum the mask's size.
    """
    out: list[int] = []
    x = k = 0
    for ch in counts.encode("ascii", "replace"):
        c = ch - 48
        if not 0 <= c < 64:
            raise ValueError(f"illegal character {chr(ch)!r}")
        x |= (c & 0x1F) << (5 * k)
        k += 1
        if c & 0x20:
            continue
        if c & 0x10:
            x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
        x = k = 0
    if k:
        raise ValueError("truncated run")
    return out


@dataclass
class MOTSRows:
    """Lines of a MOTS20 txt as columns (length N) plus the RLE of each."""

    frame: np.ndarray  # int64, 0-based
    obj_id: np.ndarray  # int64, class_id * 1000 + k
    class_id: np.ndarray  # int64
    rles: list[dict]

    def __len__(self) -> int:
        return len(self.frame)

    def at(self, t: int) -> "MOTSRows":
        keep = np.flatnonzero(self.frame == t)
        return MOTSRows(self.frame[keep], self.obj_id[keep], self.class_id[keep], [self.rles[i] for i in keep])

    def masks(self) -> np.ndarray:
        """Decoded masks, ``bool [N, H, W]`` (``[0, 0, 0]`` when empty)."""
        if not self.rles:
            return np.zeros((0, 0, 0), bool)
        return np.stack([decode_rle(r) for r in self.rles])

    @property
    def track_ids(self) -> np.ndarray:
        """``k`` of ``obj_id = class_id * 1000 + k``."""
        return self.obj_id % 1000


def read_mots_txt(path: str | os.PathLike, size: tuple[int, int] | None = None, num_frames: int | None = None) -> MOTSRows:
    """A MOTS20 txt (ground truth or predictions). ``size=(H, W)`` checks every mask against the frame size.

    Empty files are allowed (no objects). Each RLE is validated (:func:`rle_counts`), so a corrupt
    string fails here with its line rather than later inside a metric.
    """
    path = Path(path)
    frames, ids, classes, rles = [], [], [], []
    for i, line in enumerate(read_lines(path, "MOTS txt"), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise InputError(path, f"expected 6 fields 'frame id class h w rle', got {len(parts)}", line=i)
        try:
            t, oid, cls, h, w = (int(p) for p in parts[:5])
        except ValueError:
            raise InputError(path, f"non-integer field in {' '.join(parts[:5])!r}", line=i) from None
        if t < 1 or (num_frames is not None and t > num_frames):
            raise InputError(path, f"bad frame number {t}", line=i)
        if size is not None and (h, w) != tuple(size):
            raise InputError(path, f"mask is {h}x{w} (HxW) but the frames are {size[0]}x{size[1]}", line=i)
        try:
            runs = rle_counts(parts[5])
        except ValueError as exc:
            raise InputError(path, f"bad RLE: {exc}", line=i) from None
        if min(runs, default=0) < 0 or sum(runs) != h * w:
            raise InputError(path, f"bad RLE: runs cover {sum(runs)} pixels, the mask has {h}x{w}", line=i)
        rle = {"size": [h, w], "counts": parts[5].encode("ascii")}
        frames.append(t - 1)
        ids.append(oid)
        classes.append(cls)
        rles.append(rle)
    as_int = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return MOTSRows(as_int(frames), as_int(ids), as_int(classes), rles)


@dataclass
class MOTSSequence(LazyFrames):
    """One MOTS20 sequence: frames plus ground truth (``None`` where ``gt.txt`` is absent and not required)."""

    name: str
    frame_dir: Path
    frames: list[Path]
    width: int
    height: int
    fps: float
    gt: MOTSRows | None


def list_sequences(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Sequence folders (with ``seqinfo.ini``) under ``ROOT/<split>``, sorted."""
    from unitrack.data.mot import list_sequences as _list

    return _list(root, split)


def load_sequence(root: str | os.PathLike, name: str, split: str = "train", require_gt: bool = True) -> MOTSSequence:
    seq_dir = Path(root) / split / name
    info = read_seqinfo(seq_dir / "seqinfo.ini")
    n, h, w = int(info["seqLength"]), int(info["imHeight"]), int(info["imWidth"])
    ext = info.get("imExt", ".jpg")
    frame_dir = seq_dir / info.get("imDir", "img1")
    frames = expect_frames(frame_dir, [f"{k:06d}{ext}" for k in range(1, n + 1)])
    gt_path = seq_dir / "gt" / "gt.txt"
    gt = read_mots_txt(gt_path, (h, w), n) if (require_gt or gt_path.exists()) else None
    return MOTSSequence(name, frame_dir, frames, w, h, float(info.get("frameRate", 30) or 30), gt)
