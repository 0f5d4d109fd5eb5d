"""PoseTrack 2018 (multi-person pose tracking): the official JSON, read and written.

Layout (as the dataset ships): ``ROOT/annotations/<split>/<seq>.json`` and the frames at
``ROOT/<file_name>`` (``images/<split>/<seq>/000000.jpg``). One JSON per sequence, COCO style:

* ``images``: ``id``, ``file_name``, ``frame_id``, ``is_labeled`` and, where parts of the frame are not
  annotated, ``ignore_regions_x`` / ``ignore_regions_y`` (a list of polygons, their x and y lists);
* ``annotations``: one person in one frame: ``image_id``, ``track_id``, ``keypoints`` (17 × ``[x, y, v]``
  in ``categories[0]["keypoints"]`` order), ``bbox_head`` / ``bbox`` (``x, y, w, h``) and, in
  predictions, ``scores`` (17 keypoint confidences);
* ``categories``: the one ``person`` category with its keypoint names (:data:`KEYPOINTS`).

An unannotated keypoint is ``[0, 0, 0]``. In memory a person's ``keypoints`` is float ``[17, 3]`` in
:data:`KEYPOINTS` order (pixel coordinates as in the file: PoseTrack's are 0-based). Predictions
(``RUN/posetrack/<seq>.json``) are written in the same format, with the ground truth's ``images``,
so the official ``poseval`` reads them as they are.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videossl.errors import InputError

# PoseTrack 2018's keypoints (COCO's order; the two eye slots hold head_bottom and head_top).
KEYPOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
NUM_KEYPOINTS = len(KEYPOINTS)
# 1-based pairs, as in the dataset's category entry
SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
            (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))
CATEGORY = {"supercategory": "person", "name": "person", "id": 1, "keypoints": list(KEYPOINTS),
            "skeleton": [list(p) for p in SKELETON]}


@dataclass
class Person:
    """One annotated (or predicted) person in one frame."""

    track_id: int
    keypoints: np.ndarray                 # float [17, 3]: x, y, v in KEYPOINTS order
    scores: np.ndarray | None = None      # float [17] keypoint confidences (predictions)
    head_box: np.ndarray | None = None    # x, y, w, h (bbox_head; the PCKh normaliser)
    box: np.ndarray | None = None         # x, y, w, h (bbox)


@dataclass
class PoseFrame:
    image_id: int
    file_name: str
    is_labeled: bool
    people: list[Person] = field(default_factory=list)
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons, float [K, 2] each
    frame_id: int | None = None


@dataclass
class PoseTrackSequence:
    """One sequence: its frames in file order (``frames[t].file_name`` relative to ``root``)."""

    name: str
    path: Path
    root: Path
    frames: list[PoseFrame]
    keypoint_names: tuple[str, ...] = KEYPOINTS

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def frame_paths(self) -> list[Path]:
        return [self.root / f.file_name for f in self.frames]

    def video(self):
        """A ``videossl.io`` reader over the sequence's frame folder."""
        from videossl.io import open_video

        return open_video(self.frame_paths[0].parent)


def _numbers(path: Path, where: str, value, count: int | None, what: str) -> np.ndarray:
    if not isinstance(value, list) or (count is not None and len(value) != count):
        want = f"{count} numbers" if count is not None else "a list of numbers"
        raise InputError(path, f"{where}: '{what}' must be {want}")
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise InputError(path, f"{where}: '{what}' holds a non-number") from None
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise InputError(path, f"{where}: '{what}' holds NaN, inf or a nested list")
    return arr


def _ignore_regions(path: Path, where: str, image: dict) -> list[np.ndarray]:
    xs, ys = image.get("ignore_regions_x") or [], image.get("ignore_regions_y") or []
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise InputError(path, f"{where}: ignore_regions_x / ignore_regions_y must be lists of equal length")
    regions = []
    for k, (x, y) in enumerate(zip(xs, ys)):
        x = _numbers(path, f"{where} ignore region {k}", x, None, "ignore_regions_x")
        y = _numbers(path, f"{where} ignore region {k}", y, len(x), "ignore_regions_y")
        if len(x) >= 3:  # fewer points enclose nothing (the official code would fail on them)
            regions.append(np.stack([x, y], 1))
    return regions


def _person(path: Path, where: str, ann: dict, keypoint_order: np.ndarray) -> Person:
    tid = ann.get("track_id")
    if isinstance(tid, bool) or not isinstance(tid, (int, float)) or not math.isfinite(tid) or tid != int(tid):
        raise InputError(path, f"{where}: missing or non-integer 'track_id'")
    kp = _numbers(path, where, ann.get("keypoints"), 3 * len(keypoint_order), "keypoints").reshape(-1, 3)
    keypoints = np.zeros((NUM_KEYPOINTS, 3))
    keypoints[keypoint_order] = kp
    scores = None
    if ann.get("scores"):
        s = _numbers(path, where, ann["scores"], len(keypoint_order), "scores")
        scores = np.zeros(NUM_KEYPOINTS)
        scores[keypoint_order] = s
    boxes = {k: _numbers(path, where, ann[k], 4, k) if ann.get(k) is not None else None for k in ("bbox_head", "bbox")}
    return Person(int(tid), keypoints, scores, boxes["bbox_head"], boxes["bbox"])


def _keypoint_order(path: Path, data: dict) -> np.ndarray:
    """Index into :data:`KEYPOINTS` of each keypoint slot of the file (its category's names)."""
    cats = data.get("categories")
    if not cats:  # predictions often leave it out: PoseTrack 2018's own order
        return np.arange(NUM_KEYPOINTS)
    if not isinstance(cats, list) or not isinstance(cats[0], dict) or not isinstance(cats[0].get("keypoints"), list):
        raise InputError(path, "'categories' must be a list with the person category and its 'keypoints'")
    names = cats[0]["keypoints"]
    unknown = [n for n in names if n not in KEYPOINTS]
    if unknown or len(set(names)) != len(names):
        raise InputError(path, f"categories[0].keypoints: unknown or repeated names {unknown or names}")
    return np.array([KEYPOINTS.index(n) for n in names])


def parse_sequence(data, path: str | os.PathLike, root: str | os.PathLike | None = None) -> PoseTrackSequence:
    """A sequence from the parsed JSON of one PoseTrack 2018 file; errors name the file and entry."""
    path = Path(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise InputError(path, "not a PoseTrack 2018 file: no 'images' list")
    order = _keypoint_order(path, data)
    frames, by_id = [], {}
    for i, im in enumerate(data["images"]):
        where = f"images[{i}]"
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise InputError(path, f"{where}: needs 'id' and 'file_name'")
        if im["id"] in by_id:
            raise InputError(path, f"{where}: duplicate image id {im['id']!r}")
        frame = PoseFrame(im["id"], im["file_name"], bool(im.get("is_labeled", False)),
                          ignore_regions=_ignore_regions(path, where, im), frame_id=im.get("frame_id"))
        by_id[im["id"]] = frame
        frames.append(frame)
    anns = data.get("annotations", [])
    if not isinstance(anns, list):
        raise InputError(path, "'annotations' must be a list")
    for i, ann in enumerate(anns):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict) or ann.get("image_id") not in by_id:
            raise InputError(path, f"{where}: 'image_id' names no image of this file")
        by_id[ann["image_id"]].people.append(_person(path, where, ann, order))
    if root is None:  # ROOT/annotations/<split>/<seq>.json
        root = path.parent.parent.parent if path.parent.parent.name == "annotations" else path.parent
    return PoseTrackSequence(path.stem, path, Path(root), frames)


def load_sequence(path: str | os.PathLike, root: str | os.PathLike | None = None) -> PoseTrackSequence:
    """Read one PoseTrack 2018 JSON (ground truth or predictions)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "missing PoseTrack annotation file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read PoseTrack annotation file: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    return parse_sequence(data, path, root)


def annotation_dir(root: str | os.PathLike, split: str | None = None) -> Path:
    """``ROOT/annotations/<split>``: ``split`` as given, else ``val`` when present, else the only one."""
    base = Path(root) / "annotations"
    if not base.is_dir():
        raise InputError(base, "missing PoseTrack annotations folder (expected ROOT/annotations/<split>/*.json)")
    if split is not None:
        return base / split
    splits = sorted(p.name for p in base.iterdir() if p.is_dir())
    if "val" in splits or not splits:
        return base / "val"
    return base / splits[0]


def sequences(root: str | os.PathLike, split: str | None = None) -> list[str]:
    """Sequence names (annotation file stems) of a PoseTrack ROOT, sorted."""
    folder = annotation_dir(root, split)
    names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    if not names:
        raise InputError(folder, "no PoseTrack annotation files (*.json)")
    return names


def load_split(root: str | os.PathLike, split: str | None = None, names=None) -> dict[str, PoseTrackSequence]:
    folder = annotation_dir(root, split)
    return {n: load_sequence(folder / f"{n}.json", root) for n in (names or sequences(root, split))}


def prediction_json(gt: PoseTrackSequence, people: list[list[Person]]) -> dict:
    """The PoseTrack 2018 prediction for a sequence: the ground truth's ``images``, one annotation per
    predicted person (``people[t]`` for ``gt.frames[t]``), keypoints in :data:`KEYPOINTS` order."""
    if len(people) != len(gt.frames):
        raise ValueError(f"{len(people)} frames of predictions for {len(gt.frames)} frames of {gt.name}")
    images = [{"id": f.image_id, "file_name": f.file_name, "is_labeled": f.is_labeled,
               **({"frame_id": f.frame_id} if f.frame_id is not None else {})} for f in gt.frames]
    anns = []
    for frame, persons in zip(gt.frames, people):
        for p in persons:
            kp = np.asarray(p.keypoints, np.float64).reshape(NUM_KEYPOINTS, 3)
            ann = {"id": len(anns), "image_id": frame.image_id, "category_id": 1, "track_id": int(p.track_id),
                   "keypoints": [round(float(v), 2) for v in kp.reshape(-1)],
                   "scores": [round(float(v), 4) for v in (p.scores if p.scores is not None else kp[:, 2])]}
            if p.box is not None:
                ann["bbox"] = [round(float(v), 2) for v in p.box]
            anns.append(ann)
    return {"images": images, "annotations": anns, "categories": [CATEGORY]}


def write_predictions(path: str | os.PathLike, gt: PoseTrackSequence, people: list[list[Person]]) -> None:
    """Write ``RUN/posetrack/<seq>.json`` atomically."""
    from videossl.utils import atomic_write_json

    atomic_write_json(path, prediction_json(gt, people), indent=None)


def keypoint_box(keypoints: np.ndarray, margin: float = 0.65) -> np.ndarray | None:
    """``x, y, w, h`` around a person's annotated keypoints (``v > 0``), each side ``margin`` of the
    extent from the centre — the box the official converter derives from keypoints. None without any."""
    kp = np.asarray(keypoints, np.float64).reshape(-1, 3)
    pts = kp[kp[:, 2] > 0, :2]
    if len(pts) == 0:
        return None
    lo, hi = pts.min(0), pts.max(0)
    c, half = (lo + hi) / 2, (hi - lo) * margin
    return np.array([c[0] - half[0], c[1] - half[1], 2 * half[0], 2 * half[1]])
