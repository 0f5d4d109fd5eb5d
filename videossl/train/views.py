"""Multi-view clip sampling: two global and several local views that vary in space *and* time.

SVT / LSS habit (REFERENCE_SETTINGS.md; SVT's ``datasets/decoder.py``, ``temporal_aug``): from one
decoded clip window of ``W`` frames,

- global views: ``T_g`` frames at the model's input size, random resized crop of scale 0.4–1,
  each over its own part of the window — SVT takes frames ``[0, W−1−δ]`` for the first and
  ``[δ, W−1]`` for the second (δ = 5 frames of a 256-frame clip). Here each global view spans
  ``global_span`` = 90 % of the window, the first anchored at its start, the second at its end
  (further ones at random positions), so the two never share their frame indices: a 10 % offset
  rather than SVT's 2 %, because our windows are ~30 frames and 2 % would be under one frame;
- local views: 96 px for 224 (≈ 0.43 × the global side) crops of scale 0.05–0.4 with fewer
  frames (``T_g``, ``T_g/2``, ``T_g/4`` in turn; SVT's ``rand_fr`` uses 2/4/8/16) over a random
  ``local_span`` = 1/8 of the window (SVT: ``W // 8``), widened to at least as many frames as the
  view has — short glimpses at a higher frame rate than the global views.

Matching a local view to a global one forces the student to predict the whole clip's concepts
from a small, short glimpse, and matching the two global views to each other to predict across a
time shift: spatial and temporal invariance at once. ``global_span=1`` gives the old behaviour
(both global views on the same frames; for ablations).

All views of one clip are cut from one decoded window of frames (decoding is the expensive
part), and every random choice comes from one ``numpy.random.Generator`` so a sample is a pure
function of its seed — the trainer derives that seed from the global sample position, which is
what makes ``--resume`` reproduce an uninterrupted run exactly.

The crop, flip and colour jitter of a view are the same for all its frames (a view is one
camera, not a flicker). Output views are float ``[T, 3, h, w]`` normalised with the model's
mean/std.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class ViewConfig:
    global_size: tuple[int, int] = (224, 224)
    local_size: tuple[int, int] = (96, 96)
    global_frames: int = 8
    n_global: int = 2
    n_local: int = 8
    global_scale: tuple[float, float] = (0.4, 1.0)
    local_scale: tuple[float, float] = (0.05, 0.4)
    frame_stride: int = 4          # frames between sampled global-view frames (the clip's time span)
    global_span: float = 0.9       # share of the window each global view covers (SVT: all but 5 frames)
    local_span: float = 1 / 8      # share of the window a local view covers (SVT: W // 8)
    n_weak: int = 0                # weakly augmented teacher views (crop + flip only; ReSSL), after the locals
    flip: float = 0.5
    jitter: float = 0.4            # brightness / contrast / saturation strength
    grayscale: float = 0.2
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    @classmethod
    def for_model(cls, model, frames: int | None = None, n_local: int = 8, size: int | None = None,
                  **kw) -> "ViewConfig":
        """Sizes from the model (or ``size`` for the global side, e.g. cheaper CPU runs of a model
        that takes any resolution): local side ≈ 0.43 × global (96/224), rounded to the stride."""
        h, w = (size, size) if size else tuple(model.input_size)
        s = max(1, int(getattr(model, "stride", 8)))
        loc = tuple(max(s, int(round(x * 96 / 224 / s)) * s) for x in (h, w))
        t = frames or int(getattr(model, "num_frames", 8) or 8)
        return cls(global_size=(h, w), local_size=loc, global_frames=t, n_local=n_local,
                   mean=tuple(model.mean), std=tuple(model.std), **kw)

    def local_frames(self, j: int) -> int:
        """Frames of local view ``j``: T_g, T_g/2, T_g/4, … in turn (at least 1)."""
        options = [max(1, self.global_frames >> k) for k in range(3)]
        return options[j % len(options)]

    @property
    def window(self) -> int:
        """Frames a clip spans: the global views' temporal extent."""
        return (self.global_frames - 1) * self.frame_stride + 1


def clip_indices(num_frames: int, cfg: ViewConfig, rng: np.random.Generator) -> np.ndarray:
    """Start of the clip's window, drawn uniformly; indices of the window (clamped for short videos)."""
    start = int(rng.integers(0, max(1, num_frames - cfg.window + 1)))
    return np.clip(np.arange(start, start + cfg.window), 0, num_frames - 1)


def _time_indices(window: int, t: int, span: int, rng: np.random.Generator) -> np.ndarray:
    """``t`` evenly spaced positions over a random sub-span of ``span`` frames of the window."""
    span = max(1, min(span, window))
    start = int(rng.integers(0, window - span + 1))
    return start + np.linspace(0, span - 1, t).round().astype(int)


def _crop_box(h: int, w: int, scale: tuple[float, float], rng: np.random.Generator,
              ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop box (10 tries, then the centre crop)."""
    area = h * w
    for _ in range(10):
        a = area * rng.uniform(*scale)
        r = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = int(round(math.sqrt(a * r))), int(round(math.sqrt(a / r)))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side, side


def _augment(x: torch.Tensor, cfg: ViewConfig, rng: np.random.Generator) -> torch.Tensor:
    """Flip, colour jitter and grayscale on float frames in [0, 1], ``[T, 3, h, w]``."""
    if rng.random() < cfg.flip:
        x = x.flip(-1)
    if cfg.jitter > 0:
        b, c, s = (1 + rng.uniform(-cfg.jitter, cfg.jitter) for _ in range(3))
        x = x * b
        x = (x - x.mean(dim=(1, 2, 3), keepdim=True)) * c + x.mean(dim=(1, 2, 3), keepdim=True)
        gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        x = (x - gray) * s + gray
    if rng.random() < cfg.grayscale:
        x = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand(-1, 3, -1, -1)
    return x.clamp(0, 1)


def make_view(frames: torch.Tensor, size: tuple[int, int], scale: tuple[float, float], cfg: ViewConfig,
              rng: np.random.Generator, weak: bool = False) -> torch.Tensor:
    """One view from uint8 frames ``[T, H, W, 3]``: crop → resize → augment (flip only when
    ``weak``) → normalise."""
    _, h, w, _ = frames.shape
    y, x0, ch, cw = _crop_box(h, w, scale, rng)
    crop = frames[:, y:y + ch, x0:x0 + cw].permute(0, 3, 1, 2).float().div_(255)
    crop = F.interpolate(crop, size=size, mode="bilinear", align_corners=False, antialias=True)
    if weak:
        crop = crop.flip(-1) if rng.random() < cfg.flip else crop
    else:
        crop = _augment(crop, cfg, rng)
    mean = torch.tensor(cfg.mean).view(1, 3, 1, 1)
    std = torch.tensor(cfg.std).view(1, 3, 1, 1)
    return (crop - mean) / std


def global_time_indices(n: int, cfg: ViewConfig, k: int, rng: np.random.Generator) -> np.ndarray:
    """Frames of global view ``k`` in a window of ``n``: ``T_g`` over ``global_span`` of it, view 0 at
    the start, view 1 at the end, others at a random position (SVT's shifted global clips)."""
    span = max(1, min(n, int(round(n * cfg.global_span))))
    if k == 0:
        start = 0
    elif k == 1:
        start = n - span
    else:
        start = int(rng.integers(0, n - span + 1))
    return start + np.linspace(0, span - 1, cfg.global_frames).round().astype(int)


def make_views(window: np.ndarray, cfg: ViewConfig, rng: np.random.Generator) -> list[torch.Tensor]:
    """All views of one clip from its decoded window ``[W, H, W, 3]`` uint8: globals first.

    Global view ``k``: :func:`global_time_indices`. Local view ``j``: ``cfg.local_frames(j)`` frames
    over a random ``local_span`` of the window (at least as many frames as the view has).
    Then ``cfg.n_weak`` weakly augmented views of the global views' frames (the teacher's, ReSSL).
    """
    frames = torch.from_numpy(np.ascontiguousarray(window))
    n = frames.shape[0]
    views = []
    for k in range(cfg.n_global):
        idx = global_time_indices(n, cfg, k, rng)
        views.append(make_view(frames[idx], cfg.global_size, cfg.global_scale, cfg, rng))
    for j in range(cfg.n_local):
        t = cfg.local_frames(j)
        span = max(t, int(round(n * cfg.local_span)))
        idx = _time_indices(n, t, span, rng)
        views.append(make_view(frames[idx], cfg.local_size, cfg.local_scale, cfg, rng))
    for k in range(cfg.n_weak):  # the teacher's weak view of global view k: same frames, own crop
        idx = global_time_indices(n, cfg, k, rng)
        views.append(make_view(frames[idx], cfg.global_size, cfg.global_scale, cfg, rng, weak=True))
    return views
