"""MOTChallenge MOT15/16/17/20 (multi-object tracking): ``ROOT/<split>/<SEQ>/{img1, gt/gt.txt, det/det.txt, seqinfo.ini}``.

Line formats on disk (comma separated, frames and pixels 1-based):

* ``gt.txt`` MOT16/17/20: ``frame, id, x, y, w, h, conf, class, visibility`` — ``conf`` is the
  "consider" flag (0 = ignore), ``class`` 1 = pedestrian, 2/7/8/12 distractors (9 fields);
* ``gt.txt`` MOT15: ``frame, id, x, y, w, h, conf, x_world, y_world, z_world`` (10 fields; -1 where the
  sequence has no world coordinates, real numbers in e.g. TUD-Stadtmitte). There is **no class
  column**: read with ``cls = -1`` and ``vis = -1``;
* ``det.txt`` and trackers' results: ``frame, id, x, y, w, h, score, -1, -1, -1`` (``id`` -1 for detections).

Which benchmark a sequence belongs to (:func:`sequence_benchmark`) decides how ``gt.txt`` is read
and which MOTChallenge rules score it: a benchmark name in the sequence name (``MOT17-02-FRCNN``) or in
the dataset folder's name (``MOT15/train/...``, ``2DMOT2015``), else the shape of ``gt.txt`` (10 fields or
fewer than 8: MOT15's layout without classes; 9: MOT16/17's).

In memory (:class:`MOTRows`): ``frame`` is the **0-based** position in ``frames`` (file frame - 1) and
boxes are **0-based** xywh (file x - 1, y - 1). :func:`unitrack.data.writers.write_mot` adds the ones back.
``line`` keeps each row's 1-based line in its file, so later checks can name it.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unitrack.data._common import _SPLIT, LazyFrames, expect_frames, parse_numbers, read_lines
from videossl.errors import InputError


@dataclass
class MOTRows:
    """Rows of a MOTChallenge file as column arrays (all length N)."""

    frame: np.ndarray  # int64, 0-based frame index
    ids: np.ndarray  # int64 track id (-1 for detections)
    boxes: np.ndarray  # float64 [N, 4] 0-based xywh
    conf: np.ndarray  # float64: gt "consider" flag (0/1) or detection score
    cls: np.ndarray  # int64 class, -1 where the file has none (MOT15, detections)
    vis: np.ndarray  # float64 visibility in [0, 1], -1 where absent
    line: np.ndarray = field(default=None)  # int64 1-based line in the file (for messages)

    def __post_init__(self):
        if self.line is None:
            self.line = np.arange(1, len(self.frame) + 1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.frame)

    def at(self, t: int) -> "MOTRows":
        """The rows of 0-based frame ``t``."""
        return self.select(self.frame == t)

    def select(self, keep: np.ndarray) -> "MOTRows":
        return MOTRows(self.frame[keep], self.ids[keep], self.boxes[keep], self.conf[keep], self.cls[keep],
                       self.vis[keep], self.line[keep])

    @staticmethod
    def empty() -> "MOTRows":
        z = np.zeros(0)
        return MOTRows(z.astype(np.int64), z.astype(np.int64), np.zeros((0, 4)), z, z.astype(np.int64), z)


BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")
# "MOT17", "mot17", "MOT17-02-FRCNN", "2DMOT2015", "MOT2015", "mot_15": a benchmark name not inside a longer word/number
_BENCHMARK_NAME = re.compile(r"(?<![a-z0-9])(?:2d)?mot[-_ ]?(?:20)?(15|16|17|20)(?![0-9])", re.IGNORECASE)


def benchmark_in_names(*names: str) -> str | None:
    """The first MOTChallenge benchmark named in ``names`` (``"MOT15"`` ... ``"MOT20"``), else ``None``."""
    for name in names:
        m = _BENCHMARK_NAME.search(str(name))
        if m:
            return f"MOT{m.group(1)}"
    return None


def _first_fields(path: Path) -> int:
    for line in read_lines(path, "MOTChallenge txt"):
        if line.strip():
            return len([f for f in _SPLIT.split(line.strip()) if f])
    return 0


def sequence_benchmark(root: str | os.PathLike, name: str, gt_path: str | os.PathLike | None = None) -> str:
    """Which MOTChallenge benchmark's layout and rules apply to sequence ``name`` of dataset ``root``.

    In order: a benchmark in the sequence name (MOT16/17/20 sequences are named ``MOT17-02-…``), in the
    dataset folder's own name (``MOT15``, ``2DMOT2015``; folders above it are not looked at); else ``gt_path``'s layout:
    10 fields or fewer than 8 (no class column) is MOT15, 9 fields is MOT17. MOT16 and MOT17 share rules.
    """
    found = benchmark_in_names(name, Path(os.path.abspath(root)).name)
    if found:
        return found
    if gt_path is not None and Path(gt_path).is_file():
        n = _first_fields(Path(gt_path))
        if n and (n == 10 or n < 8):
            return "MOT15"
    return "MOT17"


_COLUMN_NAMES = ("frame", "id", "box x", "box y", "box width", "box height", "conf", "class", "visibility")


def _parse_rows(path: Path, lines: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """``(values [N, >=9], 1-based line numbers, most fields on a line)``: a C parser for the usual file
    (comma separated, the same number of fields everywhere), per line for odd ones, naming a bad line.
    A missing conf / class / visibility gets MOTChallenge's default 1 / -1 / -1."""
    numbered = [(i, s) for i, s in enumerate(lines, 1) if s.strip()]
    line_no = np.fromiter((i for i, _ in numbered), np.int64, len(numbered))
    if not numbered:
        return np.zeros((0, 9)), line_no, 0
    try:
        a = np.loadtxt([s for _, s in numbered], delimiter=",", ndmin=2, comments=None)
        if a.shape[1] < 6:
            raise ValueError("too few fields")
        fields = a.shape[1]
        if fields < 9:
            a = np.concatenate([a, np.tile([1.0, -1.0, -1.0][fields - 6:], (len(a), 1))], 1)
        return a, line_no, fields
    except ValueError:
        rows = [parse_numbers(s, path, i, 6) for i, s in numbered]
        rows = [r + [1.0, -1.0, -1.0][max(0, len(r) - 6):] for r in rows]
        fields = max(len(r) for r in rows)
        return np.array([r + [-1.0] * (fields - len(r)) for r in rows]), line_no, fields


def read_mot_txt(path: str | os.PathLike, num_frames: int | None = None, benchmark: str | None = None,
                 detections: bool = False) -> MOTRows:
    """A MOTChallenge txt (gt, det or a tracker's output) as :class:`MOTRows`; an empty file is allowed.

    ``num_frames`` checks that each frame number lies in ``1..num_frames``. ``benchmark="MOT15"`` (or,
    without a benchmark, a 10-field file) reads columns 8-10 as MOT15's world coordinates, not as class
    and visibility. A NaN or infinite frame, id, box, conf (or class/visibility) is an error naming the line;
    with ``detections=True`` such rows and rows past ``num_frames`` are kept for the caller to drop with a
    warning (:func:`unitrack.heads.mot.clean_detections`), as the README promises for detections.
    """
    path = Path(path)
    a, line_no, fields = _parse_rows(path, read_lines(path, "MOTChallenge txt"))
    if not len(a):
        return MOTRows.empty()
    world = benchmark == "MOT15" or (benchmark is None and fields >= 10)
    checked = 7 if world or fields < 9 else 9
    bad = ~np.isfinite(a[:, :checked])
    if bad.any() and not detections:
        r, c = np.argwhere(bad)[0]
        what = "NaN" if np.isnan(a[r, c]) else f"{a[r, c]:g}"
        raise InputError(path, f"{what} in column {c + 1} ({_COLUMN_NAMES[c]}): a MOTChallenge line needs "
                               "finite numbers", line=int(line_no[r]))
    finite = ~bad.any(1)
    frame = a[:, 0]
    limit = num_frames if (num_frames is not None and not detections) else np.inf
    wrong = finite & ((frame != np.floor(frame)) | (frame < 1) | (frame > limit))
    if wrong.any():
        r = int(np.flatnonzero(wrong)[0])
        note = f" (sequence has {num_frames} frames)" if num_frames is not None and frame[r] > num_frames else ""
        raise InputError(path, f"bad frame number {frame[r]:g}{note}", line=int(line_no[r]))
    negative = finite & ((a[:, 4] < 0) | (a[:, 5] < 0))
    if negative.any():
        r = int(np.flatnonzero(negative)[0])
        raise InputError(path, f"negative box size {a[r, 4]:g}x{a[r, 5]:g}", line=int(line_no[r]))
    boxes = a[:, 2:6].copy()
    boxes[:, :2] -= 1.0
    as_int = lambda v: np.where(np.isfinite(v), v, -1).astype(np.int64)  # noqa: E731  (NaN rows of detections)
    cls = np.full(len(a), -1, np.int64) if world else as_int(a[:, 7])
    vis = np.full(len(a), -1.0) if world else a[:, 8]
    return MOTRows(as_int(frame) - 1, as_int(a[:, 1]), boxes, a[:, 6], cls, vis, line_no)


def read_seqinfo(path: str | os.PathLike) -> dict[str, str]:
    """The ``[Sequence]`` section of ``seqinfo.ini`` (keys as written: name, imDir, frameRate, seqLength, imWidth, imHeight, imExt)."""
    path = Path(path)
    text = "\n".join(read_lines(path, "seqinfo.ini"))
    cp = configparser.ConfigParser()
    cp.optionxform = str
    try:
        cp.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise InputError(path, f"malformed ini: {str(exc).splitlines()[0]}") from None
    if "Sequence" not in cp:
        raise InputError(path, "no [Sequence] section")
    info = dict(cp["Sequence"])
    for key in ("seqLength", "imWidth", "imHeight"):
        if not info.get(key, "").strip().isdigit():
            raise InputError(path, f"missing or non-integer {key}")
    return info


@dataclass
class MOTSequence(LazyFrames):
    """One MOTChallenge sequence. ``gt``/``det`` are ``None`` where the file is absent (test split / no det)."""

    name: str
    frame_dir: Path
    frames: list[Path]
    width: int
    height: int
    fps: float
    gt: MOTRows | None
    det: MOTRows | None  # as in det.txt: rows past seqLength or with NaN are left for the head to drop, noted
    benchmark: str = "MOT17"  # whose layout gt.txt has and whose rules score it (sequence_benchmark)


def list_sequences(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Sequence folders (those with a ``seqinfo.ini``) under ``ROOT/<split>``, sorted."""
    base = Path(root) / split
    if not base.is_dir():
        raise InputError(base, "missing MOTChallenge split folder")
    names = sorted(d.name for d in base.iterdir() if (d / "seqinfo.ini").is_file())
    if not names:
        raise InputError(base, "no sequences (folders with seqinfo.ini)")
    return names


def load_sequence(root: str | os.PathLike, name: str, split: str = "train", require_gt: bool = True) -> MOTSequence:
    """Read ``seqinfo.ini``, check every frame exists, parse ``gt.txt`` (required unless told) and ``det.txt``."""
    seq_dir = Path(root) / split / name
    info = read_seqinfo(seq_dir / "seqinfo.ini")
    n = int(info["seqLength"])
    ext = info.get("imExt", ".jpg")
    frame_dir = seq_dir / info.get("imDir", "img1")
    frames = expect_frames(frame_dir, [f"{k:06d}{ext}" for k in range(1, n + 1)])
    gt_path, det_path = seq_dir / "gt" / "gt.txt", seq_dir / "det" / "det.txt"
    benchmark = sequence_benchmark(root, name, gt_path)
    gt = read_mot_txt(gt_path, n, benchmark) if (require_gt or gt_path.exists()) else None
    det = read_mot_txt(det_path, n, detections=True) if det_path.exists() else None
    fps = float(info.get("frameRate", 30) or 30)
    return MOTSequence(name, frame_dir, frames, int(info["imWidth"]), int(info["imHeight"]), fps, gt, det, benchmark)
