"""Person detections for ``unitrack track --task mot`` when the user has none (``--detector``).

One table, :data:`DETECTORS`, name -> detector class. A detector is a small object with

* ``name`` and ``settings()`` — everything that changes its output (the cache key);
* ``batch_size`` — frames handed to one ``detect`` call;
* ``detect(frames uint8 [N, H, W, 3] RGB) -> [N × float [M, 5]]`` — ``x, y, w, h`` (0-based pixels) and score.

Shipped detectors:

* ``hog`` (default; no download): OpenCV's HOG + linear SVM people detector
  (``cv2.HOGDescriptor_getDefaultPeopleDetector()``, Dalal & Triggs, 64×128 window). The frame is
  upscaled ``upscale``× first because the window finds people ≥ ~100 px tall and street footage has
  them at 60–100 px; OpenCV's own rectangle grouping (``group_threshold``), then NMS
  (``torchvision.ops.nms``, IoU ``nms_iou``) removes the nested boxes grouping leaves, then
  ``score_thresh`` on the SVM margin (1.2: on ``vtest.avi`` the false boxes over background and people groups
  and the parked van's rear score 0.3-1.2, the walkers 1.2-3.2).
  Settings tuned on Debian's ``vtest.avi`` (eval/results/own-video.md).
  HOG has no batched form; frames are decoded ahead on worker threads and OpenCV runs each pyramid on all cores.
* ``torchvision-fasterrcnn``: torchvision's COCO Faster R-CNN (ResNet-50 FPN v2, else v1, else MobileNetV3
  FPN), class ``person`` only, a batch of frames per forward. Weights are read from the torch hub cache only
  (``torch.hub.get_dir()/checkpoints``); none there is one :class:`MissingWeightsError` line saying how to get them.
* ``FILE`` (any existing path): a MOTChallenge ``det.txt`` (frames 1-based in the whole video).

Cache: detections of a cut are written as MOTChallenge ``det.txt`` to
``OUT/detections/<video>-<detector>-<key>.txt`` with the settings beside it (``.json``); the key hashes the
video (resolved path, size, mtime), the cut and the detector settings, so a rerun, another ``--model`` or
another head reads the file instead of detecting again. The file holds every box the detector gave;
``score_thresh`` is applied when it is read, so a new threshold does not detect again either. The run that
detects tracks the boxes read back from the file it wrote (1/1000 px and score), not the detector's
full-precision ones, so it writes the same tracks as every rerun on the cache. A killed run
resumes: finished batches are appended to ``<...>.partial`` (each closed by a ``#done N`` line) and the final
file is written atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videossl.errors import InputError, MissingWeightsError

DEFAULT_DETECTOR = "hog"


def nms_boxes(dets: np.ndarray, iou: float) -> np.ndarray:
    """Rows ``[M, 5]`` (xywh, score) kept by greedy NMS at ``iou`` (torchvision's), best score first."""
    import torch
    from torchvision.ops import nms

    if len(dets) == 0:
        return dets.reshape(0, 5)
    b = torch.as_tensor(dets[:, :4], dtype=torch.float64)
    xyxy = torch.cat([b[:, :2], b[:, :2] + b[:, 2:]], 1)
    keep = nms(xyxy, torch.as_tensor(dets[:, 4], dtype=torch.float64), float(iou)).numpy()
    return dets[keep]


@dataclass(frozen=True)
class HOGConfig:
    upscale: float = 1.5  # people of 60-100 px -> 90-150 px, the 64x128 window's range
    win_stride: int = 8
    padding: int = 8
    scale: float = 1.05  # pyramid step
    hit_threshold: float = 0.0  # SVM margin of a window to count at all
    group_threshold: int = 2  # OpenCV's groupRectangles: windows needed to keep a cluster
    nms_iou: float = 0.4
    score_thresh: float = 1.2  # SVM margin (score) of a kept box; applied after the cache (see the module doc)


class HOGDetector:
    name = "hog"
    batch_size = 8

    def __init__(self, config: HOGConfig | None = None):
        import cv2

        if not hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"):
            raise InputError(None, f"--detector hog needs OpenCV 4.x's HOG people detector; this OpenCV "
                                   f"{cv2.__version__} has none (pip install 'opencv-python-headless<5')")
        self.cfg = config or HOGConfig()
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def settings(self) -> dict:
        import cv2

        return {"detector": self.name, "opencv": cv2.__version__, **_raw_settings(self.cfg)}

    def detect_one(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        c = self.cfg
        img = rgb if c.upscale == 1 else cv2.resize(rgb, None, fx=c.upscale, fy=c.upscale,
                                                   interpolation=cv2.INTER_LINEAR)
        rects, weights = self.hog.detectMultiScale(img, hitThreshold=c.hit_threshold,
                                                   winStride=(c.win_stride, c.win_stride),
                                                   padding=(c.padding, c.padding), scale=c.scale,
                                                   groupThreshold=c.group_threshold)
        if len(rects) == 0:
            return np.zeros((0, 5))
        d = np.concatenate([np.asarray(rects, np.float64) / c.upscale,
                            np.asarray(weights, np.float64).reshape(-1, 1)], 1)
        return nms_boxes(d, c.nms_iou)

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        return [self.detect_one(f) for f in frames]


@dataclass(frozen=True)
class FasterRCNNConfig:
    score_thresh: float = 0.5  # applied after the cache; the model keeps boxes from RAW_SCORE_FLOOR
    nms_iou: float = 0.5  # torchvision's box_nms_thresh
    batch_size: int = 4


# torchvision builder name -> weights enum name, best first (the first one in the hub cache is used)
FASTERRCNN_VARIANTS = (
    ("fasterrcnn_resnet50_fpn_v2", "FasterRCNN_ResNet50_FPN_V2_Weights"),
    ("fasterrcnn_resnet50_fpn", "FasterRCNN_ResNet50_FPN_Weights"),
    ("fasterrcnn_mobilenet_v3_large_fpn", "FasterRCNN_MobileNet_V3_Large_FPN_Weights"),
)
COCO_PERSON = 1
RAW_SCORE_FLOOR = 0.05  # torchvision's own box_score_thresh default


def _raw_settings(cfg) -> dict:
    """The config fields that change the detector's raw output (the cache key): all but ``score_thresh``."""
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k != "score_thresh"}


def find_fasterrcnn_weights() -> tuple[str, object, Path]:
    """``(builder, weights enum, file)`` of the first COCO Faster R-CNN checkpoint in the torch hub cache."""
    import torch
    from torchvision.models import detection

    ckpt = Path(torch.hub.get_dir()) / "checkpoints"
    for builder, enum in FASTERRCNN_VARIANTS:
        w = getattr(detection, enum).COCO_V1
        f = ckpt / Path(w.url).name
        if f.is_file():
            return builder, w, f
    w = detection.FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1
    raise MissingWeightsError(ckpt, f"--detector torchvision-fasterrcnn: no COCO Faster R-CNN weights in the torch hub "
                                    f"cache; put {w.url} (or fasterrcnn_resnet50_fpn / mobilenet_v3_large_fpn) there "
                                    f"(e.g. run torchvision.models.detection.fasterrcnn_resnet50_fpn_v2(weights='DEFAULT') "
                                    f"once online), or pass --detections det.txt")


class FasterRCNNDetector:
    name = "torchvision-fasterrcnn"

    def __init__(self, config: FasterRCNNConfig | None = None, device: str = "cpu"):
        import torch
        from torchvision.models import detection

        self.cfg = config or FasterRCNNConfig()
        self.batch_size = self.cfg.batch_size
        self.builder, weights, self.file = find_fasterrcnn_weights()
        model = getattr(detection, self.builder)(weights=None, weights_backbone=None,
                                                 box_score_thresh=min(RAW_SCORE_FLOOR, self.cfg.score_thresh),
                                                 box_nms_thresh=self.cfg.nms_iou)
        try:
            model.load_state_dict(torch.load(self.file, map_location="cpu", weights_only=True))
        except Exception as exc:
            raise MissingWeightsError(self.file, f"cannot load {self.builder} weights: "
                                                 f"{str(exc).splitlines()[0]}") from None
        self.device = device
        self.model = model.eval().to(device)

    def settings(self) -> dict:
        return {"detector": self.name, "weights": self.file.name, **_raw_settings(self.cfg)}

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            outs = self.model(list(x))  # one forward for the batch (the model resizes/normalises itself)
        return [person_rows(o["boxes"].cpu().numpy(), o["scores"].cpu().numpy(), o["labels"].cpu().numpy())
                for o in outs]


def person_rows(xyxy: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """torchvision detection output -> ``[M, 5]`` xywh + score rows of COCO class person."""
    keep = labels == COCO_PERSON
    b = np.asarray(xyxy, np.float64)[keep].reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2], np.asarray(scores, np.float64)[keep, None]], 1)


DETECTORS = {"hog": (HOGDetector, HOGConfig), "torchvision-fasterrcnn": (FasterRCNNDetector, FasterRCNNConfig)}


def detector_config(name: str, options: dict | None):
    """The detector's config dataclass with ``options`` (``--det-opt KEY=VALUE``) applied, typed and checked."""
    import typing

    from unitrack.heads.options import _coerce, _describe

    cls = DETECTORS[name][1]
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    kw = {}
    for key, value in (options or {}).items():
        if key not in fields:
            raise InputError(None, f"unknown --det-opt {key!r} for --detector {name}; valid keys: {', '.join(fields)}")
        try:
            kw[key] = _coerce(value, hints[key])
        except ValueError:
            raise InputError(None, f"--det-opt {key}={value!r} for --detector {name}: cannot parse, "
                                   f"expected {_describe(hints[key])}") from None
    return cls(**kw)


def create_detector(name: str = DEFAULT_DETECTOR, options: dict | None = None, device: str = "cpu"):
    if name not in DETECTORS:
        raise InputError(None, f"unknown --detector {name!r}: one of {', '.join(DETECTORS)} or a MOTChallenge det.txt")
    cls, _ = DETECTORS[name]
    cfg = detector_config(name, options)
    return cls(cfg, device) if cls is FasterRCNNDetector else cls(cfg)


# -- cache ----------------------------------------------------------------------------------------------------


def cache_key(clip, settings: dict) -> str:
    p = Path(clip.path).resolve()
    st = p.stat()
    ident = {"video": str(p), "size": st.st_size if p.is_file() else None, "mtime_ns": st.st_mtime_ns,
             "start": clip.start, "frames": len(clip), "hw": [clip.height, clip.width], **settings}
    return hashlib.sha1(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:12]


def cache_path(clip, detector, out) -> Path:
    return Path(out) / "detections" / f"{clip.name}-{detector.name}-{cache_key(clip, detector.settings())}.txt"


def _det_lines(t: int, rows: np.ndarray, start: int) -> str:
    from unitrack.data.writers import _fmt

    return "".join(f"{start + t + 1},-1,{_fmt(x + 1)},{_fmt(y + 1)},{_fmt(w)},{_fmt(h)},{_fmt(s)},-1,-1,-1\n"
                   for x, y, w, h, s in rows)


def _read_partial(path: Path, start: int) -> tuple[dict[int, np.ndarray], int]:
    """Detections of the batches a killed run finished (up to its last ``#done N``) and the frame to go on from."""
    if not path.is_file():
        return {}, 0
    rows, pending, done = [], [], 0
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("#done "):
            rows += pending
            pending = []
            done = int(line.split()[1])
        elif line.strip():
            pending.append(line)
    dets: dict[int, list] = {}
    try:
        for line in rows:
            v = [float(x) for x in line.split(",")[:7]]
            dets.setdefault(int(v[0]) - 1 - start, []).append([v[2] - 1, v[3] - 1, v[4], v[5], v[6]])
    except (ValueError, IndexError):  # damaged beyond a torn last batch: start over
        print(f"warning: {path}: unreadable partial detections; detecting from the first frame", file=sys.stderr)
        path.unlink(missing_ok=True)
        return {}, 0
    return {t: np.asarray(r) for t, r in dets.items()}, done


def detect_clip(clip, detector, out, progress: bool = True, timings: dict | None = None) -> tuple[dict, Path]:
    """``({cut frame: [M, 5]}, det.txt path)`` of ``clip``, read from the cache or detected (and cached)."""
    from tqdm import tqdm

    from unitrack.heads.propagation import frame_batches
    from videossl.utils import atomic_write_json, atomic_write_text

    path = cache_path(clip, detector, out)
    t_ = timings if timings is not None else {}
    t_.setdefault("detection", 0.0)
    if path.is_file():
        print(f"detections: cached {path}", file=sys.stderr)
        return read_clip_detections(path, clip), path
    partial = path.with_suffix(".partial")
    dets, begin = _read_partial(partial, clip.start)  # a killed run's finished batches
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(partial, "a")
    except OSError as exc:
        raise InputError(path.parent, f"cannot write the detections cache: {exc.strerror or exc}") from None
    bar = tqdm(total=len(clip), initial=begin, desc=f"detect {detector.name}", unit="frame", disable=not progress,
               file=sys.stderr)
    with log:
        t0 = time.perf_counter()
        for indices, frames in frame_batches(clip, detector.batch_size, start=begin):
            rows = detector.detect(frames)
            log.write("".join(_det_lines(t, r, clip.start) for t, r in zip(indices, rows)) + f"#done {indices[-1] + 1}\n")
            log.flush()
            dets.update({t: r for t, r in zip(indices, rows) if len(r)})
            bar.update(len(indices))
        t_["detection"] += time.perf_counter() - t0
    # a resumed run detects only the frames after the partial file's last batch: its fps counts those
    t_.setdefault("stage_frames", {})["detection"] = len(clip) - begin
    bar.close()
    atomic_write_text(path, "".join(_det_lines(t, dets[t], clip.start) for t in sorted(dets)))
    atomic_write_json(path.with_suffix(".json"), {"video": str(Path(clip.path).resolve()), "start": clip.start,
                                                  "frames": len(clip), **detector.settings()})
    partial.unlink(missing_ok=True)
    print(f"detections: wrote {path}", file=sys.stderr)
    return read_clip_detections(path, clip), path  # the file's rounding, as a rerun reads it


def read_clip_detections(path, clip) -> dict[int, np.ndarray]:
    """A MOTChallenge det.txt (frames numbered in the whole video) -> cleaned ``{cut frame: [M, 5]}``."""
    from unitrack.data.mot import read_mot_txt
    from unitrack.heads.mot import clean_detections

    d = read_mot_txt(path, num_frames=len(clip.reader))
    keep = (d.frame >= clip.start) & (d.frame < clip.start + len(clip))
    f = d.frame[keep] - clip.start
    rows = np.concatenate([d.boxes[keep], d.conf[keep, None]], 1)
    dets = {int(t): rows[f == t] for t in np.unique(f)}
    dets, notes = clean_detections(dets, len(clip), (clip.height, clip.width), str(path))
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    return dets


def resolve_detections(clip, out, detections=None, detector: str | None = None, detector_options: dict | None = None,
                       device: str = "cpu", progress: bool = True, timings: dict | None = None) -> dict[int, np.ndarray]:
    """Detections for ``unitrack track --task mot``: ``--detections FILE`` (or ``--detector FILE``) read as it is,
    else the named detector's (default ``hog``), cached under ``out/detections/``."""
    if detections is not None and detector is not None:
        raise InputError(None, "give --detections FILE or --detector NAME, not both")
    source = detections if detections is not None else (detector or DEFAULT_DETECTOR)
    if detections is not None or source not in DETECTORS:
        if not Path(source).is_file():
            raise InputError(source, f"not a detector ({', '.join(DETECTORS)}) and no such det.txt file")
        if detector_options:
            raise InputError(None, "--det-opt applies to a named --detector, not to a det.txt file")
        return read_clip_detections(source, clip)
    det = create_detector(source, detector_options, device)
    dets, _ = detect_clip(clip, det, out, progress, timings)
    kept = {t: d[d[:, 4] >= det.cfg.score_thresh] for t, d in dets.items()}
    return {t: d for t, d in kept.items() if len(d)}


def add_arguments(p) -> None:
    """``--detector`` and ``--det-opt`` of ``unitrack track``."""
    p.add_argument("--detector", default=None,
                   help=f"mot without --detections: {', '.join(DETECTORS)} or a MOTChallenge det.txt "
                        f"(default {DEFAULT_DETECTOR}; cached as OUT/detections/*.txt)")
    p.add_argument("--det-opt", action="append", default=None, metavar="KEY=VALUE",
                   help="detector setting (hog: " + ", ".join(f.name for f in dataclasses.fields(HOGConfig)) + ")")
