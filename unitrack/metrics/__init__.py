"""Tracking metrics, each equal to the field's official tool (see each module's docstring).

One module per task — ``sot``, ``vos``, ``mot``, ``mots``, ``pose`` — each with a core function on
in-memory arrays and ``evaluate(gt_root, pred_dir, sequences=None) -> {"overall", "per_sequence"}``
returning the keys of ``METRIC_KEYS``. ``report`` writes ``metrics.json`` and prints the table.
Modules are imported lazily so that ``import unitrack.metrics`` stays cheap.
"""

from __future__ import annotations

from unitrack.tasks import COUNT_KEYS, NAMES as TASKS, TASKS as _TABLE

# The contract's keys, in the order tables print them (from the task table). Counts are integers, the rest fractions.
METRIC_KEYS: dict[str, tuple[str, ...]] = {name: t.metric_keys for name, t in _TABLE.items()}


def evaluate(task: str, gt_root, pred_dir, sequences=None) -> dict:
    """Dispatch to ``unitrack.metrics.<task>.evaluate``."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return _TABLE[task].evaluate(gt_root, pred_dir, sequences)


__all__ = ["TASKS", "METRIC_KEYS", "COUNT_KEYS", "evaluate"]
