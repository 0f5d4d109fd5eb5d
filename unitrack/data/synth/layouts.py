"""Write the recipes' sequences in the real datasets' on-disk layouts (see ``CONTRACT.md``).

Every writer takes a fresh ROOT folder and a seed and returns the sequence names it wrote. Frames are
JPEG (quality 90; PNG for JHMDB, as the real data), ground truth uses the writers of
:mod:`unitrack.data.writers`, so the readers of :mod:`unitrack.data` load these roots unchanged.
Files are written directly, not one by one atomically: the whole ROOT is built in a temporary
folder and renamed into place by :func:`unitrack.data.synth.generate`.

Public detections (``det/det.txt``) are derived from the ground truth as a detector would err:

* a person (class 1, and the static class 7 one) with visibility below :data:`DET_MIN_VIS` is never
  detected; others are missed with probability :data:`DET_MISS_RATE`;
* a detected box's centre moves by N(0, :data:`DET_JITTER` x its size) on each axis and its width and
  height are scaled by exp(N(0, :data:`DET_JITTER`));
* scores are ``0.55 + 0.4 * visibility + N(0, 0.05)`` clipped to [0, 1];
* false positives: Poisson(:data:`DET_FP_PER_FRAME`) boxes per frame with pedestrian proportions
  (height 30-90 px, width 0.42 x height) anywhere in the frame, scores uniform in [0.2, 0.6].
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from unitrack.data import writers
from unitrack.data.synth import recipes
from unitrack.data.mots import encode_mask

DET_MIN_VIS = 0.25
DET_MISS_RATE = 0.10
DET_JITTER = 0.05
DET_FP_PER_FRAME = 0.3
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def _save(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    params = _PNG if path.suffix == ".png" else _JPEG
    ok, buf = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV cannot encode {path.suffix} images")
    # written by Python, not cv2.imwrite: a full disk then raises OSError(ENOSPC, path) instead of a bare False
    path.write_bytes(buf.tobytes())


def _seqinfo(path: Path, name: str, length: int, width: int, height: int) -> None:
    path.write_text(f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={length}\n"
                    f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n")


def mots_rles(idmap: np.ndarray, oids: list[int]) -> list[tuple[int, dict]]:
    """``(oid, rle)`` for each listed layer with at least one visible pixel (MOTS20 has no empty masks)."""
    present = set(np.unique(idmap).tolist())
    return [(oid, encode_mask(idmap == oid)) for oid in oids if oid in present]


def write_otb(root: Path, seed: int) -> list[str]:
    names = []
    for i in range(recipes.SIZES["sot"][3]):
        s = recipes.sot_scene(seed, i)
        name = f"Synth{i + 1:02d}"
        W, H = s.scene.width, s.scene.height
        boxes = []
        for t in range(s.scene.num_frames):
            fr = s.scene.render(t)
            _save(root / name / "img" / f"{t + 1:04d}.jpg", fr.image)
            x, y, w, h = fr.boxes[s.target]
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
            boxes.append((x0, y0, x1 - x0, y1 - y0))
        writers.write_otb(root / name / "groundtruth_rect.txt", np.asarray(boxes))
        names.append(name)
    return names


def write_davis(root: Path, seed: int) -> list[str]:
    names = []
    for i in range(recipes.SIZES["vos"][3]):
        s = recipes.vos_scene(seed, i)
        name = f"synth-{i + 1:02d}"
        lut = np.zeros(max(s.scene.layers, key=lambda layer: layer.oid).oid + 1, np.uint8)
        for k, oid in enumerate(s.objects, 1):
            lut[oid] = k
        ann = root / "Annotations" / "480p" / name
        ann.mkdir(parents=True, exist_ok=True)
        for t in range(s.scene.num_frames):
            fr = s.scene.render(t)
            _save(root / "JPEGImages" / "480p" / name / f"{t:05d}.jpg", fr.image)
            (ann / f"{t:05d}.png").write_bytes(writers.davis_png_bytes(lut[fr.idmap]))
        names.append(name)
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "val.txt").write_text("".join(n + "\n" for n in names))
    return names


def _detections(rng: np.random.Generator, gt: list[tuple], W: int, H: int, T: int) -> np.ndarray:
    """Rows ``frame, x, y, w, h, score`` (0-based) of simulated public detections (rates in the module doc)."""
    rows = []
    for t, _, (x, y, w, h), _, _, vis in gt:
        if vis < DET_MIN_VIS or rng.random() < DET_MISS_RATE:
            continue
        cx, cy = x + w / 2 + rng.normal(0, DET_JITTER * w), y + h / 2 + rng.normal(0, DET_JITTER * h)
        w2, h2 = w * np.exp(rng.normal(0, DET_JITTER)), h * np.exp(rng.normal(0, DET_JITTER))
        rows.append((t, cx - w2 / 2, cy - h2 / 2, w2, h2, float(np.clip(0.55 + 0.4 * vis + rng.normal(0, 0.05), 0, 1))))
    for t in range(T):
        for _ in range(rng.poisson(DET_FP_PER_FRAME)):
            h = rng.uniform(30, 90)
            w = 0.42 * h
            rows.append((t, rng.uniform(0, W - w), rng.uniform(0, H - h), w, h, rng.uniform(0.2, 0.6)))
    return np.asarray(rows, np.float64).reshape(-1, 6)


def write_mot17(root: Path, seed: int) -> list[str]:
    names = []
    for i in range(recipes.SIZES["mot"][3]):
        s = recipes.mot_scene(seed, i, "mot")
        sc, name = s.scene, f"SYNTH-{i + 1:02d}"
        seq = root / "train" / name
        classes = {layer.oid: layer.cls for layer in sc.layers}
        gt = []  # (frame, id, box, conf, class, visibility)
        for t in range(sc.num_frames):
            fr = sc.render(t)
            _save(seq / "img1" / f"{t + 1:06d}.jpg", fr.image)
            for oid in s.pedestrians + [recipes.STATIC_PERSON]:
                if oid in fr.boxes:
                    gt.append((t, oid, fr.boxes[oid], 0.0 if classes[oid] == 7 else 1.0, classes[oid], round(fr.visibility(oid), 3)))
        (seq / "gt").mkdir(exist_ok=True)
        writers.write_mot(seq / "gt" / "gt.txt", [g[0] for g in gt], [g[1] for g in gt], [g[2] for g in gt],
                          [g[3] for g in gt], [g[4] for g in gt], [g[5] for g in gt])
        det = _detections(recipes.rng_for(seed, "mot", 1000 + i), gt, sc.width, sc.height, sc.num_frames)
        writers.write_mot(seq / "det" / "det.txt", det[:, 0], np.full(len(det), -1), det[:, 1:5], np.round(det[:, 5], 3))
        _seqinfo(seq / "seqinfo.ini", name, sc.num_frames, sc.width, sc.height)
        names.append(name)
    return names


def write_mots20(root: Path, seed: int) -> list[str]:
    names = []
    for i in range(recipes.SIZES["mots"][3]):
        s = recipes.mot_scene(seed, i, "mots")
        sc, name = s.scene, f"SYNTH-{i + 1:02d}"
        seq = root / "train" / name
        lines = []
        for t in range(sc.num_frames):
            fr = sc.render(t)
            _save(seq / "img1" / f"{t + 1:06d}.jpg", fr.image)
            ids = {oid: 2000 + oid for oid in s.pedestrians}
            ids[recipes.STATIC_PERSON] = 10000  # MOTS20 ignore region (class 10)
            for oid, rle in mots_rles(fr.idmap, sorted(ids)):
                obj = ids[oid]
                lines.append(writers.mots_line(t, obj, obj // 1000, rle))
        (seq / "gt").mkdir(parents=True, exist_ok=True)
        (seq / "gt" / "gt.txt").write_text("".join(line + "\n" for line in lines))
        _seqinfo(seq / "seqinfo.ini", name, sc.num_frames, sc.width, sc.height)
        names.append(name)
    return names


def _savemat(path: Path, variables: dict) -> None:
    """``scipy.io.savemat`` with a fixed header: scipy stamps the creation time into its 116-byte text,
    which would make two runs with the same seed differ."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, variables, do_compression=False)
    blob = bytearray(buf.getvalue())
    blob[:116] = b"MATLAB 5.0 MAT-file, written by unitrack.data.synth".ljust(116)
    path.write_bytes(bytes(blob))


def write_jhmdb(root: Path, seed: int) -> list[str]:
    names, per_action = [], {}
    for i in range(recipes.SIZES["pose"][3]):
        s = recipes.pose_scene(seed, i)
        action = s.figure.action
        video = f"synth_{action}_{i + 1:02d}"
        joints = []
        for t in range(s.scene.num_frames):
            fr = s.scene.render(t)
            _save(root / "Rename_Images" / action / video / f"{t + 1:05d}.png", fr.image)
            joints.append(s.figure.joints(t, s.scene.drift(t)))
        j = np.asarray(joints)  # [T, 15, 2] 0-based
        pos_img = j.transpose(2, 1, 0) + 1.0  # 2 x 15 x T, 1-based as JHMDB
        scale = np.ptp(j[..., 1], axis=1)[None]
        centre = j.mean(1).T[:, None, :]
        mat_dir = root / "joint_positions" / action / video
        mat_dir.mkdir(parents=True, exist_ok=True)
        _savemat(mat_dir / "joint_positions.mat", {"pos_img": pos_img, "pos_world": (pos_img - 1 - centre) / scale,
                                                   "scale": scale, "viewpoint": "E"})
        per_action.setdefault(action, []).append(video)
        names.append(f"{action}/{video}")
    splits = root / "splits"
    splits.mkdir(exist_ok=True)
    for action, videos in per_action.items():  # every synthetic clip is in the test half of split 1
        (splits / f"{action}_test_split1.txt").write_text("".join(f"{v}.avi 2\n" for v in videos))
    return names


def write_posetrack(root: Path, seed: int) -> list[str]:
    from unitrack.data.synth.posetrack import write_posetrack as write

    return write(root, seed)


WRITERS = {"sot": ("otb", write_otb), "vos": ("davis", write_davis), "mot": ("mot17", write_mot17),
           "mots": ("mots20", write_mots20), "pose": ("jhmdb", write_jhmdb), "posetrack": ("posetrack18", write_posetrack)}
