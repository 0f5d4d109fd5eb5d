"""One exception type for bad input.

Every reader, loader and CLI verb raises :class:`InputError` when what the user
gave it is wrong (missing or corrupt file, malformed JSON or annotation line,
wrong tensor shape). The message is one line that names the file (and line or
entry where there is one) and the problem; the CLIs print it as
``error: <message>`` and exit with status 2, without a traceback.
"""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad user input: a one-line message naming the file and the problem."""

    def __init__(self, path: str | os.PathLike | None, problem: str, line: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        self.line = line
        where = "" if self.path is None else (f"{self.path}:{line}: " if line is not None else f"{self.path}: ")
        super().__init__(f"{where}{problem}")


class MissingWeightsError(InputError):
    """Pretrained weights that cannot be had offline; the message says how to supply them."""
