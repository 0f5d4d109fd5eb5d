"""DAVIS (video object segmentation), semi-supervised: the 2017 layout and the original 2016 one, detected.

DAVIS-2017 (``dataset_format="davis2017"``): ``ROOT/JPEGImages/480p/<seq>/00000.jpg``,
``ROOT/Annotations/480p/<seq>/00000.png`` (indexed PNG, palette index = object id, 0 = background,
255 = "void" in some releases) and the split lists ``ROOT/ImageSets/2017/{train,val}.txt`` (one name a line).

DAVIS-2016 (``dataset_format="davis2016"``): the same folders, masks greyscale 0/255 (one object), and split
lists ``ROOT/ImageSets/480p/{train,val,trainval}.txt`` whose lines are path pairs
``/JPEGImages/480p/<seq>/00000.jpg /Annotations/480p/<seq>/00000.png`` (a line per frame). A DAVIS-2017
root read with ``dataset_format="davis2016"`` uses its ``ImageSets/2016/<split>.txt`` name lists (the
2016 sequences inside the 2017 release, whose masks may hold several ids). Either way a 2016 sequence is
**one object**: as the official DAVIS-2016 code (``fperazzi/davis``, ``python/lib/davis/dataset/loader.py``
reads masks with ``skimage.io.imread(as_grey=True)`` and ``measures/jaccard.py`` casts them to bool), any
non-zero pixel is the object and there is no void; masks come out as 0/1 id maps.

``dataset_format=None`` detects the layout: ``ImageSets/2017`` -> davis2017; else ``ImageSets/<res>``
(``480p``/``1080p``) or ``ImageSets/2016`` -> davis2016. Validation releases annotate every frame; the
test sets only the first: a sequence's ``annotations`` maps frame position -> PNG path for those that
exist, and the first frame's annotation is required (it is the semi-supervised input).

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


def read_mask(path: str | os.PathLike, size: tuple[int, int] | None = None, binary: bool = False) -> np.ndarray:
    """An indexed PNG as ``uint8 [H, W]`` ids; ``size=(H, W)`` checks it against its frame.

    Indexed ('P') PNGs give their palette indices; greyscale ones their values. An RGB PNG is refused:
    its colours are not ids. ``binary=True`` (DAVIS-2016) gives 1 where the official loader's
    ``imread(as_grey=True)`` is non-zero (any non-black colour, any non-zero grey), else 0, and takes RGB too.
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "missing annotation file")
    try:
        with Image.open(path) as im:
            if binary:
                mask = _nonzero(im)
            elif im.mode not in ("P", "L", "1"):
                raise InputError(path, f"mask must be an indexed (palette) or greyscale PNG, got mode {im.mode}")
            else:
                mask = np.asarray(im if im.mode != "1" else im.convert("L"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(path, f"cannot read mask: {exc}") from None
    if size is not None and mask.shape != tuple(size):
        raise InputError(path, f"mask is {mask.shape[0]}x{mask.shape[1]} (HxW) but its frame is {size[0]}x{size[1]}")
    return mask


def _nonzero(im) -> np.ndarray:
    """0/1 ``uint8`` map of the pixels a greyscale reading calls non-zero (colour images: any channel)."""
    if im.mode in ("P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LA"):
        rgb = np.asarray(im.convert("RGB"))
        return rgb.any(axis=2).astype(np.uint8)
    return (np.asarray(im) != 0).astype(np.uint8)


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
    dataset_format: str = "davis2017"

    @property
    def binary(self) -> bool:
        """DAVIS-2016: one object, any non-zero mask pixel (0/1 maps from :meth:`load_mask`)."""
        return self.dataset_format == "davis2016"

    @property
    def frame_names(self) -> list[str]:
        """Frame stems (``00000`` ...): the file names predictions use."""
        return [p.stem for p in self.frames]

    def load_mask(self, t: int) -> np.ndarray:
        """Object-id map of frame ``t`` (``uint8 [H, W]``), checked against the frame size."""
        if t not in self.annotations:
            raise InputError(self.frame_dir, f"frame {t} of {self.name} has no annotation")
        return read_mask(self.annotations[t], (self.height, self.width), self.binary)

    def first_mask(self) -> np.ndarray:
        return self.load_mask(0)


FORMATS = ("davis2016", "davis2017")
_RESOLUTIONS = ("480p", "1080p")


def detect_format(root: str | os.PathLike, dataset_format: str | None = None) -> str:
    """``"davis2017"`` or ``"davis2016"``: ``dataset_format`` checked, or the layout of ``root`` detected."""
    if dataset_format is not None:
        if dataset_format not in FORMATS:
            raise InputError(None, f"unknown DAVIS dataset format {dataset_format!r} (expected {' or '.join(FORMATS)})")
        return dataset_format
    sets = Path(root) / "ImageSets"
    if (sets / "2017").is_dir():
        return "davis2017"
    if any((sets / r).is_dir() for r in (*_RESOLUTIONS, "2016")):
        return "davis2016"
    raise InputError(sets, "missing DAVIS split list folder (ImageSets/2017/ for DAVIS-2017, ImageSets/480p/ for "
                           "DAVIS-2016)")


def _split_file(root: Path, split: str, fmt: str) -> Path:
    sets = root / "ImageSets"
    if fmt == "davis2017":
        return sets / "2017" / f"{split}.txt"
    for sub in (*_RESOLUTIONS, "2016"):
        if (sets / sub / f"{split}.txt").is_file():
            return sets / sub / f"{split}.txt"
    have = sorted({p.stem for sub in (*_RESOLUTIONS, "2016") for p in (sets / sub).glob("*.txt")})
    raise InputError(sets / _RESOLUTIONS[0] / f"{split}.txt",
                     f"missing DAVIS-2016 split list (lists here: {', '.join(have) or 'none'}; "
                     "name the sequences with --sequences to run without it)")


def _names_2016(path: Path, lines: list[str]) -> list[str]:
    """Sequence names, in order, of a 2016 list: ``/JPEGImages/480p/<seq>/<f>.jpg /Annotations/...`` pairs
    (or bare names, as the ``ImageSets/2016`` lists of the 2017 release have)."""
    names: dict[str, None] = {}
    for i, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 1 and "/" not in fields[0]:
            names[fields[0]] = None
            continue
        parts = [p for p in fields[0].split("/") if p]
        if len(fields) > 2 or len(parts) < 4 or parts[0] != "JPEGImages":
            raise InputError(path, "expected '/JPEGImages/<res>/<seq>/<frame>.jpg /Annotations/<res>/<seq>/"
                                   f"<frame>.png', got {line.strip()!r}", line=i)
        names[parts[2]] = None
    return list(names)


def list_sequences(root: str | os.PathLike, split: str = "val", year: str = "2017",
                   dataset_format: str | None = None) -> list[str]:
    """Sequence names of the split list (order kept, blank lines skipped).

    DAVIS-2017: ``ImageSets/<year>/<split>.txt``; DAVIS-2016: ``ImageSets/480p/<split>.txt`` (path pairs),
    else ``ImageSets/2016/<split>.txt`` (names). ``dataset_format``: ``"davis2016"``, ``"davis2017"`` or
    ``None`` (detected, see :func:`detect_format`).
    """
    root = Path(root)
    fmt = detect_format(root, dataset_format)
    path = root / "ImageSets" / year / f"{split}.txt" if fmt == "davis2017" else _split_file(root, split, fmt)
    lines = read_lines(path, "DAVIS split list")
    names = [line.strip() for line in lines if line.strip()] if fmt == "davis2017" else _names_2016(path, lines)
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


def load_sequence(root: str | os.PathLike, name: str, resolution: str = RESOLUTION,
                  dataset_format: str | None = None) -> DAVISSequence:
    """Frames and annotation paths of one sequence; checks the first mask's size and its object ids.

    ``dataset_format`` as in :func:`list_sequences`; a DAVIS-2016 sequence's masks read as 0/1 (one object).
    """
    root = Path(root)
    fmt = detect_format(root, dataset_format)
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
    first = read_mask(annotations[0], (height, width), binary=fmt == "davis2016")
    ids = sorted(int(v) for v in np.unique(first) if v not in (0, 255))
    return DAVISSequence(name, frame_dir, frames, annotations, height, width, ids, fmt)
