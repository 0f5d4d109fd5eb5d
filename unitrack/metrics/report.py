"""``metrics.json`` writer and the percent table people read; shared by ``unitrack metrics`` and ``unitrack eval``.

``metrics.json``: ``{"task", "model", "dataset", "overall", "per_sequence", "fps", "machine"}``;
metric values are fractions (counts integers), written atomically. The table prints fractions as
percent with one decimal and counts as integers, one row per sequence and a last ``overall`` row.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from unitrack.metrics import COUNT_KEYS, METRIC_KEYS


def _clean(value):
    """JSON-safe scalar: ints stay ints, floats are plain floats, NaN/inf become None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):  # a nested table (posetrack's per-joint figures)
        return {k: _clean(v) for k, v in value.items()}
    if value is None:
        return None
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def build_record(task: str, result: dict, model: str | None = None, dataset: str | None = None,
                 fps: float | None = None, machine: str | None = None) -> dict:
    """The ``metrics.json`` object of one evaluation (``result`` as ``evaluate`` returns it)."""
    if machine is None:
        from videossl.utils.machine import machine_info  # not videossl.utils: that loads torch

        machine = machine_info()
    return {
        "task": task,
        "model": model,
        "dataset": dataset,
        "overall": {k: _clean(v) for k, v in result["overall"].items()},
        "per_sequence": {s: {k: _clean(v) for k, v in m.items()} for s, m in result["per_sequence"].items()},
        "fps": None if fps is None else _clean(fps),
        "machine": machine,
    }


def write_metrics_json(run_dir: str | os.PathLike, task: str, result: dict, **fields) -> Path:
    """Write ``run_dir/metrics.json`` atomically; ``fields`` go to :func:`build_record`. Returns the path."""
    from videossl.utils.atomic import atomic_write_json

    path = Path(run_dir) / "metrics.json"
    atomic_write_json(path, build_record(task, result, **fields))
    return path


def _cell(key: str, value) -> str:
    if value is None:
        return "n/a"
    if key in COUNT_KEYS:
        return str(int(value))
    return f"{100.0 * float(value):.1f}"


def format_table(task: str, result: dict, per_sequence: bool = True) -> str:
    """A fixed-width table in percent (counts as integers): sequences, then ``overall``."""
    keys = [k for k in METRIC_KEYS.get(task, ()) if k in result["overall"]] or list(result["overall"])
    rows = list(result["per_sequence"].items()) if per_sequence else []
    rows.append(("overall", result["overall"]))
    name_w = max([len("sequence")] + [len(str(n)) for n, _ in rows])
    widths = [max(len(k), 7) for k in keys]
    lines = ["  ".join([f"{'sequence':<{name_w}}"] + [f"{k:>{w}}" for k, w in zip(keys, widths)])]
    lines.append("-" * len(lines[0]))
    for i, (name, m) in enumerate(rows):
        if i == len(rows) - 1 and len(rows) > 1:
            lines.append("-" * len(lines[0]))
        lines.append("  ".join([f"{name:<{name_w}}"] + [f"{_cell(k, m.get(k)):>{w}}" for k, w in zip(keys, widths)]))
    return "\n".join(lines)
