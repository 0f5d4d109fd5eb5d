"""Metrics to JSON lines and TensorBoard at once, so every long run can be plotted and grepped."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from videossl.utils.atomic import atomic_write_text


class MetricLogger:
    """Append ``{"step": s, "time": t, **metrics}`` to ``DIR/metrics.jsonl`` and to TensorBoard in ``DIR/tb``.

    Lines are flushed as written, so a killed run keeps every line it logged. ``resume_step``: the step the
    run continues from (its last checkpoint); lines logged after it by the killed run describe steps that
    are about to be redone, so they are dropped (the JSONL rewritten atomically, TensorBoard through
    ``purge_step``) and the log holds each step once. TensorBoard is optional at run time: without it
    only the JSONL is written.
    """

    def __init__(self, run_dir: str | os.PathLike, tensorboard: bool = True, resume_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "metrics.jsonl"
        if resume_step is not None and path.exists():
            _truncate_after(path, resume_step)
        self._jsonl = open(path, "a", buffering=1)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                purge = None if resume_step is None else resume_step + 1
                self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=purge)
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


def _truncate_after(path: Path, step: int) -> None:
    """Keep the lines of steps ``<= step`` (and drop a torn last line); atomic, so a kill here loses nothing."""
    keep = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line)["step"]) <= step:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a kill mid-write
    atomic_write_text(path, "".join(k + "\n" for k in keep))
