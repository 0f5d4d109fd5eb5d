"""PoseTrack head: per-frame person keypoints -> identities (UniTrack's multi-person pose tracking).

UniTrack tracks poses as it tracks boxes (``tracker/mot/pose.py``, ``test/test_posetrack.py``): the
keypoints of each frame come from elsewhere (its published figures use LightTrack's MSRA-152 poses, here the
dataset's own keypoints with the identities removed, or a user's file), each person becomes an observation
with a box derived from its keypoints and an appearance embedding from the frozen model, and the MOT
association core (:class:`~unitrack.heads.association.tracker.AssociationTracker`: appearance fused with a
Kalman filter on the box, then IoU stages) gives the identities. The keypoints written out are the
observation's own: UniTrack runs this setting with ``prop_flag: False``, i.e. **no keypoint refinement by
propagation**, so none is done here either (the per-frame poses are what the pose estimator gave).

Two ways of pooling the appearance (``PoseTrackConfig.pooling``):

- ``box`` (default): RoIAlign 4 x 10 in the person box, exactly as the MOT head pools a detection box;
- ``skeleton`` (``preset=unitrack``): UniTrack's ``skltn2mask`` — a mask of the torso polygon (shoulders,
  neck, hips) and the limbs drawn as lines ``max(extent / 20, 8)`` pixels wide — and the feature cells
  under it (``mask_cells``: at most ~400 cells, UniTrack's ``max_mask_area``; ``None``: the 4 x 10 masked grid).

UniTrack's PoseTrack settings (``config/*.yaml``, section ``posetrack``) are ``preset=unitrack`` (see
``unitrack.heads.options.PRESETS``): lost tracks kept 6 frames (``frame_rate 6`` x ``track_buffer 30`` / 30),
``motion_lambda 0.9999`` ungated, duplicate IoU 0.2, confirmation IoU 0.6, new tracks confirmed at once
(``STrack(..., ac=True)``), the tight keypoint box (``skltn2box``: ``box_margin 0.5``). Two departures, both
where UniTrack's output would be arbitrary: an observation left without a track (removed as a duplicate of a
lost track) is not written, where UniTrack writes it with the shared track id 1000; a box of a single keypoint
is widened to ``min_box_size`` around it (UniTrack adds 10 px to its right/bottom side).

``sequences`` / ``prediction_path`` / ``run_sequence`` are the plug-in protocol of ``unitrack.eval``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames
from unitrack.data.posetrack import KEYPOINTS, Person, PoseTrackSequence, keypoint_box
from unitrack.heads.association.tracker import AssociationTracker, Detections, TrackerConfig
from unitrack.heads.embed import Embedder
from unitrack.heads.mot import association_loop
from videossl.errors import InputError


@dataclass
class PoseTrackConfig(TrackerConfig):
    """The MOT tracker's settings plus how a person becomes an observation; every field is an ``--opt`` key."""

    pooling: str = "box"  # "box": RoIAlign in the person box; "skeleton": features under the skeleton mask
    box_margin: float = 0.65  # person box: each side this fraction of the keypoints' extent from the centre
    #                           (0.65: PoseTrack's converter, the box the person metrics use; 0.5: tight)
    min_box_size: float = 10.0  # a box narrower/lower than this (one keypoint, a vertical arm) is widened
    min_box_area: float = 0.0  # no pedestrian-shaped output filter: people sit, bend and lie
    max_aspect: float | None = None


def person_box(keypoints: np.ndarray, margin: float = 0.65, min_size: float = 10.0) -> np.ndarray | None:
    """``x, y, w, h`` around the visible keypoints (``v > 0``), each side at least ``min_size``; None without any."""
    box = keypoint_box(keypoints, margin)
    if box is None:
        return None
    c = box[:2] + box[2:] / 2
    wh = np.maximum(box[2:], min_size)
    return np.concatenate([c - wh / 2, wh])


# UniTrack's skltn2mask, in PoseTrack 2018 names: the torso polygon and the limbs drawn as thick lines
_TORSO = ("right_hip", "left_hip", "left_shoulder", "head_bottom", "right_shoulder")
_LIMBS = (("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
          ("right_elbow", "right_wrist"), ("left_shoulder", "head_bottom"), ("right_shoulder", "head_bottom"),
          ("head_bottom", "head_top"), ("left_shoulder", "left_hip"), ("left_hip", "left_knee"),
          ("left_knee", "left_ankle"), ("right_shoulder", "right_hip"), ("right_hip", "right_knee"),
          ("right_knee", "right_ankle"))
_TORSO_IDX = [KEYPOINTS.index(n) for n in _TORSO]
_LIMB_IDX = [(KEYPOINTS.index(a), KEYPOINTS.index(b)) for a, b in _LIMBS]


def skeleton_mask(keypoints: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """UniTrack's ``skltn2mask``: ``uint8 [H, W]``, 1 on the torso polygon and on lines along the limbs,
    ``max(extent / 20, 8)`` px wide (extent: the larger side of the visible keypoints' extent)."""
    import cv2

    kp = np.asarray(keypoints, np.float64).reshape(-1, 3)
    mask = np.zeros(image_hw, np.uint8)
    vis = kp[:, 2] > 0
    if not vis.any():
        return mask
    pts = kp[:, :2].astype(np.int64)  # UniTrack truncates to int
    torso = pts[[k for k in _TORSO_IDX if vis[k]]]
    if len(torso) > 2:
        cv2.fillConvexPoly(mask, torso.astype(np.int32), 1)
    extent = pts[vis].max(0) - pts[vis].min(0)
    width = max(int(max(extent.max(), 0) / 20), 8)
    for a, b in _LIMB_IDX:
        if vis[a] and vis[b]:
            cv2.line(mask, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), 1, thickness=width)
    return mask


def check_config(cfg: PoseTrackConfig) -> None:
    """Combinations the tracker cannot run, refused in one line before any work."""
    if cfg.pooling not in ("box", "skeleton"):
        raise InputError(None, f"option pooling={cfg.pooling!r} for task posetrack: expected box or skeleton")
    if cfg.pooling == "skeleton" and cfg.mask_cells is not None and cfg.appearance == "recons" \
            and cfg.recons_norm != "all":  # per-pair costs need maps of one shape; cell lists vary per person
        raise InputError(None, f"option mask_cells={cfg.mask_cells} (the cells under each skeleton, a different "
                               "number per person) needs recons_norm=all or mask_cells=none")


def track_people(reader, people: dict[int, list[np.ndarray]], embedder: Embedder | None,
                 config: PoseTrackConfig | None = None, batch_size: int = 8, timings: dict | None = None,
                 on_frame=None) -> dict[int, list[tuple[int, int]]]:
    """Track one sequence of poses. ``people``: frame (0-based) -> keypoints ``[17, 3]`` of each person.

    Returns frame -> ``[(person index in people[frame], track id)]`` for the persons on a confirmed track;
    ``on_frame(frame, rgb, that frame's list)`` is called per frame when given (rendering).
    ``embedder=None`` (or ``use_appearance=False``) is the motion-only tracker: no pixel is read.
    """
    cfg = config or PoseTrackConfig()
    check_config(cfg)
    tracker = AssociationTracker(cfg)
    embedder = None if embedder is None else embedder.configured(cfg)
    image_hw = (reader.height, reader.width)
    out: dict[int, list[tuple[int, int]]] = {}

    pending: dict[int, list] = {}  # frame -> its observations, from pooling (features) until its step

    def observations(i):
        """(index into people[i], keypoints, tlwh box) of the persons with a visible keypoint."""
        if i not in pending:
            boxes = ((k, kp, person_box(kp, cfg.box_margin, cfg.min_box_size)) for k, kp in enumerate(people.get(i, [])))
            pending[i] = [o for o in boxes if o[2] is not None]
        return pending[i]

    def pool(feats, indices):
        frames = [observations(i) for i in indices]
        if cfg.pooling == "box":
            return embedder.pool_boxes(feats, [np.array([np.r_[b[:2], b[:2] + b[2:]] for _, _, b in o]).reshape(-1, 4)
                                               for o in frames], image_hw)
        masks = [np.stack([skeleton_mask(kp, image_hw) for _, kp, _ in o]) if o else np.zeros((0, *image_hw), np.uint8)
                 for o in frames]
        if cfg.mask_cells is not None:  # UniTrack: the cells under the mask, [M, C, P, 1] + counts
            return embedder.pool_mask_cells(feats, masks, image_hw, cfg.mask_cells)
        return embedder.pool_masks(feats, masks, image_hw)

    def step(i, maps):
        obs = observations(i)
        del pending[i]
        boxes = np.array([b for _, _, b in obs], np.float64).reshape(-1, 4)
        maps, cells = maps if isinstance(maps, tuple) else (maps, None)
        tracks = tracker.update(Detections(boxes.copy(), np.ones(len(obs)), maps, None, cells))
        taken = [False] * len(obs)
        frame_out = []
        for tr in tracks:  # the track's observation this frame is a copy of one of this frame's boxes
            k = next((j for j, b in enumerate(boxes) if not taken[j] and np.array_equal(b, tr.tlwh_obs)), None)
            if k is None or not tracker.output_filter(tr.tlwh):
                continue
            taken[k] = True
            frame_out.append((obs[k][0], tr.track_id))
        out[i] = frame_out
        return frame_out

    association_loop(reader, batch_size, embedder if cfg.use_appearance else None, pool, step, timings, on_frame)
    return out


# -- keypoint files ---------------------------------------------------------------------------------
def read_keypoints(path, num_frames: int, start: int = 0, end: int | None = None) -> tuple[PoseTrackSequence, dict]:
    """A user's (or a pose estimator's) keypoints: a PoseTrack 2018 JSON whose ``images`` are the video's
    frames in order (``images[k]`` = frame ``k`` of the whole video) and whose ``annotations`` hold the
    persons' ``keypoints`` (17 x ``[x, y, score]``; ``track_id`` not needed, it is ignored).

    Returns the sequence cut to ``[start, end)`` and ``{cut frame: [keypoints [17, 3], ...]}``. A file that
    is not such a JSON, lists more images than the video has frames, or has a malformed entry is one
    ``InputError`` naming the file (and the entry)."""
    from unitrack.data.posetrack import parse_sequence

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such keypoints file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read keypoints file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        for ann in data["annotations"]:  # identities are what this head finds: ignore any the file has
            if isinstance(ann, dict):
                ann["track_id"] = -1
    seq = parse_sequence(data, path, path.parent)
    if len(seq.frames) > num_frames:
        raise InputError(path, f"lists {len(seq.frames)} images, the video has {num_frames} frames "
                               "(images[k] is frame k of the whole video)")
    end = num_frames if end is None else end
    if len(seq.frames) < end:
        print(f"warning: {path}: {len(seq.frames)} images for {num_frames} frames; frames from "
              f"{len(seq.frames)} on have no persons", file=sys.stderr)
    seq.frames = seq.frames[start:end]
    people = {t: [p.keypoints for p in f.people] for t, f in enumerate(seq.frames) if f.people}
    return seq, people


def tracked_people(seq: PoseTrackSequence, people: dict[int, list[np.ndarray]],
                   result: dict[int, list[tuple[int, int]]], upto: int | None = None) -> list[list[Person]]:
    """The prediction persons per frame of ``seq`` (frames past ``upto`` empty): the observation's keypoints
    (scores: the observation's, else its ``v``) with the track id."""
    out = []
    for t, frame in enumerate(seq.frames):
        persons = []
        if upto is None or t < upto:
            src = frame.people
            for k, tid in result.get(t, []):
                kp = people[t][k]
                scores = src[k].scores if k < len(src) and src[k].scores is not None else kp[:, 2]
                persons.append(Person(tid, kp.copy(), scores, box=keypoint_box(kp)))
        out.append(persons)
    return out


# -- plug-in protocol of unitrack.eval ----------------------------------------------------------
@dataclass
class PoseTrackFrames(LazyFrames):
    """A PoseTrack sequence's frames as the object ``unitrack.heads.mot.SequenceFrames`` reads."""

    name: str
    frame_dir: Path
    frames: list[Path]
    height: int
    width: int
    fps: float = 30.0  # PoseTrack lists no frame rate; its videos are ~30 fps


def sequences(root: Path) -> list[str]:
    from unitrack.data import posetrack

    return posetrack.sequences(root)


def prediction_path(task_dir: Path, seq: str) -> Path:
    return Path(task_dir) / f"{seq}.json"


def load_sequence(root: Path, name: str, seed: int = 0):
    """The ground truth, its frames, and the poses to track: ``ROOT/obs/<split>/<seq>.json`` (a pose
    estimator's, in the layout :func:`read_keypoints` reads) when present, else the ground-truth keypoints
    with the identities removed and the order shuffled per frame (oracle poses: the score then measures
    association alone). Returns ``(gt, frames reader, people, source, note)``; ``source``: the sequence
    the poses came from (its keypoint scores are written out), None for the ground truth's."""
    from unitrack.data import posetrack
    from unitrack.data._common import image_size
    from unitrack.heads.mot import SequenceFrames

    ann_dir = posetrack.annotation_dir(root)
    gt = posetrack.load_sequence(ann_dir / f"{name}.json", root)
    paths = gt.frame_paths
    if not paths:
        raise InputError(gt.path, "no images")
    for p in paths:
        if not p.is_file():
            raise InputError(p, f"missing frame (listed in {gt.path.name})")
    h, w = image_size(paths[0])
    reader = SequenceFrames(PoseTrackFrames(name, paths[0].parent, paths, h, w))
    obs_path = Path(root) / "obs" / ann_dir.name / f"{name}.json"
    if obs_path.is_file():
        obs, people = read_keypoints(obs_path, len(paths))
        if len(obs.frames) != len(paths):
            raise InputError(obs_path, f"{len(obs.frames)} images, the ground truth {gt.path.name} has {len(paths)}")
        return gt, reader, people, obs, None
    rng = np.random.default_rng(seed)
    people = {}
    for t, f in enumerate(gt.frames):
        if f.people:
            people[t] = [f.people[k].keypoints for k in rng.permutation(len(f.people))]
    return gt, reader, people, None, f"{obs_path}: absent; tracking the ground-truth keypoints with identities removed"


def base_config(frame_rate: float = 30.0) -> PoseTrackConfig:
    return PoseTrackConfig(frame_rate=frame_rate)


def render_callback(writer, people: dict[int, list[np.ndarray]]):
    """An ``on_frame`` drawing each frame's tracked skeletons in their identity's colour into ``writer``."""
    from unitrack.viz import draw_people

    def on_frame(frame, rgb, items):
        writer.write(draw_people(rgb, [people[frame][k] for k, _ in items], [tid for _, tid in items]))

    return on_frame


def run_sequence(job) -> dict:
    """Track one PoseTrack sequence and write ``job.out`` (PoseTrack 2018 JSON with the ground truth's images)."""
    from unitrack.data.posetrack import write_predictions
    from unitrack.heads.options import config_from_options

    gt, reader, people, source, note = load_sequence(job.root, job.seq)
    if note:
        print(f"note: {note}", file=sys.stderr)
    cfg = config_from_options(PoseTrackConfig, job.options, "posetrack", base=base_config(reader.fps))
    embedder = Embedder(job.model, job.device) if cfg.use_appearance else None
    timings: dict = {}
    if job.render is not None:
        from unitrack.viz import Mp4Writer

        with Mp4Writer(job.render, reader.fps) as w:
            result = track_people(reader, people, embedder, cfg, timings=timings, on_frame=render_callback(w, people))
    else:
        result = track_people(reader, people, embedder, cfg, timings=timings)
    if source is None:  # oracle poses: the ground truth's persons were shuffled, so scores come from their v
        source = PoseTrackSequence(gt.name, gt.path, gt.root, [type(f)(f.image_id, f.file_name, f.is_labeled)
                                                               for f in gt.frames])
    write_predictions(job.out, gt, tracked_people(source, people, result))
    return timings
