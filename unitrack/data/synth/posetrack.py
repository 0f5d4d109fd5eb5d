"""Synthetic multi-person pose tracking, written in PoseTrack 2018's layout.

Each sequence has :data:`PEOPLE` articulated figures (:class:`~unitrack.data.synth.figure.Figure`,
walking, waving or jumping) that enter and leave at both sides, cross each other at similar depths
(so the nearer one hides the other's joints for a while), a pair of them dressed alike, clutter and a
panning camera. Ground truth is read off the compositing pass: a keypoint is annotated only where the
figure's own pixel is visible there (occluded or off-frame keypoints are ``[0, 0, 0]``, as PoseTrack
leaves unannotated ones); the ears are never annotated (PoseTrack 2018 does not either); a person
with no visible keypoint is not annotated in that frame. Every frame is labelled.

JHMDB's 15 joints (the figure's) map to PoseTrack's 17 keypoints: ``neck`` → ``head_bottom``,
``face`` → ``nose``, ``head_top`` = the top of the head ellipse; the head box ``bbox_head`` is the
head ellipse's box (its diagonal sets the PCKh normaliser).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data.posetrack import CATEGORY, KEYPOINTS, NUM_KEYPOINTS, keypoint_box
from unitrack.data.synth.figure import ACTIONS, FACE, NECK, Figure
from unitrack.data.synth.scene import Scene, linear_path
from unitrack.data.synth.textures import PATTERNS, object_texture, random_colour

SIZE = (480, 270, 40, 3)  # width, height, frames, sequences
PEOPLE = 4
TASK_CODE = 6  # the generator stream of this task (recipes.TASK_CODES holds 1..5)
# PoseTrack keypoint <- JHMDB joint (figure order); head_top and the ears are handled apart
_FROM_JHMDB = {"nose": FACE, "head_bottom": NECK, "left_shoulder": 4, "right_shoulder": 3, "left_elbow": 8,
               "right_elbow": 7, "left_wrist": 12, "right_wrist": 11, "left_hip": 6, "right_hip": 5,
               "left_knee": 10, "right_knee": 9, "left_ankle": 14, "right_ankle": 13}


@dataclass
class PoseTrackScene:
    scene: Scene
    figures: list[Figure]


def posetrack_scene(seed: int, index: int) -> PoseTrackScene:
    from unitrack.data.synth.recipes import _clutter

    rng = np.random.default_rng([seed, TASK_CODE, index])
    W, H, T, _ = SIZE
    scene = Scene(rng, W, H, T, pan=16)
    _clutter(rng, scene, 20, 5)
    figures = []
    shirt_colour = kind = None
    for k in range(PEOPLE):
        height = rng.uniform(120, 150)
        belly_y = H * rng.uniform(0.5, 0.56)
        rightwards = k % 2 == 0
        t_in = int(rng.integers(-T // 3, T // 3))
        x0, x1 = (-0.5 * height, W + 0.5 * height) if rightwards else (W + 0.5 * height, -0.5 * height)
        dur = int(rng.integers(int(0.9 * T), int(1.4 * T)))  # off-frame at t_in and t_in + dur
        cx, cy = linear_path((x0, belly_y), (x1, belly_y), T, t_in, t_in + dur)
        if k % 2 == 0:
            shirt_colour, kind = random_colour(rng), PATTERNS[int(rng.integers(len(PATTERNS)))]
        shirt = object_texture(rng, 256, 256, shirt_colour, kind)  # each pair dressed alike
        trousers = object_texture(rng, 256, 256, random_colour(rng) * 0.6, "noise")
        skin = object_texture(rng, 256, 256, np.array([224, 172, 130], np.float32) * rng.uniform(0.6, 1.0), "noise")
        action = "walk" if k < 2 else ACTIONS[int(rng.integers(len(ACTIONS)))]
        fig = Figure(k + 1, action, height, cx, cy, (shirt, trousers, skin), 1.0 + 0.1 * k + belly_y / H,
                     speed=rng.uniform(0.3, 0.4), phase=rng.uniform(0, 6.3))
        scene.add(fig)
        figures.append(fig)
    return PoseTrackScene(scene, figures)


def figure_keypoints(fig: Figure, joints: np.ndarray, idmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PoseTrack ``[17, 3]`` keypoints (``v`` = 1 where the figure's pixel is visible) and ``bbox_head``."""
    u = fig.height / 5.6
    H, W = idmap.shape
    face = joints[FACE]
    pts = np.zeros((NUM_KEYPOINTS, 2))
    for name, j in _FROM_JHMDB.items():
        pts[KEYPOINTS.index(name)] = joints[j]
    pts[KEYPOINTS.index("head_top")] = face + (0.0, -0.5 * u + 1.0)  # inside the head ellipse's top
    head = np.array([face[0] - 0.42 * u, face[1] - 0.5 * u, 0.84 * u, 1.0 * u])
    kp = np.zeros((NUM_KEYPOINTS, 3))
    for k in range(NUM_KEYPOINTS):
        if KEYPOINTS[k] in ("left_ear", "right_ear"):
            continue
        x, y = int(round(pts[k, 0])), int(round(pts[k, 1]))
        if 0 <= x < W and 0 <= y < H and idmap[y, x] == fig.oid:
            kp[k] = (round(pts[k, 0], 2), round(pts[k, 1], 2), 1.0)
    return kp, head


def write_posetrack(root: Path, seed: int) -> list[str]:
    from unitrack.data.synth.layouts import _save

    names = []
    for i in range(SIZE[3]):
        s = posetrack_scene(seed, i)
        name = f"{i + 1:06d}_synth"
        images, anns = [], []
        for t in range(s.scene.num_frames):
            fr = s.scene.render(t)
            file_name = f"images/val/{name}/{t:06d}.jpg"
            _save(root / file_name, fr.image)
            image_id = (i + 1) * 10000 + t
            images.append({"id": image_id, "file_name": file_name, "frame_id": image_id, "vid_id": name,
                           "nframes": s.scene.num_frames, "is_labeled": True})
            drift = s.scene.drift(t)
            for fig in s.figures:
                kp, head = figure_keypoints(fig, fig.joints(t, drift), fr.idmap)
                box = keypoint_box(kp)
                if box is None:
                    continue
                anns.append({"id": len(anns), "image_id": image_id, "category_id": 1, "track_id": fig.oid - 1,
                             "keypoints": kp.reshape(-1).tolist(), "bbox_head": [round(float(v), 2) for v in head],
                             "bbox": [round(float(v), 2) for v in box]})
        out = root / "annotations" / "val" / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"images": images, "annotations": anns, "categories": [CATEGORY]}))
        names.append(name)
    return names
