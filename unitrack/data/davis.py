"""DAVIS-2017 (video object segmentation), semi-supervised layout.

``ROOT/JPEGImages/480p/<seq>/00000.jpg``, ``ROOT/Annotations/480p/<seq>/00000.png`` (indexed PNG,
palette index = object id, 0 = background, 255 = "void" in some releases) and the split lists
``ROOT/ImageSets/2017/{train,val}.txt``. Validation releases annotate every frame; the test sets only
the first: a sequence's ``annotations`` maps frame position -> PNG path for those that exist, and
the first frame's annotation is required (it is the semi-supervised input).

Masks are read as ``uint8 [H, W]`` object-id maps, checked to be the size of their frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames, image_size, list_images, read_lines
from videossl.errors import InputError

RESOLUTION = "480p"


def davis_palette() -> np.ndarray:
    """The PASCAL VOC / DAVIS colour map, ``uint8 [256, 3]`` (id 1 red, 2 green, 3 yellow, ...)."""
    pal = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def read_mask(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """An indexed PNG as ``uint8 [H, W]`` ids; ``size=(H, W)`` checks it against its frame.

    Indexed ('P') PNGs give their palette indices; greyscale ones their values. An RGB PNG is refused:
    its colours are not ids.
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "missing annotation file")
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L", "1"):
                raise InputError(path, f"mask must be an indexed (palette) or greyscale PNG, got mode {im.mode}")
            mask = np.asarray(im if im.mode != "1" else im.convert("L"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(path, f"cannot read mask: {exc}") from None
    if size is not None and mask.shape != tuple(size):
        raise InputError(path, f"mask is {mask.shape[0]}x{mask.shape[1]} (HxW) but its frame is {size[0]}x{size[1]}")
    return mask


@dataclass
class DAVISSequence(LazyFrames):
    """One DAVIS video: ``frames[t]`` and, where annotated, ``annotations[t]`` (PNG path)."""

    name: str
    frame_dir: Path
    frames: list[Path]
    annotations: dict[int, Path]
    height: int
    width: int
    object_ids: list[int] = field(default_factory=list)

    @property
    def frame_names(self) -> list[str]:
        """Frame stems (``00000`` ...): the file names predictions use."""
        return [p.stem for p in self.frames]

    def load_mask(self, t: int) -> np.ndarray:
        """Object-id map of frame ``t`` (``uint8 [H, W]``), checked against the frame size."""
        if t not in self.annotations:
            raise InputError(self.frame_dir, f"frame {t} of {self.name} has no annotation")
        return read_mask(self.annotations[t], (self.height, self.width))

    def first_mask(self) -> np.ndarray:
        return self.load_mask(0)


def list_sequences(root: str | os.PathLike, split: str = "val", year: str = "2017") -> list[str]:
    """Sequence names of ``ImageSets/<year>/<split>.txt`` (order kept, blank lines skipped)."""
    path = Path(root) / "ImageSets" / year / f"{split}.txt"
    names = [line.strip() for line in read_lines(path, "DAVIS split list") if line.strip()]
    if not names:
        raise InputError(path, "empty split list")
    return names


def _check_contiguous(frames: list[Path]) -> None:
    """DAVIS frames are numbered 00000, 00001, ...: a gap is a missing frame."""
    if not all(p.stem.isdigit() for p in frames):
        return
    first = int(frames[0].stem)
    for k, p in enumerate(frames):
        if int(p.stem) != first + k:
            missing = p.with_name(f"{first + k:0{len(p.stem)}d}{p.suffix}")
            raise InputError(missing, "missing frame")


def load_sequence(root: str | os.PathLike, name: str, resolution: str = RESOLUTION) -> DAVISSequence:
    """Frames and annotation paths of one sequence; checks the first mask's size and its object ids."""
    root = Path(root)
    frame_dir = root / "JPEGImages" / resolution / name
    ann_dir = root / "Annotations" / resolution / name
    frames = list_images(frame_dir)
    _check_contiguous(frames)
    if not ann_dir.is_dir():
        raise InputError(ann_dir, "missing annotation folder")
    by_stem = {p.stem: i for i, p in enumerate(frames)}
    annotations: dict[int, Path] = {}
    for png in sorted(ann_dir.glob("*.png")):
        if png.stem not in by_stem:
            raise InputError(png, "annotation has no matching frame in " + str(frame_dir))
        annotations[by_stem[png.stem]] = png
    if 0 not in annotations:
        raise InputError(ann_dir / f"{frames[0].stem}.png", "missing annotation file (first frame)")
    height, width = image_size(frames[0])
    first = read_mask(annotations[0], (height, width))
    ids = sorted(int(v) for v in np.unique(first) if v not in (0, 255))
    return DAVISSequence(name, frame_dir, frames, annotations, height, width, ids)
