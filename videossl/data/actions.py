"""A synthetic action set: short clips of one object that moves left/right/up/down, rotates, grows
or shrinks — the seven classes of ``prompts/synthetic_actions.json`` — so the whole path from
videos to zero-shot and linear-probe accuracy runs offline.

Each clip: a random polygon (triangle, square, pentagon, or an arrow — all asymmetric enough
that rotation shows) of a random colour on a noisy background of a random tint, rendered with
OpenCV at ``size`` px, ``frames`` frames, written as mp4 (``mp4v``). Only the motion differs
between classes; shape, colour, start position, speed and background are nuisances drawn per clip.

Layout written by :func:`generate_actions` (UCF101's, so the UCF101 reader and
``videossl eval zeroshot --dataset ucf101`` read it unchanged; ``--dataset synthetic`` is the same)::

    ROOT/train/<class_slug>/<class_slug>_<k>.mp4      ROOT/test/<class_slug>/<class_slug>_<k>.mp4
    ROOT/ucfTrainTestlist/classInd.txt                ("1 moving_left", ...)
    ROOT/ucfTrainTestlist/trainlist01.txt             ("train/moving_left/moving_left_000.mp4 1")
    ROOT/ucfTrainTestlist/testlist01.txt              ("test/moving_left/moving_left_000.mp4")

Class slugs are the concept names with ``_`` for spaces; ``readable_name`` maps them back.
A pure function of ``seed``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ACTIONS = ("moving left", "moving right", "moving up", "moving down", "rotating", "growing", "shrinking")
_SHAPES = {
    "triangle": [(0.0, -1.0), (0.87, 0.5), (-0.87, 0.5)],
    "square": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
    "pentagon": [(np.sin(a), -np.cos(a)) for a in np.linspace(0, 2 * np.pi, 5, endpoint=False)],
    "arrow": [(0.0, -1.0), (0.7, -0.1), (0.25, -0.1), (0.25, 0.9), (-0.25, 0.9), (-0.25, -0.1), (-0.7, -0.1)],
}


def slug(name: str) -> str:
    return "_".join(name.split())


def render_action(action: str, rng: np.random.Generator, size: int = 112, frames: int = 16) -> np.ndarray:
    """``uint8 [frames, size, size, 3]`` RGB frames of one clip of ``action``."""
    import cv2

    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    poly = np.array(_SHAPES[list(_SHAPES)[rng.integers(len(_SHAPES))]], dtype=np.float32)
    colour = rng.uniform(0.45, 1.0, 3) * 255
    colour[rng.integers(3)] *= rng.uniform(0.1, 0.5)  # a saturated colour
    tint = rng.uniform(10, 70, 3)
    radius = rng.uniform(0.12, 0.18) * size
    angle0 = rng.uniform(0, 2 * np.pi)
    t = np.linspace(0.0, 1.0, frames)
    centre = np.tile(rng.uniform(0.4, 0.6, 2) * size, (frames, 1))
    angle = np.full(frames, angle0)
    scale = np.ones(frames)
    travel = rng.uniform(0.35, 0.5) * size
    if action.startswith("moving"):
        axis, sign = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1)}[action.split()[1]]
        centre[:, axis] = size / 2 + sign * travel * (t - 0.5)
        centre[:, 1 - axis] += rng.uniform(-0.1, 0.1) * size
    elif action == "rotating":
        angle = angle0 + rng.choice([-1, 1]) * rng.uniform(1.2, 2.0) * np.pi * t
    elif action == "growing":
        scale = 0.5 + 1.2 * t
    else:  # shrinking
        scale = 1.7 - 1.2 * t
    out = np.empty((frames, size, size, 3), np.uint8)
    for i in range(frames):
        bg = tint + rng.normal(0, 8, (size, size, 3))
        c, s = np.cos(angle[i]), np.sin(angle[i])
        pts = poly @ np.array([[c, s], [-s, c]], dtype=np.float32) * radius * scale[i] + centre[i]
        frame = np.clip(bg, 0, 255).astype(np.uint8)
        cv2.fillPoly(frame, [np.round(pts * 16).astype(np.int32)], colour.tolist(), lineType=cv2.LINE_AA, shift=4)
        out[i] = frame
    return out


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: float = 8.0) -> None:
    """RGB uint8 frames -> mp4 (``mp4v``), written to a temporary name and renamed (atomic)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    w = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
    for f in frames:
        w.write(np.ascontiguousarray(f[:, :, ::-1]))
    w.release()
    os.replace(tmp, path)


def generate_actions(root: str | os.PathLike, train_per_class: int = 12, test_per_class: int = 6,
                     size: int = 112, frames: int = 16, seed: int = 0, actions=ACTIONS, render=None) -> Path:
    """Write the synthetic action set (layout in the module docstring) and return ``root``.

    ``render(action, rng, size, frames)`` draws one clip (default :func:`render_action`; another set, e.g.
    :mod:`videossl.data.object_actions`, passes its own with its ``actions``)."""
    from videossl.utils import atomic_write_text

    if size % 16:  # mp4v pads other sizes to macroblocks, which some decoders (decord) then misread
        raise ValueError(f"size must be a multiple of 16, got {size}")
    render = render_action if render is None else render
    root = Path(root)
    rng = np.random.default_rng(seed)
    lists: dict[str, list[str]] = {"train": [], "test": []}
    for ci, action in enumerate(actions):
        for part, n in (("train", train_per_class), ("test", test_per_class)):
            for k in range(n):
                rel = f"{part}/{slug(action)}/{slug(action)}_{k:03d}.mp4"
                write_mp4(root / rel, render(action, rng, size, frames))
                lists[part].append(f"{rel} {ci + 1}" if part == "train" else rel)
    meta = root / "ucfTrainTestlist"
    atomic_write_text(meta / "classInd.txt", "".join(f"{i + 1} {slug(a)}\n" for i, a in enumerate(actions)))
    atomic_write_text(meta / "trainlist01.txt", "\n".join(lists["train"]) + "\n")
    atomic_write_text(meta / "testlist01.txt", "\n".join(lists["test"]) + "\n")
    return root
