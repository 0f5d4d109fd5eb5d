"""The concept spaces shipped inside the package (``videossl/prompts/*.json``).

They are package data, found through :mod:`importlib.resources`, so an installed toolkit (not only a
source checkout) has them. The repository's top-level ``prompts/`` is a link to the same folder, so
``--concepts prompts/kinetics.json`` works from a clone and, by name, from anywhere.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from videossl.errors import InputError


def shipped_dir() -> Path:
    """The folder of the shipped concept files (inside the installed package)."""
    return Path(os.fspath(files("videossl") / "prompts"))


def shipped_concepts() -> dict[str, Path]:
    """Shipped concept spaces: stem (``kinetics``, ``ucf101`` ...) -> file."""
    return {p.stem: p for p in sorted(shipped_dir().glob("*.json"))}


def resolve_concepts_path(path: str | os.PathLike) -> Path:
    """``path`` when it exists; otherwise a shipped file named by it (``kinetics``, ``kinetics.json`` or
    ``prompts/kinetics.json``, as the docs write it); otherwise the path itself (the reader then reports it)."""
    p = Path(path)
    if p.exists():
        return p
    shipped = shipped_concepts()
    stem = p.name[:-5] if p.name.endswith(".json") else p.name
    if stem in shipped and (p.parent == Path(".") or p.parent.name == "prompts"):
        return shipped[stem]
    return p


def require_shipped(name: str) -> Path:
    """A shipped concept file by stem; one line listing the shipped ones when there is no such file."""
    shipped = shipped_concepts()
    if name not in shipped:
        raise InputError(shipped_dir() / f"{name}.json",
                         f"no such shipped concept space; shipped: {', '.join(shipped) or 'none'}")
    return shipped[name]
