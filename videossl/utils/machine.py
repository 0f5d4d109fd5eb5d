"""A short description of the machine a figure was measured on (for metrics.json and eval/results)."""

from __future__ import annotations

import os
import platform
import sys


def machine_info() -> str:
    """CPU cores, and where torch is loaded its version, threads and GPU. A process that never loaded torch
    (``unitrack metrics``) is not made to load it (4-5 s) just to describe itself."""
    cpu = platform.processor() or platform.machine()
    parts = [f"{os.cpu_count()} CPU cores ({cpu})"]
    torch = sys.modules.get("torch")
    if torch is None:
        return parts[0]
    parts += [f"torch {torch.__version__}", f"{torch.get_num_threads()} threads"]
    if torch.cuda.is_available():
        parts.insert(0, torch.cuda.get_device_name(0))
    return ", ".join(parts)
