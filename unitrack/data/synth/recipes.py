"""Per-task scene recipes on the shared :class:`~unitrack.data.synth.scene.Scene`: which layers, where, when.

Each recipe builds one sequence from its own seeded generator and puts in the difficulties its task
is meant to measure:

* **sot** — the target (camera follows it; it scales by 0.6x or 1.6x and squashes/stretches), a
  *twin* of the same colour and pattern crossing it, a large occluder that hides it fully for a few
  frames, static clutter, a panning background;
* **vos** — two same-coloured deforming blobs crossing each other plus, in every other sequence, a
  third object changing scale, all visible in frame 0; an unannotated distractor entering later and
  passing in front;
* **mot / mots** — pedestrians (person shapes, size by perspective from their foot line, depth order
  by it too) entering and leaving at both sides, pairs sharing colour and pattern, a foreground
  pillar they disappear behind and re-appear from, a static person (MOT17 class 7, ignored / MOTS20
  ignore region), camera pan;
* **pose** — one articulated figure doing ``walk``, ``wave`` or ``jump``, a passing occluder in
  every other clip, clutter, camera pan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unitrack.data.synth.figure import ACTIONS, Figure
from unitrack.data.synth.scene import Scene, Sprite, linear_path, scale_path, wander_path
from unitrack.data.synth.textures import PATTERNS, object_texture, random_colour

# (width, height, frames, sequences) per task: small frames keep generation and the heads fast on a CPU
SIZES = {"sot": (320, 240, 60, 4), "vos": (320, 240, 50, 3), "mot": (480, 270, 60, 2), "mots": (480, 270, 60, 2), "pose": (320, 240, 40, 3)}
TASK_CODES = {"sot": 1, "vos": 2, "mot": 3, "mots": 4, "pose": 5}
PILLAR, STATIC_PERSON = 90, 91  # layer ids of the MOT/MOTS non-pedestrian layers


def rng_for(seed: int, task: str, index: int) -> np.random.Generator:
    """The generator of one sequence: independent of which other tasks or sequences are generated."""
    return np.random.default_rng([seed, TASK_CODES[task], index])


def sprite(rng, oid, shape, size, path, scale, depth, colour=None, kind=None, **kw) -> Sprite:
    """A :class:`Sprite` with a fresh texture (same ``colour`` + ``kind`` as another = a look-alike)."""
    colour = random_colour(rng) if colour is None else colour
    kind = PATTERNS[int(rng.integers(len(PATTERNS)))] if kind is None else kind
    w, h = size
    texture = object_texture(rng, int(2 * h) + 2, int(2 * w) + 2, colour, kind)
    harmonics = np.stack([rng.uniform(0.06, 0.16, 3), rng.uniform(0, 2 * np.pi, 3), rng.uniform(0.05, 0.2, 3)], 1)
    return Sprite(oid, shape, texture, (float(w), float(h)), np.asarray(path[0], float), np.asarray(path[1], float),
                  np.asarray(scale, float), float(depth), harmonics=harmonics.astype(np.float32), **kw)


def _clutter(rng, scene: Scene, first_oid: int, n: int) -> None:
    """Static textured shapes behind everything: structure the background like real scenes have."""
    W, H, T = scene.width, scene.height, scene.num_frames
    for k in range(n):
        pos = (np.full(T, rng.uniform(0, W)), np.full(T, rng.uniform(0, H)))
        size = rng.uniform(14, 30, 2)
        shape = ("ellipse", "box", "blob")[k % 3]
        scene.add(sprite(rng, first_oid + k, shape, size, pos, np.ones(T), 0.1 + 0.01 * k))


@dataclass
class SOTScene:
    scene: Scene
    target: int


def sot_scene(seed: int, index: int) -> SOTScene:
    rng = rng_for(seed, "sot", index)
    W, H, T, _ = SIZES["sot"]
    scene = Scene(rng, W, H, T, pan=25)
    _clutter(rng, scene, 20, 4)
    shape = ("blob", "ellipse", "box", "person")[index % 4]
    size = (rng.uniform(28, 40), rng.uniform(30, 46))
    colour, kind = random_colour(rng), PATTERNS[index % len(PATTERNS)]
    path = wander_path(rng, T, (W / 2 + rng.uniform(-40, 40), H / 2 + rng.uniform(-30, 30)), (70, 60, W - 70, H - 60), rng.uniform(1.8, 3.0))
    grow = (0.6, 1.6)[index % 2]
    scene.add(sprite(rng, 1, shape, size, path, scale_path(T, 1.0, grow, 0.05), 1.0, colour, kind, deform=0.12, anchored=False))
    # the twin crosses the target at 40% of the sequence, in front in odd sequences
    tc = int(0.4 * T)
    v = np.array([rng.choice([-1, 1]) * rng.uniform(3, 4.5), rng.uniform(-1, 1)])
    mid = np.array([path[0][tc], path[1][tc] + rng.uniform(-6, 6)])
    twin = linear_path(mid - v * tc, mid + v * (T - 1 - tc), T)
    scene.add(sprite(rng, 2, shape, size, twin, np.full(T, 0.5 * (1 + grow)), 1.0 + (0.5 if index % 2 else -0.5), colour, kind,
                     deform=0.12, anchored=False))
    # a large occluder covers the target fully around 70%
    to = int(0.7 * T)
    vo = np.array([rng.uniform(-1, 1), rng.choice([-1, 1]) * rng.uniform(4, 5)])
    mid = np.array([path[0][to], path[1][to]])
    occ = linear_path(mid - vo * to, mid + vo * (T - 1 - to), T)
    big = max(size) * max(1.0, grow) * 2.2
    scene.add(sprite(rng, 3, "box", (big, big * 1.2), occ, np.ones(T), 3.0, anchored=False))
    return SOTScene(scene, 1)


@dataclass
class VOSScene:
    scene: Scene
    objects: list[int]  # layer ids annotated as DAVIS objects 1, 2, ...


def vos_scene(seed: int, index: int) -> VOSScene:
    rng = rng_for(seed, "vos", index)
    W, H, T, _ = SIZES["vos"]
    scene = Scene(rng, W, H, T, pan=30)
    _clutter(rng, scene, 20, 4)
    colour, kind = random_colour(rng), PATTERNS[int(rng.integers(len(PATTERNS)))]
    y = H * rng.uniform(0.35, 0.6)
    size = (rng.uniform(40, 56), rng.uniform(40, 60))
    a = linear_path((0.2 * W, y - 12), (0.8 * W, y + 8), T)
    b = linear_path((0.8 * W, y + 14), (0.2 * W, y - 6), T)
    scene.add(sprite(rng, 1, "blob", size, a, scale_path(T, 1.0, 1.3), 1.0, colour, kind, deform=0.15))
    scene.add(sprite(rng, 2, "blob", size, b, scale_path(T, 1.0, 0.8), 1.2, colour, kind, deform=0.15))
    objects = [1, 2]
    if index % 2 == 0:
        c = wander_path(rng, T, (0.5 * W, 0.2 * H + 20), (50, 40, W - 50, 0.35 * H), 2.0)
        scene.add(sprite(rng, 3, "ellipse", (36, 30), c, scale_path(T, 1.0, 1.7), 1.1, deform=0.1))
        objects.append(3)
    # unannotated distractor entering from the side a third of the way in, in front of everything
    side = rng.choice([-1, 1])
    d = linear_path((W / 2 - side * (W / 2 + 40), 0.6 * H), (W / 2 + side * (W / 2 + 40), 0.45 * H), T, int(T / 3), T - 1)
    scene.add(sprite(rng, 9, "box", (44, 52), d, np.ones(T), 2.0))
    return VOSScene(scene, objects)


@dataclass
class MOTScene:
    scene: Scene
    pedestrians: list[int]


def mot_scene(seed: int, index: int, task: str = "mot") -> MOTScene:
    rng = rng_for(seed, task, index)
    W, H, T, _ = SIZES[task]
    scene = Scene(rng, W, H, T, pan=20)
    _clutter(rng, scene, 20, 6)
    peds = []
    colour = kind = None
    for k in range(12):
        foot = H * rng.uniform(0.5, 0.97)
        height = 40 + 70 * (foot / H - 0.5) / 0.5
        speed = rng.uniform(1.5, 3.2) * rng.choice([-1, 1])
        t_in = int(rng.integers(-T // 2, int(0.7 * T)))
        x_in = -0.3 * height if speed > 0 else W + 0.3 * height
        cx = x_in + speed * (np.arange(T) - t_in)
        cy = foot - height / 2 + rng.uniform(-0.15, 0.15) * np.arange(T)
        if k % 2 == 0:  # every pair shares colour and pattern
            colour, kind = random_colour(rng), PATTERNS[int(rng.integers(len(PATTERNS)))]
        scene.add(sprite(rng, k + 1, "person", (0.42 * height, height), (cx, cy), np.ones(T), foot, colour, kind, deform=0.06))
        peds.append(k + 1)
    px = W * rng.uniform(0.35, 0.65)
    scene.add(sprite(rng, PILLAR, "box", (26, 1.2 * H), (np.full(T, px), np.full(T, 0.55 * H)), np.ones(T), 10 * H))
    foot = H * 0.62
    sx = W * (0.15 if px > W / 2 else 0.85)
    scene.add(sprite(rng, STATIC_PERSON, "person", (0.42 * 55, 55), (np.full(T, sx), np.full(T, foot - 27.5)), np.ones(T), foot,
                     cls=7))
    return MOTScene(scene, peds)


@dataclass
class PoseScene:
    scene: Scene
    figure: Figure


def pose_scene(seed: int, index: int) -> PoseScene:
    rng = rng_for(seed, "pose", index)
    W, H, T, _ = SIZES["pose"]
    scene = Scene(rng, W, H, T, pan=20)
    _clutter(rng, scene, 20, 5)
    action = ACTIONS[index % len(ACTIONS)]
    height = rng.uniform(140, 170)
    belly_y = H * 0.52
    if action == "walk":
        cx, cy = linear_path((0.25 * W, belly_y), (0.75 * W, belly_y), T)
        cx, cy = (cx, cy) if rng.random() < 0.5 else (cx[::-1].copy(), cy)
    else:
        cx, cy = linear_path((0.45 * W, belly_y), (0.55 * W, belly_y), T)
    shirt = object_texture(rng, 256, 256, random_colour(rng), PATTERNS[int(rng.integers(len(PATTERNS)))])
    trousers = object_texture(rng, 256, 256, random_colour(rng) * 0.6, "noise")
    skin = object_texture(rng, 256, 256, np.array([224, 172, 130], np.float32) * rng.uniform(0.6, 1.0), "noise")
    fig = Figure(1, action, height, cx, cy, (shirt, trousers, skin), 1.0, speed=rng.uniform(0.3, 0.4), phase=rng.uniform(0, 6.3))
    scene.add(fig)
    if index % 2 == 1:  # an object passing in front hides part of the body for a while
        occ = linear_path((-40, 0.4 * H), (W + 40, 0.7 * H), T, int(0.3 * T), int(0.9 * T))
        scene.add(sprite(rng, 2, "ellipse", (46, 40), occ, np.ones(T), 2.0))
    return PoseScene(scene, fig)
