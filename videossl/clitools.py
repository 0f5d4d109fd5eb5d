"""The plumbing both console scripts share: sub-commands gathered from their modules, one error line for bad input.

Each command module defines ``register(subparsers)`` which adds its parser and
sets ``func=`` to a function taking the parsed ``args`` and returning an exit
code. The dispatcher imports only the module of the command being run, so
``videossl --help`` stays fast and one command's heavy imports never slow another.
"""

from __future__ import annotations

import argparse
import errno
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
    """Parse, run the command; bad input is one ``error:`` line and status 2, an output that cannot be
    written one line and status 4 (see ``docs/robustness.md``)."""
    from videossl.utils.outputs import OutputError, describe_os_error, display_path, is_disk_full

    _printable_paths()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog, description, command_modules, argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return OutputError.exit_code
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write that failed outside the commands' own checks (a disk filled up)
        if not (is_disk_full(exc) or exc.errno in (errno.EACCES, errno.EPERM)):
            raise
        where = f"{display_path(exc.filename)}: " if exc.filename is not None else ""
        print(f"error: {where}cannot write: {describe_os_error(exc)} (finished outputs are kept; "
              "free space and re-run the same command to resume)", file=sys.stderr)
        return OutputError.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished outputs are kept; re-run the same command to resume", file=sys.stderr)
        return 130


def _printable_paths() -> None:
    """File names that are not UTF-8 print as ``\\xff`` instead of raising UnicodeEncodeError mid-run."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # a replaced stream (pytest's capture, a pipe wrapper)
            pass


# -- shared arguments: one meaning per flag in every command of both CLIs -----------------------------
# --out            a folder (the command's files go inside it), checked writable before any work
# --pretrained     the weights argument of create_model (tag, Hugging Face id, local path, random, default)
# --decode-threads threads decoding/resizing video frames inside this process
# --loader-workers DataLoader worker processes (training)
# --no-progress    no progress bars; results and logs are the same
PRETRAINED_HELP = ("weights, passed to create_model: a tag (openai, imagenet), a Hugging Face id, a local "
                   ".safetensors/.pt path, 'random', or 'default' (the model's own: the shipped checkpoint for "
                   "videossl-tiny, random for the others)")


def _whole_number(text: str, least: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--num-frames 0`` is an error, not a silent default)."""
    return _whole_number(text, 1, "must be at least 1")


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _whole_number(text, 0, "must be 0 or more")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``--fps -5`` is an error before any work)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def add_progress_arg(p: argparse.ArgumentParser) -> None:
    """``--no-progress``: every long command has it, with this meaning."""
    p.add_argument("--no-progress", action="store_true", help="no progress bars (results and logs are the same)")


def add_out_arg(p: argparse.ArgumentParser, default: str | None = None, required: bool = False,
                inside: str = "its outputs") -> None:
    """``--out DIR``: always a folder; ``inside`` says what the command writes into it."""
    where = "required" if required else (f"default: {default}" if default else "default: not written")
    p.add_argument("--out", default=default, required=required, metavar="DIR",
                   help=f"output folder for {inside} ({where}); checked writable before any work")


def add_pretrained_arg(p: argparse.ArgumentParser, default: str = "default", note: str = "") -> None:
    """``--pretrained``: the weights argument of ``create_model``, the same words everywhere."""
    p.add_argument("--pretrained", default=default, metavar="WEIGHTS",
                   help=PRETRAINED_HELP + (f"; {note}" if note else "") + f" (default here: {default})")


def add_model_arg(p: argparse.ArgumentParser, default: str = "videossl-tiny", note: str = "") -> None:
    """``--model NAME`` checked against the registry while parsing (the names listed in ``--help``)."""
    from videossl.models import list_models

    names = list_models()
    p.add_argument("--model", default=default, choices=names, metavar="NAME",
                   help=f"model from the registry: {', '.join(names)}" + (f"; {note}" if note else "")
                        + f" (default: {default})")


def add_renamed_flag(p: argparse.ArgumentParser, old: str, new: str, dest: str, type=None) -> None:
    """A hidden, deprecated spelling ``old`` of ``new`` (same dest): old command lines keep working
    and print one note; ``--help`` shows only ``new``."""

    class _Renamed(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            print(f"note: {old} is now {new} (one meaning per flag); please use {new}", file=sys.stderr)
            setattr(namespace, dest, values)

    p.add_argument(old, dest=dest, type=type, action=_Renamed, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def out_file(out: str | None, default_dir: str, name: str, legacy_suffix: str, flag: str = "--out"):
    """The file ``name`` inside the ``--out`` folder (checked writable). A value ending in ``legacy_suffix``
    (the old file form of ``--out``) is still taken as that file, with one note."""
    from pathlib import Path

    from videossl.utils.outputs import check_output_dir

    if out is not None and str(out).lower().endswith(legacy_suffix) and not Path(out).is_dir():
        print(f"note: {flag} now names a folder ({flag} DIR writes DIR/{name}); writing {out} as given",
              file=sys.stderr)
        check_output_dir(Path(out).parent if str(Path(out).parent) else ".", flag)
        return Path(out)
    return check_output_dir(out or default_dir, flag) / name
