"""``unitrack track``: run one head on a user's own video (file or frame folder) from a first-frame target.

Why a separate entry from ``unitrack eval``: a user's footage has no dataset layout and no ground truth.
This module only *builds* what the heads already take — a sequence object (:class:`UserClip`) that
quacks like the ``unitrack.data`` dataclasses (``frames``, ``frame_dir``, ``load_frames``, ``height`` …
plus the task's first-frame target: ``boxes[0]``, ``first_mask()``, ``joints[0]``) over a
``videossl.io`` reader, and cleaned detections for MOT/MOTS (every frame's keypoints for posetrack) — then
calls the same head functions as ``unitrack eval`` (``sot.track_sequence``, ``vos.segment_sequence``,
``pose.propagate_joints``, ``mot.track_boxes``, ``mots.track_masks``, ``posetrack.track_people``) with the
same model registry. No second head loop.

Outputs in ``OUT``: ``<name>.mp4`` (the result drawn with ``unitrack.viz``) and the predictions in the
task's standard format: ``<name>.txt`` (SOT: OTB, one line per frame of the cut; MOT: MOTChallenge;
MOTS: MOTS20), ``<name>/<frame>.png`` (VOS, DAVIS indexed PNGs), ``<name>.json`` (pose; posetrack: PoseTrack
2018 JSON with the keypoints file's images of the cut). Frame numbers in
MOT/MOTS files and VOS PNG names are those of the *original* video (so they line up with the
detections file); ``--start/--end`` (0-based, end exclusive) cut the video.

Bad input fails before any work with one ``InputError`` line naming the file; a failure in the middle
(a frame that cannot be decoded) still writes the predictions and the mp4 of the frames already done.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unitrack.data._common import LazyFrames
from videossl.errors import InputError

from unitrack.tasks import DEFAULT_MODEL, NAMES, TASKS



@dataclass
class UserClip(LazyFrames):
    """A cut ``[start, end)`` of a user's video as the heads' sequence object (see the module docstring).

    ``frames`` are names only (the folder's files, or ``<video>/<index>.png`` pseudo-paths for a file):
    the heads use them for lengths, error messages and VOS PNG names; pixels come from ``load_frames``,
    which opens one reader per thread because ``prefetch`` decodes on worker threads.
    """

    name: str
    path: Path
    reader: object
    start: int
    frames: list[Path]
    frame_dir: Path
    height: int
    width: int
    fps: float
    boxes: np.ndarray | None = None  # sot: [1, 4] 0-based xywh
    gt_path: Path | None = None  # the file the SOT head names when the box is unusable
    joints: np.ndarray | None = None  # pose: [1, J, 2]
    mat_path: Path | None = None
    mask: np.ndarray | None = None  # vos: uint8 [H, W] ids
    people: dict | None = None  # posetrack: cut frame -> the persons' keypoints [17, 3]
    pose_seq: object = None  # posetrack: the keypoints file's sequence, cut (its images are written back)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def load_frames(self, indices) -> np.ndarray:
        r = getattr(self._local, "reader", None)
        if r is None:
            r = self._local.reader = self.reader if threading.current_thread() is threading.main_thread() \
                else self.reader.clone()
        return r.get_batch([self.start + int(i) for i in indices])

    def first_mask(self) -> np.ndarray:
        return self.mask


def open_clip(video, start: int = 0, end: int | None = None) -> UserClip:
    """The cut ``[start, end)`` of a video file or frame folder; ``InputError`` if it cannot be decoded."""
    from videossl.io import open_video

    path = Path(video)
    if not path.exists():
        raise InputError(path, "no such video file or frame folder")
    reader = open_video(path)  # InputError naming the file when it cannot be decoded
    n = len(reader)
    end = n if end is None else int(end)
    if not (0 <= start < end <= n):
        raise InputError(path, f"cut --start {start} --end {end} is not inside the video's {n} frames")
    try:
        reader.get_batch([start])
    except InputError:
        raise
    except Exception as exc:  # decoder-specific errors
        raise InputError(path, f"cannot decode frame {start}: {exc}") from None
    files = getattr(reader, "files", None)
    if files:
        frames = [Path(f) for f in files[start:end]]
        frame_dir = path
    else:
        frames = [path / f"{i:05d}.png" for i in range(start, end)]
        frame_dir = path
    name = path.stem if path.is_file() else path.name
    return UserClip(name, path, reader, start, frames, frame_dir, reader.height, reader.width, reader.fps or 25.0)


def parse_box(box) -> np.ndarray:
    if isinstance(box, str):
        try:
            box = [float(v) for v in box.replace(" ", "").split(",")]
        except ValueError:
            raise InputError(None, f"--box {box!r}: expected x,y,w,h numbers") from None
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.size != 4:
        raise InputError(None, f"--box needs 4 numbers x,y,w,h, got {b.size}")
    return b


def check_box(clip: UserClip, box: np.ndarray) -> None:
    x, y, w, h = box
    H, W = clip.height, clip.width
    if not (np.isfinite(box).all() and w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= W and y + h <= H):
        raise InputError(clip.path, f"box x,y,w,h = {','.join(f'{v:g}' for v in box)} is not inside the "
                                    f"{W}x{H} (WxH) frame with a positive size")


def read_joints_json(path, clip: UserClip) -> np.ndarray:
    """First-frame joints ``[J, 2]`` (0-based pixels) from ``{"joints": [[x, y], ...]}`` (or the pose
    output form ``{"joints": [[[x, y], ...], ...]}``, first frame taken, or a bare list)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read joints JSON: {exc}") from None
    j = data.get("joints") if isinstance(data, dict) else data
    try:
        a = np.asarray(j, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(path, "joints must be a list of [x, y] pairs") from None
    if a.ndim == 3:
        a = a[0]
    from unitrack.data.writers import NUM_JOINTS

    if a.ndim != 2 or a.shape != (NUM_JOINTS, 2):  # the pose output format holds JHMDB's 15 joints
        raise InputError(path, f"joints must be {NUM_JOINTS} [x, y] pairs (JHMDB's joints, {NUM_JOINTS} x 2), "
                               f"got shape {list(a.shape)}")
    ok = np.isfinite(a).all(1)
    inside = ok & (a[:, 0] >= 0) & (a[:, 1] >= 0) & (a[:, 0] < clip.width) & (a[:, 1] < clip.height)
    if not ok.any():
        raise InputError(path, "no finite joint to propagate")
    if (ok & ~inside).any():
        k = int(np.flatnonzero(ok & ~inside)[0])
        raise InputError(path, f"joint {k} at ({a[k, 0]:g}, {a[k, 1]:g}) is outside the "
                               f"{clip.width}x{clip.height} (WxH) frame")
    return a


def _in_cut(frame: np.ndarray, clip: UserClip) -> np.ndarray:
    return (frame >= clip.start) & (frame < clip.start + len(clip))


def read_mask_detections(path, clip: UserClip, total: int) -> tuple[dict[int, list], int]:
    """MOTS20 txt (frames numbered in the whole video, any class) -> ``{cut frame: [(1.0, rle)]}`` and the
    class id written back (the file's single class, else pedestrian)."""
    from unitrack.data.mots import read_mots_txt
    from unitrack.heads.mots import PEDESTRIAN

    rows = read_mots_txt(path, (clip.height, clip.width), total)
    objs: dict[int, list] = {}
    for k in np.flatnonzero(_in_cut(rows.frame, clip)):
        objs.setdefault(int(rows.frame[k]) - clip.start, []).append((1.0, rows.rles[k]))
    classes = np.unique(rows.class_id)
    return objs, int(classes[0]) if len(classes) == 1 else PEDESTRIAN


def track(task: str, video, out="runs/track", *, box=None, mask=None, joints=None, detections=None, keypoints=None,
          model: str = DEFAULT_MODEL, device: str = "auto", start: int = 0, end: int | None = None,
          render: bool = True, progress: bool = True, options: dict | None = None,
          detector: str | None = None, detector_options: dict | None = None,
          pretrained: str | None = "default") -> dict:
    """Track ``task``'s target(s) through ``video`` and write the mp4 + predictions into ``out``.

    ``box``: ``"x,y,w,h"`` or 4 numbers (0-based pixels of the first frame of the cut); ``mask``: indexed
    PNG path; ``joints``: JSON path; ``detections``: MOTChallenge txt (mot) or MOTS20 txt (mots); ``keypoints``
    (posetrack): PoseTrack 2018 JSON of every person's keypoints per frame (``images[k]`` = frame ``k`` of the
    whole video; see ``unitrack.heads.posetrack.read_keypoints``).
    mot without ``detections``: ``detector`` (``unitrack.detect``: hog (default), torchvision-fasterrcnn or a
    det.txt path) with ``detector_options``, cached in ``out/detections/``.
    ``options`` go to the head's config (``DCFConfig``, ``PropagationConfig``, ``TrackerConfig`` fields, flat;
    strings are parsed; see ``unitrack.heads.options``); an unknown key fails before any work.
    Returns ``{"task", "frames", "predictions", "video", "device", "timings"}`` (paths as strings; timings:
    seconds per stage, e.g. mot detection / decode / features / pooling / association).
    """
    from tqdm import tqdm

    from unitrack.eval import _LazyModel
    from unitrack.heads.options import normalize_options
    from videossl.utils import resolve_device

    if task not in TASKS:
        raise InputError(None, f"unknown task {task!r} (one of {', '.join(NAMES)})")
    flag = TASKS[task].target  # the first-frame target's flag, from the task table
    finds_own = ("mot", "pose")  # mot: a built-in detector; pose: a pose model (when installed)
    given = {"box": box, "mask": mask, "joints": joints, "detections": detections, "keypoints": keypoints}
    if task not in finds_own and given[flag] is None:
        raise InputError(None, f"--task {task} needs --{flag}")
    if keypoints is not None and task != "posetrack":
        raise InputError(None, "--keypoints applies to --task posetrack only")
    if task != "mot" and (detector is not None or detector_options):
        raise InputError(None, "--detector / --det-opt apply to --task mot only")
    options = normalize_options(task, options)
    class_id, targets = None, None  # mots: the class written back; mot/mots: detections per cut frame
    clip = open_clip(video, int(start), end)
    total = len(clip.reader)
    # -- validate the target before any work ------------------------------------------------------
    if task == "sot":
        b = parse_box(box)
        check_box(clip, b)
        clip.boxes, clip.gt_path = b[None], clip.path
    elif task == "vos":
        from unitrack.data.davis import read_mask

        clip.mask = read_mask(mask, (clip.height, clip.width))
    elif task == "pose":
        if joints is None:  # first-frame joints from the optional pose model (BlazePose -> JHMDB's 15)
            from unitrack.heads.pose import first_frame_joints

            clip.joints, clip.mat_path = first_frame_joints(clip.load_frames([0])[0], clip.path)[None], clip.path
        else:
            clip.joints, clip.mat_path = read_joints_json(joints, clip)[None], Path(joints)
    elif task == "mots":
        targets, class_id = read_mask_detections(detections, clip, total)
    elif task == "posetrack":
        from unitrack.heads.posetrack import read_keypoints

        clip.pose_seq, clip.people = read_keypoints(keypoints, total, clip.start, clip.start + len(clip))

    dev = str(resolve_device(device))
    from videossl.utils.outputs import check_output_dir

    out = check_output_dir(out)  # read-only or full: one line before the model is built
    net = _LazyModel(model, dev, pretrained)()  # the loader `unitrack eval` uses; missing weights fail before output
    timings: dict = {}
    if task == "mot":  # after the model loads: a missing model fails before minutes of detection
        from unitrack.detect import resolve_detections

        targets = resolve_detections(clip, out, detections, detector, detector_options, dev, progress, timings)
    mp4 = out / f"{clip.name}.mp4"
    pred = TASKS[task].prediction_path(out, clip.name)  # the file (folder for vos) `unitrack eval` writes
    from unitrack import viz

    writer = viz.Mp4Writer(mp4, clip.fps) if render else None
    bar = tqdm(total=len(clip), desc=f"track {task}", unit="frame", disable=not progress, file=sys.stderr)
    done: dict[int, object] = {}  # cut frame -> prediction, kept for a partial write on failure

    def emit(t, rgb, prediction, draw):
        done[t] = prediction
        if writer is not None:
            writer.write(draw(rgb if rgb is not None else clip.load_frames([t])[0]))
        bar.update(1)

    try:
        rows = _run_head(task, clip, net, dev, options, emit, pred, targets, timings)
        if rows is not None:  # mot/mots: the head's own rows (output filter applied) replace the per-frame ones
            done = {"rows": rows}
    finally:
        bar.close()
        if writer is not None:
            writer.close(keep=bool(done))  # frames already drawn are kept even when a later one failed
        _write_predictions(task, pred, clip, done, class_id)
    return {"task": task, "frames": len(clip), "predictions": str(pred), "video": str(mp4) if render else None,
            "device": dev, "timings": timings}


def _run_head(task: str, clip: UserClip, model, dev: str, options: dict, emit, pred: Path, targets,
              timings: dict | None = None):
    """Call the task's head (the same functions ``unitrack eval`` runs) with ``emit(t, rgb, prediction, draw)``
    per frame; return the head's rows for mot/mots, else None (predictions are in ``emit``'s record)."""
    import torch

    from unitrack import viz
    from unitrack.heads.options import BASELINE, config_from_options
    from unitrack.heads.propagation import PropagationConfig

    baseline = options.get("baseline") == BASELINE
    with torch.no_grad():
        if task == "sot":
            from unitrack.heads.sot import DCFConfig, track_sequence

            track_sequence(clip, model, dev, config_from_options(DCFConfig, options, task), baseline, timings,
                           on_frame=lambda t, rgb, b: emit(t, rgb, b.copy(), lambda f: viz.draw_track_box(f, b)))
        elif task == "pose":
            from unitrack.heads.pose import propagate_joints

            edges = None  # JHMDB's skeleton (read_joints_json takes its 15 joints only)
            propagate_joints(clip, model, dev, config_from_options(PropagationConfig, options, task), baseline,
                             on_frame=lambda t, rgb, j: emit(t, rgb, j.copy(), lambda f: viz.draw_pose(f, j, edges)))
        elif task == "posetrack":
            from unitrack.heads.embed import Embedder
            from unitrack.heads.mot import SequenceFrames
            from unitrack.heads.posetrack import PoseTrackConfig, base_config, track_people

            cfg = config_from_options(PoseTrackConfig, options, task, base=base_config(clip.fps))
            people = clip.people

            def on_frame(t, rgb, items):
                emit(t, rgb, list(items), lambda f: viz.draw_people(f, [people[t][k] for k, _ in items],
                                                                    [i for _, i in items]))

            track_people(SequenceFrames(clip), people, Embedder(model, dev) if cfg.use_appearance else None, cfg,
                         timings=timings, on_frame=on_frame)
        elif task == "vos":
            from unitrack.data.writers import write_davis_png
            from unitrack.heads.vos import segment_sequence

            pred.mkdir(parents=True, exist_ok=True)

            def on_frame(t, rgb, m, ids):
                emit(t, rgb, None, lambda f: viz.draw_label_map(f, m, ids))

            cfg = config_from_options(PropagationConfig, options, task)
            for t, m in segment_sequence(clip, model, dev, cfg, baseline, on_frame=on_frame):
                write_davis_png(pred / f"{clip.frames[t].stem}.png", m)  # per frame: kept on failure
        else:
            from unitrack.heads.embed import Embedder
            from unitrack.heads.mot import SequenceFrames

            cfg = tracker_config(task, clip.fps, options)
            emb = Embedder(model, dev) if cfg.use_appearance else None
            if task == "mot":
                from unitrack.heads.mot import track_boxes

                def on_frame(t, rgb, tracks):
                    items = [(tr.tlwh.copy(), tr.track_id, tr.score) for tr in tracks]
                    emit(t, rgb, items, lambda f: viz.draw_boxes(f, [b for b, _, _ in items], [i for _, i, _ in items]))

                return track_boxes(SequenceFrames(clip), targets, emb, cfg, timings=timings, on_frame=on_frame)
            from pycocotools import mask as mask_utils

            from unitrack.heads.mots import _rle, track_masks

            def on_frame(t, rgb, tracks):
                items = [(_rle(tr.mask), tr.track_id) for tr in tracks]
                emit(t, rgb, items, lambda f: viz.draw_masks(f, [mask_utils.decode(r) for r, _ in items],
                                                            [i for _, i in items]))

            return track_masks(SequenceFrames(clip), targets, emb, cfg, on_frame=on_frame)
    return None


def tracker_config(task: str, fps: float, options: dict | None):
    """The ``TrackerConfig`` of ``track --task mot|mots``: the config at the video's frame rate (mots: no
    pedestrian output filter, as the mots head), the task table's own-video ``track_options``, then ``options``."""
    from unitrack.heads.association.tracker import TrackerConfig
    from unitrack.heads.options import config_from_options

    base = TrackerConfig(frame_rate=fps) if task == "mot" else \
        TrackerConfig(frame_rate=fps, min_box_area=0, max_aspect=None)
    base = base.replace(**dict(TASKS[task].track_options))
    return config_from_options(TrackerConfig, options, task, base=base)


def _write_predictions(task: str, pred: Path, clip: UserClip, done: dict, class_id) -> None:
    """Write what ``done`` holds (all frames, or those processed before a failure) in the task's format."""
    from unitrack.data import writers

    if task == "vos" or not done:
        return  # VOS PNGs are written frame by frame
    if task == "sot":
        writers.write_otb(pred, np.stack([done[t] for t in sorted(done)]))
    elif task == "pose":
        writers.write_pose_json(pred, np.stack([done[t] for t in sorted(done)]))
    elif task == "posetrack":  # the frames done (all, or those before a failure), the file's images
        import copy

        from unitrack.data.posetrack import write_predictions
        from unitrack.heads.posetrack import tracked_people

        seq = copy.copy(clip.pose_seq)
        seq.frames = seq.frames[:max(done) + 1]
        write_predictions(pred, seq, tracked_people(seq, clip.people, done))
    elif task == "mot":
        rows = done["rows"] if "rows" in done else [(t, i, *b, s) for t in sorted(done) for b, i, s in done[t]]
        a = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
        writers.write_mot(pred, a[:, 0].astype(np.int64) + clip.start, a[:, 1].astype(np.int64), a[:, 2:6], a[:, 6])
    else:
        from unitrack.heads.mots import disjoint

        if "rows" in done:
            rows = done["rows"]
        else:  # partial: the raw track masks of the frames done, made disjoint as the head does
            rows = [(t, i, r) for t in sorted(done) for (r, i) in zip(disjoint([r for r, _ in done[t]],
                                                                               np.arange(len(done[t]))),
                                                                      [i for _, i in done[t]])]
        writers.write_mots(pred, np.array([r[0] + clip.start for r in rows], np.int64),
                           np.array([class_id * 1000 + r[1] for r in rows], np.int64),
                           np.full(len(rows), class_id, np.int64), rles=[r[2] for r in rows])


def _own_video_note() -> str:
    """The help's line on the defaults ``track`` uses where ``eval`` keeps the config's (the task table's
    ``track_options`` and ``HOGConfig``, the one place each is set)."""
    from unitrack.detect import HOGConfig

    opts = {t.name: dict(t.track_options) for t in TASKS.values() if t.track_options}
    buf = opts.get("mot", {}).get("track_buffer")
    return ("Own-video defaults that differ from unitrack eval's (--opt overrides): "
            + "; ".join(f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items()) for k, v in opts.items())
            + (f" (track_buffer counts frames at 30 fps: {buf} = {buf / 30:g} s, because the built-in HOG detector "
               f"misses a walker for seconds and each miss past the buffer made a new id; eval keeps UniTrack's 30)"
               if buf else "")
            + f". --detector hog keeps boxes scoring >= {HOGConfig().score_thresh:g} (--det-opt score_thresh=...).")


def register(subparsers) -> None:
    p = subparsers.add_parser("track", help="run a head on your own video from a first-frame target",
                              description="Track a target through a video file or frame folder; write OUT/<name>.mp4 "
                                          "(result drawn) and the predictions in the task's standard format.",
                              epilog=_own_video_note())
    p.add_argument("video", help="video file or folder of frames")
    p.add_argument("--task", required=True, choices=NAMES)
    p.add_argument("--box", help="sot: x,y,w,h of the target in the first frame (0-based pixels)")
    p.add_argument("--mask", help="vos: indexed PNG of the first frame (0 = background)")
    p.add_argument("--joints", help='pose: JSON {"joints": [[x, y], ...]} of the first frame (0-based pixels); '
                                    "without it: BlazePose's 15 JHMDB joints (pip install '.[pose]')")
    p.add_argument("--detections", help="mot: MOTChallenge txt; mots: MOTS20 txt (frames 1-based in the whole video)")
    p.add_argument("--keypoints", help="posetrack: PoseTrack 2018 JSON with every person's keypoints per frame "
                                       "(images[k] = frame k of the whole video; track ids not needed)")
    from unitrack.detect import add_arguments

    add_arguments(p)  # mot without --detections: --detector hog|torchvision-fasterrcnn|FILE, --det-opt
    p.add_argument("--out", default="runs/track", help="output folder (default runs/track)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name from the registry (default {DEFAULT_MODEL})")
    p.add_argument("--pretrained", default="default",
                   help="weights for --model, passed to create_model: a tag (imagenet, openai), a Hugging Face id or "
                        "a local checkpoint; default: the model's own")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--start", type=int, default=0, help="first frame (0-based) of the cut")
    p.add_argument("--end", type=int, default=None, help="end of the cut (exclusive; default: the last frame)")
    p.add_argument("--no-render", dest="render", action="store_false", help="predictions only, no mp4")
    from unitrack.eval import add_opt_argument

    add_opt_argument(p)
    from videossl.clitools import add_progress_arg

    add_progress_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unitrack.heads.options import parse_opt_args

    res = track(args.task, args.video, args.out, box=args.box, mask=args.mask, joints=args.joints,
                detections=args.detections, keypoints=args.keypoints, model=args.model, device=args.device,
                start=args.start, end=args.end, render=args.render, options=parse_opt_args(args.opt),
                progress=not args.no_progress, pretrained=args.pretrained, detector=args.detector,
                detector_options=parse_opt_args(args.det_opt))
    print(f"{res['task']}: {res['frames']} frames on {res['device']} -> {res['predictions']}"
          + (f", {res['video']}" if res["video"] else ""))
    t = {k: v for k, v in res["timings"].items() if isinstance(v, float) and v > 0}
    if t:  # where the time went, per stage (mot: detection / decode / features / pooling / association)
        done = res["timings"].get("stage_frames", {})  # stages that did not see every frame (resumed detection)
        print("time: " + ", ".join(f"{k} {v:.1f} s ({done.get(k, res['frames']) / v:.2f} fps)" for k, v in t.items()))
    return 0


class _CallableModule(types.ModuleType):
    """``unitrack.track`` names both this module and the API function: calling the module calls the function."""

    def __call__(self, *args, **kwargs):
        return track(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
