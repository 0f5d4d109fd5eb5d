"""A synthetic factor data set: short clips of one moving object with known generative factors.

Each clip shows one object on a noisy dark background, moving in a straight line. Its factors
(all discrete, so that MI, kNN and linear probes apply directly)::

    shape      3   disc, square, triangle
    colour     4   red, green, blue, yellow
    size       3   radius 0.09, 0.14, 0.19 × the frame side
    x, y       3   starting cell of a 3 × 3 grid
    direction  4   right, left, down, up   (speed 0.06 × side per frame)

3·4·3·3·3·4 = 1,296 combinations. Nuisances that vary between two renderings of the same
factors — the *views* a self-supervised objective learns to ignore — are: position jitter inside
the cell, background noise, brightness, and (strong views) a random erased patch. Rendering is
vectorised numpy: ~10k clips of 4 × 32 × 32 per second on one core.

``FactorClips(size=32, frames=4)``:
  ``sample_factors(n, rng) -> int [n, 6]``,
  ``render(factors, rng, strength="weak"|"strong"|"none") -> float32 [n, T, 3, H, W]`` in [0, 1],
  ``views(factors, rng, strengths=("strong", "strong"))`` two (or more) renderings,
  ``dataset(n, seed)`` a fixed evaluation set ``(clips, factors)``.
"""

from __future__ import annotations

import numpy as np

FACTOR_NAMES = ("shape", "colour", "size", "x", "y", "direction")
FACTOR_SIZES = (3, 4, 3, 3, 3, 4)
PALETTE = np.array([[0.9, 0.15, 0.15], [0.15, 0.85, 0.2], [0.2, 0.35, 0.95], [0.95, 0.85, 0.15]], dtype=np.float32)
RADII = (0.09, 0.14, 0.19)
DIRECTIONS = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], dtype=np.float32)  # (dx, dy)


class FactorClips:
    def __init__(self, size: int = 32, frames: int = 4, speed: float = 0.06):
        self.size, self.frames, self.speed = size, frames, speed
        self.factor_names, self.factor_sizes = FACTOR_NAMES, FACTOR_SIZES

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(0, k, n) for k in FACTOR_SIZES], axis=1)

    def render(self, factors: np.ndarray, rng: np.random.Generator, strength: str = "weak") -> np.ndarray:
        """Clips ``float32 [n, T, 3, H, W]`` in [0, 1] for integer ``factors [n, 6]``."""
        f = np.asarray(factors, dtype=np.int64)
        n, s, t = len(f), self.size, self.frames
        jitter = {"none": 0.0, "weak": 0.04, "strong": 0.06}[strength]
        cell = (np.stack([f[:, 3], f[:, 4]], axis=1) + 0.5) / 3.0                     # [n, 2] in (0, 1)
        start = cell + rng.uniform(-jitter, jitter, (n, 2))
        steps = np.arange(t, dtype=np.float32) - (t - 1) / 2                           # centred in time
        centre = (start[:, None, :] + self.speed * steps[None, :, None] * DIRECTIONS[f[:, 5]][:, None, :]) * s
        r = np.asarray(RADII, dtype=np.float32)[f[:, 2]] * s                           # [n]
        grid = np.arange(s, dtype=np.float32) + 0.5
        dx = grid[None, None, None, :] - centre[:, :, 0, None, None]                   # [n, T, 1, W]
        dy = grid[None, None, :, None] - centre[:, :, 1, None, None]                   # [n, T, H, 1]
        rr = r[:, None, None, None]
        disc = dx ** 2 + dy ** 2 <= rr ** 2
        square = (np.abs(dx) <= 0.886 * rr) & (np.abs(dy) <= 0.886 * rr)
        tri = (dy >= -rr) & (dy <= rr) & (np.abs(dx) <= 0.5 * (dy + rr))
        shape = f[:, 0][:, None, None, None]
        mask = np.where(shape == 0, disc, np.where(shape == 1, square, tri)).astype(np.float32)  # [n, T, H, W]
        colour = PALETTE[f[:, 1]][:, None, :, None, None]                              # [n, 1, 3, 1, 1]
        noise = {"none": 0.0, "weak": 0.03, "strong": 0.08}[strength]
        bg = 0.12 + noise * rng.standard_normal((n, t, 3, s, s)).astype(np.float32)
        clips = bg * (1 - mask[:, :, None]) + colour * mask[:, :, None]
        if strength != "none":
            amp = 0.1 if strength == "weak" else 0.3
            clips *= rng.uniform(1 - amp, 1 + amp, (n, 1, 1, 1, 1)).astype(np.float32)
        if strength == "strong":  # random erasing of a patch (same place in every frame)
            side = max(1, s // 5)
            ey, ex = rng.integers(0, s - side + 1, n), rng.integers(0, s - side + 1, n)
            erase = rng.random(n) < 0.5
            for i in np.flatnonzero(erase):
                clips[i, :, :, ey[i]:ey[i] + side, ex[i]:ex[i] + side] = 0.12
        return np.clip(clips, 0.0, 1.0).astype(np.float32)

    def views(self, factors: np.ndarray, rng: np.random.Generator,
              strengths: tuple[str, ...] = ("strong", "strong")) -> list[np.ndarray]:
        """Several renderings of the same factors (positives for the objectives)."""
        return [self.render(factors, rng, st) for st in strengths]

    def dataset(self, n: int, seed: int = 0, strength: str = "weak") -> tuple[np.ndarray, np.ndarray]:
        """A fixed set ``(clips [n, T, 3, H, W], factors [n, 6])``, a pure function of ``seed``."""
        rng = np.random.default_rng(seed)
        f = self.sample_factors(n, rng)
        return self.render(f, rng, strength), f
