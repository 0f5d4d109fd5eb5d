"""The synthetic tracking benchmark: five tasks written in the real datasets' layouts, cached by seed.

``generate(out, seed, tasks)`` writes ``out/otb``, ``out/davis``, ``out/mot17``, ``out/mots20``,
``out/jhmdb`` (the command ``unitrack data synth``); :func:`ensure_benchmark` returns one task's ROOT
from the cache, generating it on first use. Each ROOT is built in a temporary sibling folder and
renamed into place, so a ROOT that exists is complete, and two processes racing to create it both
end with the same files. Output depends only on :data:`VERSION` and the seed (bump ``VERSION``
whenever a change alters the bytes, so stale caches are not reused).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from videossl.errors import InputError

from unitrack.tasks import NAMES as TASKS, TASKS as _TABLE

VERSION = 1
MARKER = ".unitrack-synth.json"


def task_dir(task: str) -> str:
    """The ROOT folder name of a task (``otb``, ``davis``, ``mot17``, ``mots20``, ``jhmdb``)."""
    if task not in _TABLE:
        raise InputError(None, f"unknown task {task!r} (choose from {', '.join(TASKS)})")
    return _TABLE[task].dataset


def _build(task: str, dest: Path, seed: int) -> Path:
    """Write one task into a temporary sibling of ``dest`` and rename it onto ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}.", dir=dest.parent))
    try:
        names = _TABLE[task].synth_writer()(tmp, seed)
        meta = {"generator": "unitrack.data.synth", "version": VERSION, "seed": seed, "task": task, "sequences": names}
        (tmp / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
        if dest.exists():
            if not (dest / MARKER).is_file():
                raise InputError(dest, "exists and is not a synthetic benchmark folder; refusing to replace it")
            shutil.rmtree(dest)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / MARKER).is_file():  # lost a race: keep the winner's identical copy
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def generate(out: str | os.PathLike, seed: int = 0, tasks=TASKS) -> dict[str, Path]:
    """Write the benchmark of ``tasks`` under ``out``; returns task -> ROOT. Existing synthetic ROOTs are replaced."""
    out = Path(out)
    return {task: _build(task, out / task_dir(task), int(seed)) for task in tasks}


def cache_root(seed: int = 0) -> Path:
    """``$UNITRACK_CACHE/synth-<VERSION>-seed<S>`` (default cache ``~/.cache/unitrack``)."""
    base = Path(os.environ.get("UNITRACK_CACHE") or Path.home() / ".cache" / "unitrack")
    return base / f"synth-{VERSION}-seed{int(seed)}"


def ensure_benchmark(task: str, seed: int = 0) -> Path:
    """The ROOT of ``task``'s synthetic benchmark, generated into the cache on first use."""
    dest = cache_root(seed) / task_dir(task)
    if (dest / MARKER).is_file():
        return dest
    return _build(task, dest, int(seed))
