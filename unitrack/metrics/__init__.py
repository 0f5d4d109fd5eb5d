"""Tracking metrics, each equal to the field's official tool (see each module's docstring).

One module per task — ``sot``, ``vos``, ``mot``, ``mots``, ``pose`` — each with a core function on
in-memory arrays and ``evaluate(gt_root, pred_dir, sequences=None) -> {"overall", "per_sequence"}``
returning the keys of ``METRIC_KEYS``. ``report`` writes ``metrics.json`` and prints the table.
Modules are imported lazily so that ``import unitrack.metrics`` stays cheap.
"""

from __future__ import annotations

import importlib

TASKS = ("sot", "vos", "mot", "mots", "pose")

# The contract's keys, in the order tables print them. Counts are integers, the rest fractions.
METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "sot": ("success_auc", "precision_20"),
    "vos": ("J_mean", "F_mean", "JF_mean"),
    "mot": ("MOTA", "IDF1", "HOTA", "IDSW", "FP", "FN"),
    "mots": ("sMOTSA", "MOTSA", "IDF1", "IDSW"),
    "pose": ("PCK@0.1", "PCK@0.2"),
}
COUNT_KEYS = frozenset({"IDSW", "FP", "FN"})


def evaluate(task: str, gt_root, pred_dir, sequences=None) -> dict:
    """Dispatch to ``unitrack.metrics.<task>.evaluate``."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return importlib.import_module(f"unitrack.metrics.{task}").evaluate(gt_root, pred_dir, sequences)


__all__ = ["TASKS", "METRIC_KEYS", "COUNT_KEYS", "evaluate"]
