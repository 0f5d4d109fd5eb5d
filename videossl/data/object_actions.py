"""A synthetic action set where a single frame carries part of the answer and motion the rest.

Eight classes (``videossl/prompts/object_actions.json``): five everyday objects, three of them in two
actions each, so the object (what one frame shows) narrows eight classes to one or two and the motion
decides between the pair, as with real actions ("playing guitar" is mostly the guitar, "sitting" vs
"standing up" is the motion)::

    ball rolling       ball on the ground, translating left or right, its stripe turning as it rolls
    ball bouncing      ball going up and down (two bounces) above the ground line
    car driving        car on the ground, translating left or right
    car parked         car on the ground, still
    balloon inflating  balloon (with string) in place, growing
    balloon rising     balloon floating from the bottom to the top, swaying
    wheel spinning     spoked wheel in place, rotating
    leaf falling       leaf drifting from the top to the bottom, swaying and tilting

Nuisances drawn per clip: the object's colour (one of :data:`COLOURS`, jittered), size, start position,
speed and direction, the background tint and noise. Clips are written by
:func:`videossl.data.actions.generate_actions` (UCF101 layout), so every reader of the existing
synthetic set reads this one too.

:func:`render_still` draws one frame of a random object anywhere in the frame with a programmatic
caption ("a photo of a red ball near the bottom"): the captioned images a language-aligned *image*
model is trained on (``eval/lit_align.py``). Captions name the object, its colour and where it is, never
the action. A pure function of the generator passed in.

``motion_blur=True`` (:func:`render_object_action`, the generators) is a "slow shutter": with probability
:data:`BLUR_P` per clip the shutter stays open for :data:`SHUTTER` frame intervals, so each frame averages
the object over its positions (radius, angle) in that span. A moving object smears along its path, a still one
(a parked car) is unchanged, so a single frame carries a blur cue, as real photos of moving things do.
``motion_blur=False`` (the default) is the sharp set of before, bit for bit.

:func:`render_web_still` draws a frame of a random clip of the set (blurred as the videos are) with a web
alt-text-like caption: with probability ``q`` it names the clip's action ("a photo of a red car driving near
the bottom"), else only object, colour and place. The word is the clip's own, so it correlates with what the
frame shows (blur, a ball in the air, a balloon high up) and with nothing else.
"""

from __future__ import annotations

import numpy as np

ACTIONS = ("ball rolling", "ball bouncing", "car driving", "car parked", "balloon inflating", "balloon rising",
           "wheel spinning", "leaf falling")
OBJECTS = ("ball", "car", "balloon", "wheel", "leaf")
#: named colours (RGB); videos and stills draw from the same names, jittered
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 80, 220), "yellow": (230, 210, 40),
           "orange": (240, 130, 30), "purple": (150, 60, 190), "white": (235, 235, 235), "pink": (240, 120, 180)}
GROUND = 0.8  # the ground line, as a share of the frame height
BLUR_P = 0.75  # share of clips shot with the slow shutter (motion_blur=True)
SHUTTER = 2.0  # exposure of a slow-shutter frame, in frame intervals (a real camera's blur is at most ~1)
_SUB = 8  # positions averaged over one exposure


def _colour(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    name = list(COLOURS)[rng.integers(len(COLOURS))]
    return name, np.clip(np.array(COLOURS[name], float) + rng.normal(0, 12, 3), 0, 255)


def _background(rng: np.random.Generator, size: int, tint: np.ndarray) -> np.ndarray:
    bg = tint + rng.normal(0, 8, (size, size, 3))
    bg[int(GROUND * size) + 1:] *= 0.7  # a darker floor below the ground line
    return np.clip(bg, 0, 255).astype(np.uint8)


def _pts(poly, centre, radius, angle) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return (np.asarray(poly, np.float32) @ np.array([[c, s], [-s, c]], np.float32)) * radius + centre


def _draw(frame: np.ndarray, obj: str, centre, radius: float, angle: float, colour: np.ndarray) -> None:
    """One object of bounding radius ``radius`` px centred at ``centre`` (x, y), turned by ``angle``."""
    import cv2

    col, dark = colour.tolist(), (25, 25, 25)
    sh = 4  # fixed-point bits: sub-pixel positions, so slow motion is still smooth
    p = lambda a: np.round(np.asarray(a) * 16).astype(np.int32)  # noqa: E731
    cx, cy = centre
    if obj == "ball":
        cv2.circle(frame, tuple(p((cx, cy))), int(radius * 16), col, -1, cv2.LINE_AA, sh)
        d = np.array([np.cos(angle), np.sin(angle)]) * radius
        cv2.line(frame, tuple(p((cx - d[0], cy - d[1]))), tuple(p((cx + d[0], cy + d[1]))), (250, 250, 250),
                 max(1, int(radius * 0.25)), cv2.LINE_AA, sh)
    elif obj == "wheel":
        cv2.circle(frame, tuple(p((cx, cy))), int(radius * 16), dark, max(2, int(radius * 0.3)), cv2.LINE_AA, sh)
        for k in range(4):
            a = angle + k * np.pi / 4
            d = np.array([np.cos(a), np.sin(a)]) * radius * 0.85
            cv2.line(frame, tuple(p((cx - d[0], cy - d[1]))), tuple(p((cx + d[0], cy + d[1]))), col,
                     max(1, int(radius * 0.15)), cv2.LINE_AA, sh)
        cv2.circle(frame, tuple(p((cx, cy))), int(radius * 0.25 * 16), col, -1, cv2.LINE_AA, sh)
    elif obj == "car":
        body = [(-1.0, -0.05), (1.0, -0.05), (1.0, 0.35), (-1.0, 0.35)]
        cabin = [(-0.55, -0.05), (-0.35, -0.45), (0.4, -0.45), (0.6, -0.05)]
        for poly in (body, cabin):
            cv2.fillPoly(frame, [p(_pts(poly, centre, radius, 0.0))], col, cv2.LINE_AA, sh)
        for wx in (-0.6, 0.6):
            cv2.circle(frame, tuple(p((cx + wx * radius, cy + 0.38 * radius))), int(0.25 * radius * 16), dark, -1,
                       cv2.LINE_AA, sh)
    elif obj == "balloon":
        cv2.line(frame, tuple(p((cx, cy + 0.6 * radius))), tuple(p((cx + 0.1 * radius, cy + 1.0 * radius))),
                 (200, 200, 200), 1, cv2.LINE_AA, sh)
        cv2.ellipse(frame, (tuple(p((cx, cy - 0.1 * radius)) / 16), (radius * 1.3, radius * 1.6), 0.0), col, -1,
                    cv2.LINE_AA)
    elif obj == "leaf":
        leaf = [(0.0, -1.0), (0.4, -0.5), (0.45, 0.1), (0.2, 0.6), (0.0, 1.0), (-0.2, 0.6), (-0.45, 0.1), (-0.4, -0.5)]
        cv2.fillPoly(frame, [p(_pts(leaf, centre, radius, angle))], col, cv2.LINE_AA, sh)
        rib = _pts([(0.0, -0.9), (0.0, 0.9)], centre, radius, angle)
        cv2.line(frame, tuple(p(rib[0])), tuple(p(rib[1])), dark, 1, cv2.LINE_AA, sh)
    else:
        raise ValueError(f"unknown object {obj!r}")


def trajectory(action: str, rng: np.random.Generator, size: int, frames: int, times=None):
    """Per-frame centre ``[T, 2]`` (x, y px), radius ``[T]`` and angle ``[T]`` of one clip of ``action``.

    ``times`` (clip time, 0 = first frame, 1 = last) evaluates the same clip at other instants (the sub-frame
    positions of a slow shutter); the random draws do not depend on it."""
    t = np.linspace(0.0, 1.0, frames) if times is None else np.asarray(times, float)
    frames = len(t)
    r0 = rng.uniform(0.09, 0.13) * size
    ground = GROUND * size
    x0 = rng.uniform(0.35, 0.65) * size
    centre = np.zeros((frames, 2))
    centre[:, 0] = x0
    radius = np.full(frames, r0)
    angle = np.full(frames, rng.uniform(0, 2 * np.pi))
    sign = rng.choice([-1.0, 1.0])
    travel = rng.uniform(0.4, 0.55) * size
    if action in ("ball rolling", "car driving"):
        centre[:, 0] = size / 2 + sign * travel * (t - 0.5)
        centre[:, 1] = ground - (r0 if action == "ball rolling" else 0.65 * r0)
        if action == "ball rolling":
            start = centre[0, 0] if times is None else size / 2 - sign * travel * 0.5  # where t = 0
            angle = angle + (centre[:, 0] - start) / r0  # rolling without slipping
    elif action == "ball bouncing":
        height = rng.uniform(0.35, 0.5) * size
        centre[:, 0] = x0 + sign * 0.08 * size * t
        centre[:, 1] = ground - r0 - height * np.abs(np.sin(2 * np.pi * t + rng.uniform(0, 0.5)))
    elif action == "car parked":
        centre[:, 1] = ground - 0.65 * r0
    elif action == "balloon inflating":
        centre[:, 1] = rng.uniform(0.35, 0.55) * size
        radius = r0 * (0.6 + 1.0 * t)
    elif action == "balloon rising":
        centre[:, 1] = (0.78 - 0.55 * t) * size
        centre[:, 0] = x0 + 0.04 * size * np.sin(2 * np.pi * t + rng.uniform(0, 2 * np.pi))
    elif action == "wheel spinning":
        centre[:, 1] = rng.uniform(0.35, 0.65) * size
        angle = angle + sign * rng.uniform(1.0, 1.6) * np.pi * t
    elif action == "leaf falling":
        phase = rng.uniform(0, 2 * np.pi)
        centre[:, 1] = (0.18 + 0.6 * t) * size
        centre[:, 0] = x0 + 0.12 * size * np.sin(3 * np.pi * t + phase)
        angle = angle + 0.6 * np.sin(3 * np.pi * t + phase)
    else:
        raise ValueError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    return centre, radius, angle


def _exposure_times(frames: int, shutter: float) -> np.ndarray:
    """``[frames, _SUB]`` clip times spanned by each frame's exposure (centred on the frame's instant)."""
    dt = 1.0 / max(frames - 1, 1)
    offsets = (np.arange(_SUB) + 0.5) / _SUB - 0.5
    return np.linspace(0.0, 1.0, frames)[:, None] + shutter * dt * offsets[None]


def _exposed(background: np.ndarray, obj: str, centre, radius, angle, colour) -> np.ndarray:
    """The frame averaged over the exposure's ``len(radius)`` object poses on one background (integer
    rounding: an object that did not move gives the sharp frame exactly)."""
    acc = np.zeros(background.shape, np.int64)
    for c, r, a in zip(centre, radius, angle):
        f = background.copy()
        _draw(f, obj, c, r, a, colour)
        acc += f
    n = len(radius)
    return ((acc + n // 2) // n).astype(np.uint8)


def render_object_action(action: str, rng: np.random.Generator, size: int = 112, frames: int = 16,
                         motion_blur: bool = False, blur_p: float = BLUR_P) -> np.ndarray:
    """``uint8 [frames, size, size, 3]`` RGB frames of one clip of ``action`` (the object is its first word).

    ``motion_blur``: with probability ``blur_p`` the clip is shot with the slow shutter (module docstring)."""
    shutter = SHUTTER if motion_blur and rng.random() < blur_p else 0.0
    return _render_clip(action, rng, size, frames, shutter)


def _render_clip(action: str, rng: np.random.Generator, size: int, frames: int, shutter: float) -> np.ndarray:
    obj = action.split()[0]
    _, colour = _colour(rng)
    tint = rng.uniform(60, 160, 3)
    if shutter:
        centre, radius, angle = trajectory(action, rng, size, frames, _exposure_times(frames, shutter).ravel())
        centre, radius, angle = (a.reshape(frames, _SUB, *a.shape[1:]) for a in (centre, radius, angle))
    else:
        centre, radius, angle = trajectory(action, rng, size, frames)
    out = np.empty((frames, size, size, 3), np.uint8)
    for i in range(frames):
        frame = _background(rng, size, tint)
        if shutter:
            frame = _exposed(frame, obj, centre[i], radius[i], angle[i], colour)
        else:
            _draw(frame, obj, centre[i], radius[i], angle[i], colour)
        out[i] = frame
    return out


def render_still(rng: np.random.Generator, size: int = 112) -> tuple[np.ndarray, str]:
    """One ``uint8 [size, size, 3]`` frame of a random object anywhere, and its caption (object, colour, place)."""
    obj = OBJECTS[rng.integers(len(OBJECTS))]
    cname, colour = _colour(rng)
    radius = rng.uniform(0.06, 0.2) * size
    y = rng.uniform(0.15, 0.85)
    x = rng.uniform(0.15, 0.85)
    frame = _background(rng, size, rng.uniform(60, 160, 3))
    _draw(frame, obj, (x * size, y * size), radius, rng.uniform(0, 2 * np.pi), colour)
    return frame, f"a photo of a {cname} {obj} {_where(y)}"


def _where(y: float) -> str:
    """The caption's place for a centre at height ``y`` (share of the frame)."""
    return "near the top" if y < 0.38 else "near the bottom" if y > 0.62 else "in the middle"


def render_web_still(rng: np.random.Generator, size: int = 112, q: float = 0.75, frames: int = 16,
                     blur_p: float = BLUR_P) -> tuple[np.ndarray, str]:
    """One frame of a random clip of the set (slow shutter with probability ``blur_p``, as the blurred videos)
    and its caption: object, colour, place and, with probability ``q``, the clip's action word."""
    action = ACTIONS[rng.integers(len(ACTIONS))]
    obj, word = action.split()
    shutter = SHUTTER if rng.random() < blur_p else 0.0
    i = int(rng.integers(frames))
    cname, colour = _colour(rng)
    times = _exposure_times(frames, shutter)[i] if shutter else np.linspace(0.0, 1.0, frames)[i:i + 1]
    centre, radius, angle = trajectory(action, rng, size, frames, times)
    frame = _exposed(_background(rng, size, rng.uniform(60, 160, 3)), obj, centre, radius, angle, colour)
    name = f"{obj} {word}" if rng.random() < q else obj
    return frame, f"a photo of a {cname} {name} {_where(centre.mean(0)[1] / size)}"


def generate_object_actions(root, train_per_class: int = 12, test_per_class: int = 6, size: int = 112,
                            frames: int = 16, seed: int = 0, motion_blur: bool = False):
    """Write the set in UCF101 layout (see :func:`videossl.data.actions.generate_actions`) and return ``root``
    (``motion_blur``: the slow-shutter set)."""
    from functools import partial

    from videossl.data.actions import generate_actions

    return generate_actions(root, train_per_class, test_per_class, size, frames, seed, actions=ACTIONS,
                            render=partial(render_object_action, motion_blur=motion_blur))


def generate_unlabelled(root, per_class: int = 20, size: int = 112, frames: int = 16, seed: int = 1,
                        motion_blur: bool = False):
    """``per_class`` clips of every action as ``ROOT/clip_NNNN.mp4`` in shuffled order, with no label anywhere
    (not in the names, not in a list): the training set of the concept objective. Returns ``root``."""
    from pathlib import Path

    from videossl.data.actions import write_mp4

    root = Path(root)
    rng = np.random.default_rng(seed)
    jobs = [a for a in ACTIONS for _ in range(per_class)]
    order = rng.permutation(len(jobs))
    for k, j in enumerate(order):
        write_mp4(root / f"clip_{k:04d}.mp4", render_object_action(jobs[j], rng, size, frames, motion_blur))
    return root
