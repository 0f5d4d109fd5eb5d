"""JHMDB (pose propagation): frames, 15 joints per frame, and the split lists.

Layout: ``ROOT/Rename_Images/<class>/<video>/00001.png``,
``ROOT/joint_positions/<class>/<video>/joint_positions.mat`` (MATLAB file with ``pos_img`` 2 x 15 x T,
1-based pixel x/y; also ``pos_world``, ``scale``, ``viewpoint``), and optionally
``ROOT/splits/<class>_test_split<k>.txt`` with lines ``<video>.avi <1|2>`` (1 = train, 2 = test).

Sequences are named ``<class>/<video>``. In memory, ``joints`` is float ``[T, 15, 2]`` (x, y) in
**0-based** pixel coordinates (``pos_img - 1``), in the order of :data:`JOINT_NAMES`, which is
JHMDB's own. Pose predictions (``RUN/pose/<video>.json``) use the same 0-based convention.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames, expect_frames, read_lines
from videossl.errors import InputError

JOINT_NAMES = (
    "neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
    "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
    "right_ankle", "left_ankle",
)  # fmt: skip
NUM_JOINTS = len(JOINT_NAMES)
# parent of each joint (a tree rooted at the belly), for drawing skeletons
SKELETON = ((0, 1), (0, 2), (0, 3), (0, 4), (1, 5), (1, 6), (3, 7), (4, 8), (5, 9), (6, 10), (7, 11), (8, 12), (9, 13), (10, 14))


@dataclass
class JHMDBSequence(LazyFrames):
    """One JHMDB clip: ``frames[t]`` with ``joints[t]`` (float ``[T, 15, 2]``, 0-based x, y)."""

    name: str  # "<class>/<video>"
    action: str
    frame_dir: Path
    frames: list[Path]
    joints: np.ndarray
    mat_path: Path


def read_joints(path: str | os.PathLike) -> np.ndarray:
    """``pos_img`` of a ``joint_positions.mat`` as float ``[T, 15, 2]`` 0-based (x, y)."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "missing annotation file")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises ValueError / MatReadError / OSError variants
        raise InputError(path, f"cannot read MATLAB file: {exc}") from None
    if "pos_img" not in mat:
        raise InputError(path, "no 'pos_img' variable")
    pos = np.asarray(mat["pos_img"], dtype=np.float64)
    if pos.ndim == 2:  # a one-frame clip loses its last axis in MATLAB
        pos = pos[:, :, None]
    if pos.ndim != 3 or pos.shape[:2] != (2, NUM_JOINTS):
        raise InputError(path, f"pos_img has shape {pos.shape}, expected 2x{NUM_JOINTS}xT")
    return pos.transpose(2, 1, 0) - 1.0


def list_sequences(root: str | os.PathLike, split: int | None = None, subset: str = "test") -> list[str]:
    """``<class>/<video>`` names; with ``split=k``, only those of ``splits/*_test_split<k>.txt`` in ``subset``."""
    root = Path(root)
    ann = root / "joint_positions"
    if not ann.is_dir():
        raise InputError(ann, "missing JHMDB joint_positions folder")
    names = sorted(f"{c.name}/{v.name}" for c in ann.iterdir() if c.is_dir() for v in c.iterdir() if v.is_dir())
    if split is None:
        if not names:
            raise InputError(ann, "no annotated videos")
        return names
    want = {"train": 1, "test": 2}[subset]
    files = sorted((root / "splits").glob(f"*_test_split{split}.txt"))
    if not files:
        raise InputError(root / "splits", f"no *_test_split{split}.txt split files")
    chosen = set()
    for f in files:
        action = f.name[: -len(f"_test_split{split}.txt")]
        for i, line in enumerate(read_lines(f, "split file"), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise InputError(f, f"expected '<video>.avi <1|2>', got {line.strip()!r}", line=i)
            if int(parts[1]) == want:
                chosen.add(f"{action}/{Path(parts[0]).stem}")
    return [n for n in names if n in chosen]


def load_sequence(root: str | os.PathLike, name: str) -> JHMDBSequence:
    """Joints of ``<class>/<video>`` and its frames, checking one frame per annotated time step."""
    root = Path(root)
    action, _, video = name.partition("/")
    if not video:
        raise InputError(None, f"JHMDB sequence names are '<class>/<video>', got {name!r}")
    mat_path = root / "joint_positions" / action / video / "joint_positions.mat"
    joints = read_joints(mat_path)
    frame_dir = root / "Rename_Images" / action / video
    ext = ".png" if (frame_dir / "00001.png").exists() else ".jpg"
    frames = expect_frames(frame_dir, [f"{k:05d}{ext}" for k in range(1, len(joints) + 1)])
    return JHMDBSequence(name, action, frame_dir, frames, joints, mat_path)
