"""Device and mixed-precision choice in one place."""

from __future__ import annotations

import contextlib

import torch


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` picks CUDA when present, else CPU; anything else is passed to ``torch.device``."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast_for(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (no loss scaling needed), a no-op context on CPU.

    CPU autocast is left off: on the 2-core machines we test on it is slower
    than fp32 for convolutions and it changes results for no gain.
    """
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
