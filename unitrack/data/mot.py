"""MOTChallenge MOT15/16/17 (multi-object tracking): ``ROOT/<split>/<SEQ>/{img1, gt/gt.txt, det/det.txt, seqinfo.ini}``.

Line formats on disk (comma separated, frames and pixels 1-based):

* ``gt.txt`` MOT16/17: ``frame, id, x, y, w, h, conf, class, visibility`` — ``conf`` is the
  "consider" flag (0 = ignore), ``class`` 1 = pedestrian, 2/7/8/12 distractors;
* ``gt.txt`` MOT15: ``frame, id, x, y, w, h, conf, -1, -1, -1`` (world coordinates, no class);
  read with ``cls = -1`` and ``vis = -1``;
* ``det.txt``: ``frame, -1, x, y, w, h, score, ...`` (public detections).

In memory (:class:`MOTRows`): ``frame`` is the **0-based** position in ``frames`` (file frame - 1) and
boxes are **0-based** xywh (file x - 1, y - 1). :func:`unitrack.data.writers.write_mot` adds the ones back.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames, expect_frames, parse_numbers, read_lines
from videossl.errors import InputError


@dataclass
class MOTRows:
    """Rows of a MOTChallenge file as column arrays (all length N)."""

    frame: np.ndarray  # int64, 0-based frame index
    ids: np.ndarray  # int64 track id (-1 for detections)
    boxes: np.ndarray  # float64 [N, 4] 0-based xywh
    conf: np.ndarray  # float64: gt "consider" flag (0/1) or detection score
    cls: np.ndarray  # int64 class, -1 where the file has none (MOT15, detections)
    vis: np.ndarray  # float64 visibility in [0, 1], -1 where absent

    def __len__(self) -> int:
        return len(self.frame)

    def at(self, t: int) -> "MOTRows":
        """The rows of 0-based frame ``t``."""
        return self.select(self.frame == t)

    def select(self, keep: np.ndarray) -> "MOTRows":
        return MOTRows(self.frame[keep], self.ids[keep], self.boxes[keep], self.conf[keep], self.cls[keep], self.vis[keep])

    @staticmethod
    def empty() -> "MOTRows":
        z = np.zeros(0)
        return MOTRows(z.astype(np.int64), z.astype(np.int64), np.zeros((0, 4)), z, z.astype(np.int64), z)


def read_mot_txt(path: str | os.PathLike, num_frames: int | None = None) -> MOTRows:
    """A MOTChallenge txt (gt, det or a tracker's output) as :class:`MOTRows`; an empty file is allowed.

    ``num_frames`` checks that each frame number lies in ``1..num_frames``.
    """
    path = Path(path)
    rows = []
    for i, line in enumerate(read_lines(path, "MOTChallenge txt"), 1):
        if not line.strip():
            continue
        vals = parse_numbers(line, path, i, 6)
        if vals[0] != int(vals[0]) or vals[0] < 1 or (num_frames is not None and vals[0] > num_frames):
            limit = f" (sequence has {num_frames} frames)" if num_frames is not None else ""
            raise InputError(path, f"bad frame number {vals[0]:g}{limit}", line=i)
        if vals[4] < 0 or vals[5] < 0:
            raise InputError(path, f"negative box size {vals[4]:g}x{vals[5]:g}", line=i)
        vals += [1.0, -1.0, -1.0][max(0, len(vals) - 6):]
        rows.append(vals[:9])
    if not rows:
        return MOTRows.empty()
    a = np.asarray(rows, dtype=np.float64)
    boxes = a[:, 2:6].copy()
    boxes[:, :2] -= 1.0
    return MOTRows(a[:, 0].astype(np.int64) - 1, a[:, 1].astype(np.int64), boxes, a[:, 6], a[:, 7].astype(np.int64), a[:, 8])


def read_seqinfo(path: str | os.PathLike) -> dict[str, str]:
    """The ``[Sequence]`` section of ``seqinfo.ini`` (keys as written: name, imDir, frameRate, seqLength, imWidth, imHeight, imExt)."""
    path = Path(path)
    text = "\n".join(read_lines(path, "seqinfo.ini"))
    cp = configparser.ConfigParser()
    cp.optionxform = str
    try:
        cp.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise InputError(path, f"malformed ini: {str(exc).splitlines()[0]}") from None
    if "Sequence" not in cp:
        raise InputError(path, "no [Sequence] section")
    info = dict(cp["Sequence"])
    for key in ("seqLength", "imWidth", "imHeight"):
        if not info.get(key, "").strip().isdigit():
            raise InputError(path, f"missing or non-integer {key}")
    return info


@dataclass
class MOTSequence(LazyFrames):
    """One MOTChallenge sequence. ``gt``/``det`` are ``None`` where the file is absent (test split / no det)."""

    name: str
    frame_dir: Path
    frames: list[Path]
    width: int
    height: int
    fps: float
    gt: MOTRows | None
    det: MOTRows | None


def list_sequences(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Sequence folders (those with a ``seqinfo.ini``) under ``ROOT/<split>``, sorted."""
    base = Path(root) / split
    if not base.is_dir():
        raise InputError(base, "missing MOTChallenge split folder")
    names = sorted(d.name for d in base.iterdir() if (d / "seqinfo.ini").is_file())
    if not names:
        raise InputError(base, "no sequences (folders with seqinfo.ini)")
    return names


def load_sequence(root: str | os.PathLike, name: str, split: str = "train", require_gt: bool = True) -> MOTSequence:
    """Read ``seqinfo.ini``, check every frame exists, parse ``gt.txt`` (required unless told) and ``det.txt``."""
    seq_dir = Path(root) / split / name
    info = read_seqinfo(seq_dir / "seqinfo.ini")
    n = int(info["seqLength"])
    ext = info.get("imExt", ".jpg")
    frame_dir = seq_dir / info.get("imDir", "img1")
    frames = expect_frames(frame_dir, [f"{k:06d}{ext}" for k in range(1, n + 1)])
    gt_path, det_path = seq_dir / "gt" / "gt.txt", seq_dir / "det" / "det.txt"
    gt = read_mot_txt(gt_path, n) if (require_gt or gt_path.exists()) else None
    det = read_mot_txt(det_path, n) if det_path.exists() else None
    return MOTSequence(name, frame_dir, frames, int(info["imWidth"]), int(info["imHeight"]), float(info.get("frameRate", 30) or 30), gt, det)
