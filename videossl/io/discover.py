"""Turn command-line inputs (files, folders of videos, frame folders) into a list of named videos.

Rules, so that ``videossl extract`` accepts what people have on disk:

* a file given explicitly is always a video, whatever its extension (a bad one
  fails later, is reported, and does not stop the others);
* a folder that directly holds images is one video (a frame folder);
* any other folder is searched recursively for video files (by extension) and
  for frame folders (the datasets' ``<seq>/img1``, ``JPEGImages/480p/<seq>``).

Each video gets a name for its output file: the file's stem for an explicit
file, otherwise its path relative to the folder given, with ``/`` turned into
``__``. A frame folder named ``img``/``img1``/``images``/``frames`` is named
after its parent (OTB's ``<Seq>/img``, MOT's ``<SEQ>/img1``). Name clashes get
``-2``, ``-3``... so no output overwrites another. Bytes of a name that are not UTF-8 are spelled
out (``a\\xff.mp4`` -> ``a\\xff.safetensors``), so every output name is valid text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from videossl.io.reader import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from videossl.utils.outputs import display_path

_GENERIC_FRAME_DIRS = {"img", "img1", "images", "frames", "rgb"}


def _has_images(folder: Path) -> bool:
    try:
        return any(e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS) for e in os.scandir(folder))
    except OSError:
        return False


def _name_of(rel: Path) -> str:
    parts = list(rel.parts)
    if len(parts) > 1 and parts[-1].lower() in _GENERIC_FRAME_DIRS:
        parts = parts[:-1]
    if parts:
        parts[-1] = parts[-1] if not parts[-1].lower().endswith(VIDEO_EXTENSIONS) else Path(parts[-1]).stem
    return "__".join(parts)


def _scan(root: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        if here != root and _has_images(here):
            found.append((_name_of(here.relative_to(root)), str(here)))
            dirnames[:] = []  # a frame folder's subfolders are not videos of their own
            continue
        for f in sorted(filenames):
            if f.lower().endswith(VIDEO_EXTENSIONS) and not f.startswith("."):
                found.append((_name_of((here / f).relative_to(root)), str(here / f)))
    return found


def find_videos(inputs: Iterable[str | os.PathLike]) -> list[tuple[str, str]]:
    """``[(name, path)]`` for every video the inputs name; a missing input is kept (it fails when opened)."""
    out: list[tuple[str, str]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            inside = [] if _has_images(p) else _scan(p)
            if inside:
                out.extend(inside)
            else:  # a frame folder; an empty folder is kept too, so that it is reported as failing
                full = p.resolve()
                out.append((full.parent.name if full.name.lower() in _GENERIC_FRAME_DIRS else full.name, str(p)))
        else:
            out.append((p.stem if p.suffix.lower() in VIDEO_EXTENSIONS else p.name, str(p)))
    seen: dict[str, int] = {}
    named = []
    for name, path in out:
        name = display_path(name)  # output names are UTF-8: a file name that is not gets "\\xff" spelled out
        n = seen.get(name, 0) + 1
        seen[name] = n
        named.append((name if n == 1 else f"{name}-{n}", path))
    return named
