"""Locating prediction files: a missing folder is an error, a missing or empty file means no predictions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from videossl.errors import InputError


def prediction_dir(pred_dir: str | os.PathLike) -> Path:
    """``pred_dir`` as a Path, which must be an existing folder."""
    path = Path(pred_dir)
    if not path.is_dir():
        raise InputError(path, "missing prediction folder")
    return path


def prediction_file(pred_dir: str | os.PathLike, name: str) -> Path | None:
    """``pred_dir/name`` if it holds anything; ``None`` otherwise (one ``warning:`` line on stderr when absent).

    A sequence without a prediction file is scored as a tracker that output nothing there, as the
    official tools score an empty file, rather than aborting the whole evaluation (TrackEval itself
    refuses to run when a file is missing).
    """
    path = prediction_dir(pred_dir) / name
    if not path.exists():
        print(f"warning: {path}: no prediction file; scored as an empty one (no predictions)", file=sys.stderr)
        return None
    if path.is_file() and not path.read_bytes().strip():
        return None
    return path
