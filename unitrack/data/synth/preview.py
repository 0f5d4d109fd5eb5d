"""One annotated frame per task (ground truth drawn over the image), read back through the readers.

Used for the README's pictures (``unitrack data synth --preview docs/img``); drawing from the
written ROOTs rather than from the scenes also shows that the readers load what the writers wrote.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from unitrack.data import davis, jhmdb, mot, mots, otb
from unitrack.data.davis import davis_palette
from unitrack.data.jhmdb import SKELETON

_PAL = np.minimum(davis_palette().astype(np.float32) * 1.9, 255)  # brighter than DAVIS's 128-level colours


def _colour(k: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in _PAL[1 + k % 20])


def _box(img, box, colour, label=None):
    x, y, w, h = (int(round(v)) for v in box)
    cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), colour, 2)
    if label is not None:
        cv2.putText(img, str(label), (x + 2, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)


def _blend(img, idmap):
    """Tint each object's pixels with its colour and outline it."""
    out = img.astype(np.float32)
    fg = idmap > 0
    out[fg] = 0.4 * out[fg] + 0.6 * _PAL[idmap[fg]]
    out = out.astype(np.uint8)
    for k in np.unique(idmap[fg]):
        contours, _ = cv2.findContours((idmap == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, _colour(int(k) - 1), 1)
    return out


def preview_frames(roots: dict[str, Path]) -> dict[str, np.ndarray]:
    """task -> RGB image with its ground truth drawn, for each task present in ``roots``."""
    out = {}
    if "sot" in roots:
        s = otb.load_sequence(roots["sot"], otb.list_sequences(roots["sot"])[0])
        t = int(0.4 * len(s))
        img = s.load_frames([t])[0].copy()
        _box(img, s.boxes[t], (0, 255, 0), "target")
        out["sot"] = img
    if "vos" in roots:
        s = davis.load_sequence(roots["vos"], davis.list_sequences(roots["vos"])[0])
        t = len(s) // 2
        out["vos"] = _blend(s.load_frames([t])[0], s.load_mask(t))
    if "mot" in roots:
        s = mot.load_sequence(roots["mot"], mot.list_sequences(roots["mot"])[0])
        t = len(s) // 3
        img = s.load_frames([t])[0].copy()
        g, d = s.gt.at(t), s.det.at(t)
        for box in d.boxes:
            _box(img, box, (255, 255, 255))
        for tid, box, c in zip(g.ids, g.boxes, g.cls):
            _box(img, box, _colour(int(tid)) if c == 1 else (128, 128, 128), int(tid))
        out["mot"] = img
    if "mots" in roots:
        s = mots.load_sequence(roots["mots"], mots.list_sequences(roots["mots"])[0])
        t = len(s) // 3
        rows = s.gt.at(t)
        idmap = np.zeros((s.height, s.width), np.uint8)
        for oid, m in zip(rows.obj_id, rows.masks()):
            idmap[m] = 1 + int(oid) % 1000 % 19 if oid != 10000 else 0
        img = _blend(s.load_frames([t])[0], idmap)
        for oid, m in zip(rows.obj_id, rows.masks()):
            if oid == 10000:
                img[m] = img[m] // 3  # ignore region darkened
        out["mots"] = img
    if "pose" in roots:
        names = jhmdb.list_sequences(roots["pose"])
        s = jhmdb.load_sequence(roots["pose"], names[0])
        t = len(s) // 2
        img = s.load_frames([t])[0].copy()
        j = s.joints[t]
        for a, b in SKELETON:
            cv2.line(img, tuple(int(round(v)) for v in j[a]), tuple(int(round(v)) for v in j[b]), (255, 255, 255), 1, cv2.LINE_AA)
        for k, p in enumerate(j):
            cv2.circle(img, (int(round(p[0])), int(round(p[1]))), 3, _colour(k), -1, cv2.LINE_AA)
        out["pose"] = img
    if "posetrack" in roots:  # every person's annotated keypoints, the skeleton in its identity's colour
        from unitrack.data import posetrack
        from unitrack.data._common import read_rgb
        from unitrack.viz import draw_people

        s = posetrack.load_sequence(posetrack.annotation_dir(roots["posetrack"]) /
                                    f"{posetrack.sequences(roots['posetrack'])[0]}.json", roots["posetrack"])
        t = len(s) // 2
        people = s.frames[t].people
        out["posetrack"] = draw_people(read_rgb(s.frame_paths[t]), [p.keypoints for p in people],
                                       [p.track_id + 1 for p in people])
    return out


def write_previews(roots: dict[str, Path], out_dir: str | Path) -> list[Path]:
    """``out_dir/synth_<task>.png`` for each task; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for task, img in preview_frames(roots).items():
        path = out_dir / f"synth_{task}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths
