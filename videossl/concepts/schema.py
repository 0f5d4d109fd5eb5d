"""Concept-space files (``prompts/*.json``): loading, validation and the incidence matrix.

Two forms are read, because both circulate: the toolkit's own schema
``{"name": ..., "classes": [{"name", "descriptions", "attributes"}]}`` and the CuPL form
``{"class name": ["sentence", ...]}`` (descriptions only, no attributes). Every defect is an
:class:`~videossl.errors.InputError` naming the file and the entry, because these files are
written by a language model and then edited by hand, and a bad entry found at training
start-up must be fixable without reading a traceback.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videossl.errors import InputError


@dataclass
class ConceptClass:
    name: str
    descriptions: list[str]
    attributes: list[str] = field(default_factory=list)


@dataclass
class ConceptSpace:
    """A validated concept space: action classes, their descriptions and attributes.

    ``attribute_vocab`` is sorted so the attribute axis is stable across runs and machines;
    ``incidence[c, a] == 1`` when class ``c`` lists attribute ``attribute_vocab[a]``.
    """

    name: str
    classes: list[ConceptClass]
    path: str | None = None

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def descriptions(self) -> dict[str, list[str]]:
        return {c.name: list(c.descriptions) for c in self.classes}

    @property
    def attributes(self) -> dict[str, list[str]]:
        return {c.name: list(c.attributes) for c in self.classes}

    @property
    def attribute_vocab(self) -> list[str]:
        return sorted({a for c in self.classes for a in c.attributes})

    def incidence(self) -> np.ndarray:
        """float32 ``[C, A]`` action→attribute matrix (rows of classes without attributes are zero)."""
        vocab = {a: i for i, a in enumerate(self.attribute_vocab)}
        m = np.zeros((len(self.classes), len(vocab)), dtype=np.float32)
        for ci, c in enumerate(self.classes):
            for a in c.attributes:
                m[ci, vocab[a]] = 1.0
        return m

    def __len__(self) -> int:
        return len(self.classes)

    def to_json(self) -> dict:
        return {"name": self.name,
                "classes": [{"name": c.name, "descriptions": c.descriptions, "attributes": c.attributes}
                            for c in self.classes]}


def _strings(path, entry: str, key: str, value, allow_empty: bool) -> list[str]:
    if not isinstance(value, list):
        raise InputError(path, f"{entry}: '{key}' must be a list of strings, got {type(value).__name__}")
    if not value and not allow_empty:
        raise InputError(path, f"{entry}: '{key}' is empty")
    out = []
    for i, s in enumerate(value):
        if not isinstance(s, str) or not s.strip():
            raise InputError(path, f"{entry}: {key}[{i}] must be a non-empty string")
        out.append(" ".join(s.split()))
    return out


def parse_concepts(data, path: str | os.PathLike | None = None, default_name: str = "concepts") -> ConceptSpace:
    """Validate already-decoded JSON (either form) into a :class:`ConceptSpace`."""
    if not isinstance(data, dict):
        raise InputError(path, f"top level must be an object, got {type(data).__name__}")
    if "classes" in data:
        raw = data["classes"]
        name = data.get("name", default_name)
        if not isinstance(name, str):
            raise InputError(path, "'name' must be a string")
        if not isinstance(raw, list):
            raise InputError(path, f"'classes' must be a list, got {type(raw).__name__}")
        entries = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise InputError(path, f"classes[{i}]: must be an object with name, descriptions, attributes")
            entries.append((f"classes[{i}]", item.get("name"), item.get("descriptions"),
                            item.get("attributes", []), "descriptions" in item))
    elif "name" in data and not isinstance(data.get("name"), list):
        raise InputError(path, "missing 'classes' (expected {\"name\": ..., \"classes\": [...]})")
    else:  # CuPL: {"class": ["sentence", ...]}
        name = default_name
        entries = [(f"class {k!r}", k, v, [], True) for k, v in data.items()]
    if not entries:
        raise InputError(path, "no classes")
    classes, seen = [], {}
    for entry, cname, descs, attrs, has_descs in entries:
        if cname is not None and not isinstance(cname, str):
            raise InputError(path, f"{entry}: class name must be a string, got {type(cname).__name__} {cname!r} "
                                   f"(write it in quotes: \"{cname}\")")
        if cname is None or not cname.strip():
            raise InputError(path, f"{entry}: empty or missing class name")
        cname = cname.strip()
        entry = f"{entry} ({cname!r})" if entry.startswith("classes[") else entry
        if cname in seen:
            raise InputError(path, f"{entry}: duplicate class name (also {seen[cname]})")
        seen[cname] = entry
        if not has_descs:
            raise InputError(path, f"{entry}: missing 'descriptions'")
        d = _strings(path, entry, "descriptions", descs, allow_empty=False)
        a = list(dict.fromkeys(x.lower() for x in _strings(path, entry, "attributes", attrs, allow_empty=True)))
        classes.append(ConceptClass(cname, d, a))
    return ConceptSpace(name, classes, None if path is None else os.fspath(path))


def load_concepts(path: str | os.PathLike) -> ConceptSpace:
    """Read and validate a concept file (a path, or a shipped space by name: ``kinetics``,
    ``prompts/kinetics.json``); errors name the file and the entry."""
    from videossl.concepts.shipped import resolve_concepts_path

    p = resolve_concepts_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(p, f"cannot read concept file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:  # JSON is UTF-8 (RFC 8259); a Latin-1 or UTF-16 file says so in one line
        raise InputError(p, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                            "save the concept file as UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(p, f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    return parse_concepts(data, p, default_name=p.stem)
