"""Clip samplers: which frame indices to read from a video of ``num_frames`` frames.

Each returns plain integer indices (a list, or a list of lists for several
clips) so that the decoder reads only those frames. They are pure functions of
their arguments (plus an explicit ``random.Random`` / seed for the random one),
which makes them easy to test and to reproduce across runs.

* :func:`uniform_indices` — T frames spread evenly over the whole video
  (segment centres, as TSN / CLIP-style video evaluation does).
* :func:`strided_indices` — T frames a fixed ``stride`` apart, from ``start``.
* :func:`random_crop_indices` — a training view: T frames at ``stride`` from a
  random start (a random temporal crop).
* :func:`sliding_windows` — dense windows of T frames, ``step`` apart, covering
  the video (the last window is shifted back so the tail is covered).
* :func:`fps_indices` — resample a video of ``video_fps`` to ``target_fps``.
"""

from __future__ import annotations

import math
import random as _random


def _check(num_frames: int, t: int) -> None:
    if num_frames <= 0:
        raise ValueError(f"video has no frames (num_frames={num_frames})")
    if t <= 0:
        raise ValueError(f"clip length must be positive, got {t}")


def uniform_indices(num_frames: int, t: int) -> list[int]:
    """T indices at the centres of T equal segments; repeats frames when the video is shorter than T."""
    _check(num_frames, t)
    seg = num_frames / t
    return [min(num_frames - 1, int(seg * k + seg / 2)) for k in range(t)]


def strided_indices(num_frames: int, t: int, stride: int = 1, start: int = 0) -> list[int]:
    """T indices ``start, start+stride, ...``; past the end the last frame is repeated (a short video still gives T)."""
    _check(num_frames, t)
    if stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    start = max(0, min(int(start), num_frames - 1))
    return [min(num_frames - 1, start + k * stride) for k in range(t)]


def random_crop_indices(num_frames: int, t: int, stride: int = 1,
                        rng: _random.Random | int | None = None) -> list[int]:
    """T frames at ``stride`` from a start drawn uniformly among those that keep the clip inside the video."""
    _check(num_frames, t)
    rng = rng if isinstance(rng, _random.Random) else _random.Random(rng)
    span = (t - 1) * stride + 1
    start = rng.randint(0, max(0, num_frames - span))
    return strided_indices(num_frames, t, stride, start)


def sliding_windows(num_frames: int, t: int, step: int | None = None, stride: int = 1) -> list[list[int]]:
    """Windows of T frames (``stride`` apart inside a window), window starts ``step`` apart (default: T*stride).

    Windows cover every frame: when the last regular window stops short of the
    end, one more window ending on the last frame is added. A video shorter than
    one window gives a single window (padded by repeating its last frame).
    """
    _check(num_frames, t)
    span = (t - 1) * stride + 1
    step = span if step is None else int(step)
    if step <= 0:
        raise ValueError(f"window step must be positive, got {step}")
    if num_frames <= span:
        return [strided_indices(num_frames, t, stride, 0)]
    starts = list(range(0, num_frames - span + 1, step))
    if starts[-1] + span < num_frames:
        starts.append(num_frames - span)
    return [strided_indices(num_frames, t, stride, s) for s in starts]


def fps_indices(num_frames: int, video_fps: float, target_fps: float) -> list[int]:
    """Indices that resample the video to ``target_fps`` (nearest frame to each k/target_fps); all frames when target >= source."""
    _check(num_frames, 1)
    if target_fps <= 0:
        raise ValueError(f"target fps must be positive, got {target_fps}")
    if not video_fps or video_fps <= 0 or target_fps >= video_fps:
        return list(range(num_frames))
    duration = num_frames / video_fps
    n = max(1, int(math.ceil(duration * target_fps - 1e-6)))  # samples at k/target_fps < duration
    return sorted({min(num_frames - 1, int(round(k * video_fps / target_fps))) for k in range(n)})


def chunks(indices: list[int], size: int) -> list[list[int]]:
    """Split a list of indices into consecutive batches of at most ``size``."""
    if size <= 0:
        raise ValueError(f"batch size must be positive, got {size}")
    return [indices[i:i + size] for i in range(0, len(indices), size)]
