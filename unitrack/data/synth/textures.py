"""Procedural textures: the appearance that a tracker must tell apart.

Flat-coloured shapes would make tracking a colour lookup; real footage has texture at several
scales. Every object and background here is a mix of a smooth multi-scale noise field and one
structured pattern (stripes, checks or spots), drawn from a seeded ``numpy.random.Generator`` so
the same seed gives the same bytes. Objects that share a ``base`` colour and pattern kind but not a
generator look alike, which is how the benchmark makes same-colour distractors.
"""

from __future__ import annotations

import cv2
import numpy as np

PATTERNS = ("stripes", "checks", "spots", "noise")


def noise_field(rng: np.random.Generator, h: int, w: int, scales=(4, 16, 48)) -> np.ndarray:
    """Smooth noise in [0, 1], ``float32 [h, w]``: bicubic-upsampled random grids at a few cell sizes."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for i, cell in enumerate(scales):
        gh, gw = max(2, h // cell + 2), max(2, w // cell + 2)
        grid = rng.random((gh, gw), dtype=np.float32)
        weight = 1.0 / (i + 1)
        out += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += weight
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def pattern(rng: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    """A structured pattern in [0, 1], ``float32 [h, w]``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "stripes":
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(5, 12)
        return 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
    if kind == "checks":
        cell = int(rng.integers(4, 9))
        return (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    if kind == "spots":
        out = np.zeros((h, w), np.float32)
        for _ in range(max(3, h * w // 90)):
            cv2.circle(out, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 4)), 1.0, -1)
        return out
    return noise_field(rng, h, w, scales=(2, 6))


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated RGB colour (float in [0, 255]) from a random hue."""
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(150, 256), rng.integers(140, 256)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def object_texture(rng: np.random.Generator, h: int, w: int, base: np.ndarray, kind: str) -> np.ndarray:
    """``uint8 [h, w, 3]`` RGB: the base colour modulated by a pattern and noise (a second, darker tone)."""
    pat = pattern(rng, kind, h, w)
    noise = noise_field(rng, h, w, scales=(3, 8))
    shade = 0.55 + 0.3 * pat + 0.15 * noise
    dark = base * 0.35
    img = dark[None, None] + (base - dark)[None, None] * shade[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def background_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """``uint8 [h, w, 3]`` RGB: muted multi-scale colour noise plus scattered rectangles and lines (clutter)."""
    img = np.zeros((h, w, 3), np.float32)
    base = rng.uniform(60, 160, size=3).astype(np.float32)
    for c in range(3):
        img[..., c] = base[c] * (0.6 + 0.8 * noise_field(rng, h, w, scales=(8, 32, 96)))
    for _ in range(h * w // 2500):
        colour = tuple(float(v) for v in rng.uniform(30, 200, size=3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.6:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(6, 40)), y + int(rng.integers(6, 40))), colour, -1)
        else:
            cv2.line(img, (x, y), (x + int(rng.integers(-60, 60)), y + int(rng.integers(-60, 60))), colour, int(rng.integers(1, 4)))
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return np.clip(img, 0, 255).astype(np.uint8)
