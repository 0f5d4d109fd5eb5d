"""Helpers every dataset reader shares: checked text reading, numeric line parsing, frame lists, lazy video.

Readers never decode frames up front: a sequence keeps the list of its frame paths (checked to
exist, so a missing frame fails at load time with the file named) and opens them through
``videossl.io.open_video`` only when asked. Every bad-input failure is a
``videossl.errors.InputError`` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np

from videossl.errors import InputError

IMAGE_EXTS = (".jpg", ".jpeg", ".png")
_SPLIT = re.compile(r"[,\s]+")


def warn(path: str | os.PathLike | None, problem: str, line: int | None = None) -> None:
    """One ``warning: FILE[:LINE]: problem`` line on stderr (the house form: no Python warning machinery,
    no source line), for input that is odd but still scored or read, as the message says."""
    where = "" if path is None else (f"{os.fspath(path)}:{line}: " if line is not None else f"{os.fspath(path)}: ")
    print(f"warning: {where}{problem}", file=sys.stderr)


def read_lines(path: str | os.PathLike, what: str = "annotation file") -> list[str]:
    """The file's lines (no trailing newline); a missing or unreadable file is an ``InputError``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"missing {what}")
    try:
        return path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read {what}: {exc}") from None


def parse_numbers(line: str, path: Path, lineno: int, min_fields: int, max_fields: int | None = None) -> list[float]:
    """Split a comma/tab/space separated line into floats, checking the field count.

    ``lineno`` is 1-based, as editors show it, so the error points at the right line.
    """
    fields = [f for f in _SPLIT.split(line.strip()) if f]
    if len(fields) < min_fields or (max_fields is not None and len(fields) > max_fields):
        want = f"{min_fields}" if max_fields == min_fields else f"at least {min_fields}"
        raise InputError(path, f"expected {want} numbers, got {len(fields)}: {line.strip()!r}", line=lineno)
    try:
        return [float(f) for f in fields]
    except ValueError:
        raise InputError(path, f"not a number in {line.strip()!r}", line=lineno) from None


def list_images(folder: str | os.PathLike, what: str = "frame folder") -> list[Path]:
    """Sorted image files of a folder; a missing or empty folder is an ``InputError``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, f"missing {what}")
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))
    if not frames:
        raise InputError(folder, f"no frames (jpg/png) in {what}")
    return frames


def expect_frames(folder: Path, names: list[str]) -> list[Path]:
    """Paths of the named frames, raising for the first one that does not exist."""
    if not folder.is_dir():
        raise InputError(folder, "missing frame folder")
    present = set(os.listdir(folder))
    for name in names:
        if name not in present:
            raise InputError(folder / name, "missing frame")
    return [folder / n for n in names]


def image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image from its header only (no decoding)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read image: {exc}") from None


class LazyFrames:
    """Mixin for sequence dataclasses with ``frame_dir`` and ``frames``: decode on demand."""

    frame_dir: Path
    frames: list[Path]

    def __len__(self) -> int:
        return len(self.frames)

    def video(self):
        """A ``videossl.io`` reader over the frame folder (imported here so reading annotations never needs it)."""
        from videossl.io import open_video

        return open_video(self.frame_dir)

    def load_frames(self, indices) -> np.ndarray:
        """``uint8 [N,H,W,3]`` RGB frames at 0-based positions of ``frames``.

        Reads the listed paths themselves (not the folder), so a sequence whose annotated frames are a
        sub-range of its folder (some OTB ones) still indexes by annotation.
        """
        return np.stack([read_rgb(self.frames[i]) for i in indices])


def read_rgb(path: Path) -> np.ndarray:
    """One image as ``uint8 [H,W,3]`` RGB."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read image: {exc}") from None
