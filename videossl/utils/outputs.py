"""Outputs that cannot be written: checked before any work, reported in one line when a disk fills up.

``check_output_dir(path)`` is called by every command before it builds a model or reads a video:
it creates the folder and writes (then removes) a small probe file, so a read-only mount, a full
disk or a path that is a file fails at once with one line naming the folder, not after an hour of
work. A disk can still fill up later; :func:`is_disk_full` tells the write errors that no retry
will cure (no space, quota, read-only, file too large) from the others, and
:class:`OutputError` carries the one-line message (the CLIs exit with status 4 on it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from videossl.errors import InputError

#: write errors that the next file will hit too: stop cleanly instead of trying every video
FATAL_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
_PHRASES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EFBIG: "file too large for the file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
PROBE_BYTES = 64 * 1024  # the probe must fit: a folder with less room than this is reported as full


class OutputError(InputError):
    """An output that cannot be written (read-only, full, not a folder); the CLIs exit with status 4."""

    exit_code = 4


def display_path(path: str | os.PathLike | bytes) -> str:
    """A path as printable text: bytes that are not UTF-8 shown as ``\\xff`` (never a surrogate that
    breaks ``print``, JSON readers or safetensors metadata)."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def describe_os_error(exc: OSError) -> str:
    """``"no space left on device"`` and the like: the errno in words, without Python's decoration."""
    return _PHRASES.get(exc.errno, (exc.strerror or str(exc) or type(exc).__name__).lower())


def is_disk_full(exc: BaseException) -> bool:
    """True for write errors every further write would hit too (full, quota, read-only, too large)."""
    return isinstance(exc, OSError) and exc.errno in FATAL_WRITE_ERRNOS


def check_output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Create ``path`` (a folder) and prove it writable with a probe file; OutputError otherwise."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(display_path(p), f"{flag} names a folder, but this is a file")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp-write-check.", dir=p)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"\0" * PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(probe)
    except OSError as exc:
        hint = "free space or choose" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "choose"
        raise OutputError(display_path(p), f"cannot write here ({describe_os_error(exc)}); {hint} another {flag}") from None
    return p


def write_failure(exc: OSError, fallback_path: str | os.PathLike | None = None) -> OutputError:
    """One-line OutputError for a failed write, naming the file (the errno's own or ``fallback_path``)."""
    where = exc.filename if exc.filename is not None else fallback_path
    return OutputError(None if where is None else display_path(where), f"cannot write: {describe_os_error(exc)}")

