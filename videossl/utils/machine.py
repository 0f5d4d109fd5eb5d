"""A short description of the machine a figure was measured on (for metrics.json and eval/results)."""

from __future__ import annotations

import os
import platform

import torch


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    parts = [f"{os.cpu_count()} CPU cores ({cpu})", f"torch {torch.__version__}", f"{torch.get_num_threads()} threads"]
    if torch.cuda.is_available():
        parts.insert(0, torch.cuda.get_device_name(0))
    return ", ".join(parts)
