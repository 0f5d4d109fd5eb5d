"""Readers of the action-recognition evaluation protocols: which videos, which labels, which split.

Every reader returns a list of :class:`Split` (one per official split or subset), each with its
class names, its train and test videos as ``(path, class index)``, and the videos its lists name
that are not on disk (``missing``: reported, never silently dropped; Kinetics always has some).

* **UCF101** (:func:`ucf101_splits`): ``classInd.txt`` (``1 ApplyEyeMakeup``), ``trainlist0k.txt``
  (``ApplyEyeMakeup/v_..._g08_c01.avi 1``), ``testlist0k.txt`` (``ApplyEyeMakeup/v_..._g01_c01.avi``),
  k = 1..3, in ``ROOT/ucfTrainTestlist/`` or ``ROOT/``; videos under ``ROOT`` (any depth). The
  label is the list entry's folder, matched case-insensitively (the official lists write
  ``HandStandPushups`` for the class ``HandstandPushups``).
* **HMDB51** (:func:`hmdb51_splits`): ``<class>_test_split<k>.txt`` files (anywhere under ``ROOT``),
  lines ``<video>.avi <id>`` with id 1 = train, 2 = test, 0 = unused; videos under ``ROOT``.
* **Kinetics-600 novel classes** (:func:`k600_novel_splits`, the ER-ZSAR protocol): the classes of
  the user's K600 annotation CSV (``label,youtube_id,time_start,time_end[,split]``) that are not
  Kinetics-400 classes (220 with the official files; a different count is reported), then three
  subsets of 160 of them drawn with :data:`K600_SEEDS`; the test videos are the annotation's rows
  of those classes. Files are found by ``<youtube_id>_<start:06d>_<end:06d>`` or ``<youtube_id>``.

Splits list every video that exists; reading happens later, in the extraction pipeline.
"""

from __future__ import annotations

import csv
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from videossl.errors import InputError
from videossl.io.reader import VIDEO_EXTENSIONS

K600_NOVEL = 220
K600_SUBSET = 160
K600_SEEDS = (0, 1, 2)


@dataclass
class Split:
    """One evaluation split: ``train``/``test`` are ``(video path, index into classes)``."""

    name: str
    classes: list[str]
    train: list[tuple[str, int]] = field(default_factory=list)
    test: list[tuple[str, int]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    note: str = ""  # a remark for the report (e.g. the K600 novel-class count)


def index_videos(root: str | os.PathLike) -> dict[str, str]:
    """``{file name: path}`` and ``{stem: path}`` of every video file under ``root`` (first one wins)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.lower().endswith(VIDEO_EXTENSIONS) and not f.startswith("."):
                p = os.path.join(dirpath, f)
                out.setdefault(f, p)
                out.setdefault(os.path.splitext(f)[0], p)
    return out


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(path, f"cannot read split file: {exc.strerror or exc}") from None
    return [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines()) if ln.strip()]


def _find_file(root: Path, name: str, hint: str) -> Path:
    for cand in (root / hint / name, root / name):
        if cand.is_file():
            return cand
    found = sorted(root.rglob(name))
    if not found:
        raise InputError(root, f"no {name} under this folder")
    return found[0]


# -- UCF101 -------------------------------------------------------------------------------------
def ucf101_splits(root: str | os.PathLike, splits=(1, 2, 3), videos: str | os.PathLike | None = None) -> list[Split]:
    """The official UCF101 splits found under ``root`` (those of ``splits`` that exist; none is an error)."""
    root = Path(root)
    class_file = _find_file(root, "classInd.txt", "ucfTrainTestlist")
    meta = class_file.parent
    classes, lines = [], _lines(class_file)
    for n, ln in lines:
        parts = ln.split(None, 1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise InputError(class_file, f"expected '<index> <class>', got {ln!r}", line=n)
        if int(parts[0]) != len(classes) + 1:
            raise InputError(class_file, f"class indices must run 1, 2, 3, ...; got {parts[0]}", line=n)
        classes.append(parts[1].strip())
    by_lower = {c.lower(): i for i, c in enumerate(classes)}
    index = index_videos(videos or root)
    out = []
    for k in splits:
        test_file = meta / f"testlist{k:02d}.txt"
        if not test_file.is_file():
            continue
        s = Split(f"split{k}", list(classes))
        for part, path in (("train", meta / f"trainlist{k:02d}.txt"), ("test", test_file)):
            if not path.is_file():
                continue
            for n, ln in _lines(path):
                rel = ln.split()[0]
                folder = Path(rel).parent.name.lower()
                if folder not in by_lower:
                    raise InputError(path, f"class folder {Path(rel).parent.name!r} is not in {class_file.name}", line=n)
                label = by_lower[folder]
                if part == "train" and len(ln.split()) > 1 and int(ln.split()[1]) - 1 != label:
                    raise InputError(path, f"label {ln.split()[1]} disagrees with the folder of {rel!r}", line=n)
                found = index.get(Path(rel).name)
                if found is None:
                    s.missing.append(rel)
                else:
                    getattr(s, part).append((found, label))
        out.append(s)
    if not out:
        raise InputError(meta, f"no testlist0k.txt for splits {list(splits)}")
    return out


# -- HMDB51 ------------------------------------------------------------------------------------
_HMDB = re.compile(r"^(?P<cls>.+)_test_split(?P<k>\d)\.txt$")


def hmdb51_splits(root: str | os.PathLike, splits=(1, 2, 3), videos: str | os.PathLike | None = None) -> list[Split]:
    """The official HMDB51 splits (``<class>_test_split<k>.txt``: 1 train, 2 test, 0 unused)."""
    root = Path(root)
    files: dict[int, dict[str, Path]] = {}
    for p in sorted(root.rglob("*_test_split*.txt")):
        m = _HMDB.match(p.name)
        if m:
            files.setdefault(int(m["k"]), {})[m["cls"]] = p
    if not files:
        raise InputError(root, "no HMDB51 split files (<class>_test_split<k>.txt) under this folder")
    index = index_videos(videos or root)
    out = []
    for k in splits:
        if k not in files:
            continue
        classes = sorted(files[k])
        s = Split(f"split{k}", classes)
        for label, cls in enumerate(classes):
            path = files[k][cls]
            for n, ln in _lines(path):
                parts = ln.split()
                if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                    raise InputError(path, f"expected '<video> 0|1|2', got {ln!r}", line=n)
                if parts[1] == "0":
                    continue
                found = index.get(parts[0])
                if found is None:
                    s.missing.append(f"{cls}/{parts[0]}")
                else:
                    (s.train if parts[1] == "1" else s.test).append((found, label))
        out.append(s)
    if not out:
        raise InputError(root, f"no HMDB51 split files for splits {list(splits)} (found {sorted(files)})")
    return out


# -- Kinetics-600 novel classes -----------------------------------------------------------------
def _norm(label: str) -> str:
    return " ".join(label.strip().strip('"').lower().replace("_", " ").split())


def read_kinetics_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of a Kinetics annotation CSV (``label,youtube_id,time_start,time_end[,split]``)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise InputError(path, f"cannot read annotation file: {exc.strerror or exc}") from None
    if not rows or "label" not in rows[0] or "youtube_id" not in rows[0]:
        raise InputError(path, "expected a Kinetics CSV with columns label,youtube_id,time_start,time_end")
    return rows


def read_class_names(path: str | os.PathLike) -> list[str]:
    """Class names from a Kinetics CSV (its ``label`` column), a concept JSON, or a text file."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return sorted({r["label"] for r in read_kinetics_csv(path)})
    if path.suffix.lower() == ".json":
        from videossl.concepts import load_concepts

        return load_concepts(path).class_names
    from videossl.zeroshot import read_class_file

    return read_class_file(path)


def k600_novel_splits(annotations: str | os.PathLike, k400_classes: str | os.PathLike,
                      videos: str | os.PathLike, novel_classes: str | os.PathLike | None = None,
                      seeds=K600_SEEDS, subset: int = K600_SUBSET) -> list[Split]:
    """The K600 novel-class protocol: one :class:`Split` (test only) per seed, ``subset`` classes each.

    ``annotations``: the K600 CSV whose rows are evaluated (the test or validation set);
    ``k400_classes``: the K400 class list (CSV, JSON or text); ``novel_classes``: an explicit
    list of the novel classes, which replaces the set difference when given.
    """
    rows = read_kinetics_csv(annotations)
    k600 = sorted({r["label"].strip() for r in rows})
    if novel_classes is not None:
        wanted = {_norm(c) for c in read_class_names(novel_classes)}
        novel = [c for c in k600 if _norm(c) in wanted]
        if len(novel) != len(wanted):
            raise InputError(novel_classes, f"{len(wanted) - len(novel)} of its classes are not in {Path(annotations).name}")
    else:
        known = {_norm(c) for c in read_class_names(k400_classes)}
        novel = [c for c in k600 if _norm(c) not in known]
    if len(novel) < subset:
        raise InputError(annotations, f"only {len(novel)} classes not in Kinetics-400; the protocol draws {subset}")
    index = index_videos(videos)
    out = []
    for seed in seeds:
        classes = sorted(random.Random(seed).sample(novel, subset))
        label = {c: i for i, c in enumerate(classes)}
        s = Split(f"subset{seed}", classes, note=f"{len(novel)} novel classes (the official files give {K600_NOVEL})")
        for r in rows:
            c = r["label"].strip()
            if c not in label:
                continue
            yid = r["youtube_id"].strip()
            stem = f"{yid}_{int(float(r.get('time_start') or 0)):06d}_{int(float(r.get('time_end') or 0)):06d}"
            found = index.get(stem) or index.get(yid)
            if found is None:
                s.missing.append(stem)
            else:
                s.test.append((found, label[c]))
        out.append(s)
    return out
