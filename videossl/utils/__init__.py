"""Small helpers shared by both packages: atomic file writes, devices, logging, run metadata.

Names load on first use (PEP 562), so a process that only writes files or describes the machine
(``unitrack metrics``) does not import torch through ``videossl.utils.device``.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "atomic_write": "atomic",
    "atomic_write_json": "atomic",
    "atomic_write_text": "atomic",
    "save_safetensors_atomic": "atomic",
    "resolve_device": "device",
    "autocast_for": "device",
    "machine_info": "machine",
    "MetricLogger": "metric_log",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'videossl.utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"videossl.utils.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
