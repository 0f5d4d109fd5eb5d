"""``videossl plot RUN``: a run's ``metrics.jsonl`` drawn as training curves in one PNG.

One panel per metric (loss terms, lr, teacher entropy, ...) against the step, the raw values faint and a
moving average on top, so a curve can be read at a glance without starting TensorBoard. Lines cut short
by a kill mid-write are skipped; any other malformed line is an error naming the file and the line.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np

from videossl.errors import InputError

SKIP = {"step", "time", "rank"}  # bookkeeping, not curves


def read_metrics(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{key: (steps, values)}`` of every numeric key in a metrics JSONL (``RUN`` or ``RUN/metrics.jsonl``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise InputError(path, "no such file (give a run folder with metrics.jsonl, or the file)")
    lines = path.read_text().splitlines()
    series: dict[str, dict[int, float]] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            step = int(row["step"])
        except (ValueError, KeyError, TypeError):
            if lineno == len(lines):
                continue  # the last line of a run killed mid-write
            raise InputError(path, "not a JSON object with a 'step'", line=lineno) from None
        for key, value in row.items():
            if key not in SKIP and isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(key, {})[step] = float(value)  # a step logged twice: the later line wins
    if not series:
        raise InputError(path, "holds no metrics")
    return {k: (np.array(sorted(v)), np.array([v[s] for s in sorted(v)])) for k, v in series.items()}


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (shorter at the start), non-finite values ignored."""
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    hi = np.arange(1, len(values) + 1)
    lo = np.maximum(0, hi - window)
    n = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[hi] - sums[lo]) / np.maximum(n, 1), np.nan)


def render_curves(series: dict, keys: list[str] | None = None, title: str = "", smooth: int = 0) -> bytes:
    """PNG bytes with one panel per key (default: all), ``smooth`` steps of moving average (0: ~2% of the run)."""
    from matplotlib.figure import Figure  # not pyplot: no global figure state, no backend switch for the caller

    keys = list(keys or series)
    unknown = [k for k in keys if k not in series]
    if unknown:
        raise InputError(None, f"no metric {', '.join(unknown)} in the log (it has: {', '.join(series)})")
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(4.2 * cols, 2.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        steps, values = series[key]
        window = smooth or max(1, len(values) // 50)
        ax.plot(steps, values, color="tab:blue", alpha=0.3, linewidth=0.8)
        if window > 1:
            ax.plot(steps, moving_average(values, window), color="tab:blue", linewidth=1.5)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def register(subparsers) -> None:
    p = subparsers.add_parser("plot", help="draw a run's metrics.jsonl as training curves (PNG)",
                              description=__doc__.split("\n")[0])
    p.add_argument("run", help="run folder (with metrics.jsonl) or a metrics JSONL file")
    p.add_argument("--keys", nargs="+", help="metrics to draw (default: all)")
    p.add_argument("--smooth", type=int, default=0, help="moving-average window in steps (default: ~2%% of the run)")
    p.add_argument("--out", help="PNG to write (default: RUN/curves.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    from videossl.utils import atomic_write

    series = read_metrics(args.run)
    src = Path(args.run)
    out = Path(args.out) if args.out else (src if src.is_dir() else src.parent) / "curves.png"
    png = render_curves(series, args.keys, title=str(src), smooth=args.smooth)
    with atomic_write(out, "wb") as f:
        f.write(png)
    last = max(int(s[-1]) for s, _ in series.values())
    print(f"{len(args.keys or series)} curves up to step {last} -> {out}")
    return 0
