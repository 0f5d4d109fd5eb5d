"""Atomic writes: a file is either absent or complete, never half-written.

Write to a temporary file in the destination's own directory (so the final
``os.replace`` is a rename on one file system), flush and fsync, then replace.
A run killed mid-write leaves at most a ``.tmp-*`` file behind, which readers
ignore, and never a truncated checkpoint, cache or feature file. The result gets the
permissions a plain ``open()`` would give it (0666 less the umask), not mkstemp's 0600, so
checkpoints and caches on a shared machine stay readable by the group as usual.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` would create a file with: 0666 less the process umask.

    Linux reports the umask in ``/proc/self/status``; elsewhere it is read by setting it and putting
    it back, which briefly leaves other threads creating files with umask 0.
    """
    try:
        match = re.search(r"^Umask:\s*([0-7]+)", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        match = None
    if match:
        umask = int(match.group(1), 8)
    else:
        umask = os.umask(0)
        os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # a write() error names no file: name it
            raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def save_safetensors_atomic(tensors: dict, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """``safetensors.torch.save`` into a temporary file, then rename."""
    from safetensors.torch import save

    blob = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)
    with atomic_write(path, "wb") as f:
        f.write(blob)
