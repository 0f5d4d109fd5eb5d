"""The plumbing both console scripts share: sub-commands gathered from their modules, one error line for bad input.

Each command module defines ``register(subparsers)`` which adds its parser and
sets ``func=`` to a function taking the parsed ``args`` and returning an exit
code. The dispatcher imports only the module of the command being run, so
``videossl --help`` stays fast and one command's heavy imports never slow another.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from videossl.errors import InputError


def build_parser(prog: str, description: str, command_modules: dict[str, str], argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = argv[0] if argv and argv[0] in command_modules else None
    for name, module in command_modules.items():
        if wanted is None or name == wanted:
            importlib.import_module(module).register(sub)
    return parser


def run_cli(prog: str, description: str, command_modules: dict[str, str], argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog, description, command_modules, argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished outputs are kept; re-run the same command to resume", file=sys.stderr)
        return 130


# -- shared flags and checks (one meaning per flag across both CLIs) --------------------------------
def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` (dest ``no_progress``): no tqdm bars, as every videossl/unitrack command means it."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs and results only)")


def ensure_output_dir(path, probe_bytes: int = 4096):
    """Create the output folder ``path`` and prove it takes a file, before any work.

    A read-only or full disk (or a file where the folder should be) is one ``InputError`` line naming the
    path, instead of an ``OSError`` traceback after the first result. Root ignores permission bits, so the
    check writes (and removes) a small probe file rather than asking ``os.access``. Returns ``path`` as a Path.
    """
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp-write-probe.", dir=path)
        try:
            os.write(fd, b"\0" * probe_bytes)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise InputError(exc.filename or path, f"output folder is not writable: {exc.strerror or exc}") from None
    return path
