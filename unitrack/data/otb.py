"""OTB-2015 (single-object tracking): ``ROOT/<Seq>/img/0001.jpg`` and ``ROOT/<Seq>/groundtruth_rect.txt``.

Boxes are ``x, y, w, h`` with OTB's 1-based pixel coordinates on disk, separated by commas, tabs or
spaces. In memory they are **0-based** (``x - 1, y - 1``): the top-left pixel is (0, 0), as in
NumPy/OpenCV, so a box indexes ``frame[y:y+h, x:x+w]`` directly. Writers add the 1 back.

OTB's irregular sequences follow the GOT-10k toolkit: two targets in Jogging and Skating2
(``groundtruth_rect.1.txt`` / ``.2.txt``, listed as ``Jogging.1`` / ``Jogging.2``) and a few sequences
whose annotated frames are a sub-range of the image folder (:data:`FRAME_RANGES`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames, expect_frames, list_images, parse_numbers, read_lines
from videossl.errors import InputError

GT_FILE = "groundtruth_rect.txt"
# 1-based first and last annotated frame where it is not the whole folder (OTB's own cfg)
# (the GOT-10k toolkit's table); elsewhere the annotation starts at the folder's first image (BlurCar1's is 0247.jpg)
FRAME_RANGES = {"David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283), "Diving": (1, 215)}


@dataclass
class OTBSequence(LazyFrames):
    """One OTB target: ``frames[t]`` is annotated by ``boxes[t]`` (float ``[T, 4]``, 0-based xywh)."""

    name: str
    frame_dir: Path
    frames: list[Path]
    boxes: np.ndarray
    gt_path: Path

    @property
    def init_box(self) -> np.ndarray:
        return self.boxes[0]


def read_boxes(path: str | os.PathLike) -> np.ndarray:
    """An OTB-style box file (ground truth or prediction) as float ``[T, 4]`` 0-based xywh."""
    path = Path(path)
    rows = []
    for i, line in enumerate(read_lines(path, "box file"), 1):
        if not line.strip():
            continue
        rows.append(parse_numbers(line, path, i, 4, 4))
    if not rows:
        raise InputError(path, "no boxes in file")
    boxes = np.asarray(rows, dtype=np.float64)
    boxes[:, :2] -= 1.0
    return boxes


def _targets(seq_dir: Path) -> list[tuple[str, Path]]:
    if (seq_dir / GT_FILE).is_file():
        return [(seq_dir.name, seq_dir / GT_FILE)]
    multi = sorted(seq_dir.glob("groundtruth_rect.*.txt"))
    return [(f"{seq_dir.name}.{p.name.split('.')[1]}", p) for p in multi]


def list_sequences(root: str | os.PathLike) -> list[str]:
    """Names of the sequences under ``root`` (sorted), one per annotated target."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "missing OTB root folder")
    names = [name for d in sorted(root.iterdir()) if d.is_dir() and (d / "img").is_dir() for name, _ in _targets(d)]
    if not names:
        raise InputError(root, f"no OTB sequences (<Seq>/img + {GT_FILE}) under this folder")
    return names


def load_sequence(root: str | os.PathLike, name: str) -> OTBSequence:
    """Read one sequence's boxes and check that every annotated frame exists."""
    root = Path(root)
    base, _, target = name.partition(".")
    seq_dir = root / base
    gt_path = seq_dir / (f"groundtruth_rect.{target}.txt" if target else GT_FILE)
    boxes = read_boxes(gt_path)
    img_dir = seq_dir / "img"
    first_image = list_images(img_dir)[0]
    ext = first_image.suffix
    if base in FRAME_RANGES:
        first, last = FRAME_RANGES[base]
    else:
        first = int(first_image.stem) if first_image.stem.isdigit() else 1
        last = first + len(boxes) - 1
    n = min(len(boxes), last - first + 1)
    frames = expect_frames(img_dir, [f"{k:04d}{ext}" for k in range(first, first + n)])
    return OTBSequence(name=name, frame_dir=img_dir, frames=frames, boxes=boxes[:n], gt_path=gt_path)
