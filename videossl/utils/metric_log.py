"""Metrics to JSON lines and TensorBoard at once, so every long run can be plotted and grepped."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class MetricLogger:
    """Append ``{"step": s, "time": t, **metrics}`` to ``DIR/metrics.jsonl`` and to TensorBoard in ``DIR/tb``.

    Lines are flushed as written, so a killed run keeps every line it logged;
    a resumed run appends (steps already logged are not rewritten).
    TensorBoard is optional at run time: without it only the JSONL is written.
    """

    def __init__(self, run_dir: str | os.PathLike, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a", buffering=1)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
            except ImportError:  # tensorboard is a declared dependency; tolerate its absence anyway
                self._tb = None

    def log(self, step: int, **metrics: float) -> None:
        clean = {k: (float(v) if hasattr(v, "__float__") else v) for k, v in metrics.items()}
        self._jsonl.write(json.dumps({"step": int(step), "time": round(time.time(), 3), **clean}) + "\n")
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        self._jsonl.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
