"""The one scene generator behind every synthetic task: textured layers over a panning textured background.

A :class:`Scene` is a background texture larger than the frame, a camera path through it and a list
of layers (:class:`Sprite` objects or :class:`~unitrack.data.synth.figure.Figure` stick people).
``render(t)`` composites the layers far-to-near into the frame and, in the same pass, an *id map*
(which layer owns each pixel) and each layer's *amodal* tight box (the box of its whole shape, also
where it is hidden or outside the frame). All ground truth — boxes, masks, visibility — is read off
that pass, so it agrees with the pixels by construction (the tests check it).

Layer positions are given in frame coordinates of a still camera; a layer ``anchored`` to the world
additionally drifts opposite to the camera motion, as objects do when a camera pans. A layer that is
not anchored (a target the camera operator follows) keeps its path on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from unitrack.data.synth.textures import background_texture

SHAPES = ("ellipse", "box", "blob", "person")


@dataclass
class Raster:
    """A layer drawn at one time: top-left ``(x0, y0)`` in frame pixels (may be off-frame), mask and colours."""

    x0: int
    y0: int
    mask: np.ndarray  # bool [h, w]
    rgb: np.ndarray  # uint8 [h, w, 3]


def _shape_mask(shape: str, h: int, w: int, t: int, harmonics: np.ndarray) -> np.ndarray:
    """Boolean ``[h, w]`` mask of a shape inscribed in the box; ``blob`` outlines move with ``t`` (non-rigid)."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (u + 0.5) / w * 2 - 1
    v = (v + 0.5) / h * 2 - 1
    if shape == "ellipse":
        return u * u + v * v <= 1
    if shape == "box":
        return u**4 + v**4 <= 1
    if shape == "person":
        head = (u / 0.42) ** 2 + ((v + 0.74) / 0.26) ** 2 <= 1
        body = u * u + ((v - 0.16) / 0.84) ** 2 <= 1
        return head | body
    theta = np.arctan2(v, u)
    r = np.ones_like(theta)
    for k, (amp, phase, speed) in enumerate(harmonics, start=2):
        r += amp * np.sin(k * theta + phase + speed * t)
    r /= 1 + np.abs(harmonics[:, 0]).sum()
    return np.sqrt(u * u + v * v) <= r


@dataclass
class Sprite:
    """A textured shape following a path: ``cx, cy, scale`` are per-frame arrays (length T).

    ``deform`` is the amplitude of an aspect-ratio oscillation (squash and stretch); blobs also
    change outline. ``present[t]`` False removes the layer at ``t`` (it left the scene).
    """

    oid: int
    shape: str
    texture: np.ndarray  # uint8 [H0, W0, 3], resampled to the drawn size each frame
    size: tuple[float, float]  # base (w, h) in pixels
    cx: np.ndarray
    cy: np.ndarray
    scale: np.ndarray
    depth: float
    deform: float = 0.0
    deform_speed: float = 0.3
    anchored: bool = True
    present: np.ndarray | None = None
    harmonics: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    cls: int = 1

    def raster(self, t: int, drift: tuple[float, float]) -> Raster | None:
        if self.present is not None and not self.present[t]:
            return None
        wobble = self.deform * np.sin(self.deform_speed * t + self.oid)
        w = max(3, int(round(self.size[0] * self.scale[t] * (1 + wobble))))
        h = max(3, int(round(self.size[1] * self.scale[t] * (1 - wobble))))
        cx = self.cx[t] - (drift[0] if self.anchored else 0.0)
        cy = self.cy[t] - (drift[1] if self.anchored else 0.0)
        mask = _shape_mask(self.shape, h, w, t, self.harmonics)
        rgb = cv2.resize(self.texture, (w, h), interpolation=cv2.INTER_LINEAR)
        return Raster(int(round(cx - w / 2)), int(round(cy - h / 2)), mask, rgb)


@dataclass
class Frame:
    """One rendered frame and the ground truth read off the same compositing pass."""

    image: np.ndarray  # uint8 [H, W, 3] RGB
    idmap: np.ndarray  # int32 [H, W]: oid of the visible layer, 0 = background
    boxes: dict[int, np.ndarray]  # oid -> amodal tight box (x, y, w, h), 0-based, may leave the frame
    areas: dict[int, int]  # oid -> pixels of the whole (amodal) shape

    def visible_mask(self, oid: int) -> np.ndarray:
        return self.idmap == oid

    def visibility(self, oid: int) -> float:
        """Visible pixels in the frame over the whole shape's pixels (occlusion and truncation)."""
        return float((self.idmap == oid).sum()) / max(self.areas.get(oid, 0), 1)


class Scene:
    """Background, camera path and layers of one sequence; ``render(t)`` gives a :class:`Frame`."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, num_frames: int, pan: float = 30.0, pad: int = 64):
        self.width, self.height, self.num_frames, self.pad = width, height, num_frames, pad
        self.background = background_texture(rng, height + 2 * pad, width + 2 * pad)
        t = np.arange(num_frames, dtype=np.float64)
        amp = min(pan, pad - 2)
        periods = rng.uniform(0.6, 1.4, size=2) * num_frames
        phases = rng.uniform(0, 2 * np.pi, size=2)
        cam = [amp * 0.7 * np.sin(2 * np.pi * t / periods[i] + phases[i]) for i in range(2)]
        cam[0] = cam[0] + np.linspace(-amp * 0.3, amp * 0.3, num_frames) * rng.choice([-1, 1])
        cam[1] = cam[1] * 0.5
        self.camera = np.round(np.stack(cam, 1)).astype(np.int64)  # [T, 2] offset (dx, dy) of the view
        self.layers: list = []

    def add(self, layer) -> None:
        self.layers.append(layer)

    def drift(self, t: int) -> tuple[float, float]:
        """How far the view has moved since frame 0 (anchored layers move the other way on screen)."""
        return float(self.camera[t, 0] - self.camera[0, 0]), float(self.camera[t, 1] - self.camera[0, 1])

    def render(self, t: int, hide: tuple[int, ...] = ()) -> Frame:
        """Composite frame ``t`` far to near; ``hide`` leaves layers out (to test that pixels match the ground truth)."""
        H, W, p = self.height, self.width, self.pad
        dx, dy = self.camera[t]
        image = self.background[p + dy : p + dy + H, p + dx : p + dx + W].copy()
        idmap = np.zeros((H, W), np.int32)
        boxes: dict[int, np.ndarray] = {}
        areas: dict[int, int] = {}
        drift = self.drift(t)
        for layer in sorted(self.layers, key=lambda layer: layer.depth):
            if layer.oid in hide:
                continue
            r = layer.raster(t, drift)
            if r is None or not r.mask.any():
                continue
            h, w = r.mask.shape
            ys, xs = np.nonzero(r.mask.any(1))[0], np.nonzero(r.mask.any(0))[0]
            box = np.array([r.x0 + xs[0], r.y0 + ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1], np.float64)
            x0, y0, x1, y1 = max(r.x0, 0), max(r.y0, 0), min(r.x0 + w, W), min(r.y0 + h, H)
            if x1 <= x0 or y1 <= y0:
                continue  # entirely off-frame: not in the scene's ground truth at t
            m = r.mask[y0 - r.y0 : y1 - r.y0, x0 - r.x0 : x1 - r.x0]
            if not m.any():
                continue
            image[y0:y1, x0:x1][m] = r.rgb[y0 - r.y0 : y1 - r.y0, x0 - r.x0 : x1 - r.x0][m]
            idmap[y0:y1, x0:x1][m] = layer.oid
            boxes[layer.oid] = box
            areas[layer.oid] = int(r.mask.sum())
        return Frame(image, idmap, boxes, areas)


# --- paths -----------------------------------------------------------------------------------------

def linear_path(p0, p1, num_frames: int, t0: int = 0, t1: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Constant velocity from ``p0`` at ``t0`` to ``p1`` at ``t1``, extrapolated before and after."""
    t1 = num_frames - 1 if t1 is None else t1
    s = (np.arange(num_frames) - t0) / max(t1 - t0, 1)
    return p0[0] + s * (p1[0] - p0[0]), p0[1] + s * (p1[1] - p0[1])


def wander_path(rng: np.random.Generator, num_frames: int, start, bounds, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random walk (velocity with inertia) that bounces inside ``bounds = (x0, y0, x1, y1)``."""
    pos = np.array(start, np.float64)
    angle = rng.uniform(0, 2 * np.pi)
    vel = speed * np.array([np.cos(angle), np.sin(angle)])
    out = np.zeros((num_frames, 2))
    for t in range(num_frames):
        out[t] = pos
        vel = 0.9 * vel + 0.1 * speed * rng.normal(size=2)
        norm = np.linalg.norm(vel)
        vel = vel / max(norm, 1e-6) * speed
        pos = pos + vel
        for k, (lo, hi) in enumerate(((bounds[0], bounds[2]), (bounds[1], bounds[3]))):
            if pos[k] < lo or pos[k] > hi:
                vel[k] = -vel[k]
                pos[k] = np.clip(pos[k], lo, hi)
    return out[:, 0], out[:, 1]


def scale_path(num_frames: int, start: float, end: float, wobble: float = 0.0, phase: float = 0.0) -> np.ndarray:
    """Scale changing smoothly from ``start`` to ``end`` with an optional slow oscillation."""
    s = np.linspace(0, 1, num_frames)
    return (start + (end - start) * (3 * s**2 - 2 * s**3)) * (1 + wobble * np.sin(2 * np.pi * s + phase))
