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
