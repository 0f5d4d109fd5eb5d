"""Small helpers shared by both packages: atomic file writes, devices, logging, run metadata."""

from videossl.utils.atomic import atomic_write, atomic_write_json, atomic_write_text, save_safetensors_atomic
from videossl.utils.device import autocast_for, resolve_device
from videossl.utils.machine import machine_info
from videossl.utils.metric_log import MetricLogger

__all__ = [
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "save_safetensors_atomic",
    "resolve_device",
    "autocast_for",
    "machine_info",
    "MetricLogger",
]
