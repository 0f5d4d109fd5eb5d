"""MOT head: a sequence of frames + per-frame detections -> identities (UniTrack's box association).

``track_boxes`` is the core: frames are decoded ahead on worker threads (``videossl.io.prefetch``),
embedded a batch at a time (one dense forward per frame), every box of the batch RoIAligned in one
call, then handed frame by frame to :class:`AssociationTracker`. It returns MOTChallenge rows and a
time split (decode / features / pooling / association) so the benchmark can say where time goes.

``sequences`` / ``prediction_path`` / ``run_sequence`` are the plug-in protocol of ``unitrack.eval``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import numpy as np

from unitrack.heads.association.tracker import AssociationTracker, Detections, TrackerConfig
from unitrack.heads.embed import Embedder


def clean_detections(dets: dict[int, np.ndarray], num_frames: int, image_hw: tuple[int, int],
                     source: str = "detections") -> tuple[dict[int, np.ndarray], list[str]]:
    """Make odd detections trackable instead of fatal; return them with one note per kind of fix.

    - frames outside ``0..num_frames-1`` are dropped (noted: they have no image to embed);
    - boxes with less than one pixel inside the image (zero size, fully outside) are dropped;
    - non-finite rows are dropped.

    Kept boxes keep their coordinates, also where they cross the border: MOTChallenge ground truth
    extends past the image for people entering or leaving, and a box clipped to the border scores
    IoU ~0.3 against it (a false positive and a miss). Only the appearance pooling clips (RoIAlign).
    """
    h, w = image_hw
    notes, out = [], {}
    missing = sorted(f for f in dets if not 0 <= int(f) < num_frames)
    if missing:
        notes.append(f"{source}: {len(missing)} frame(s) with detections but no image "
                     f"(e.g. frame {missing[0] + 1} of {num_frames}); ignored")
    dropped = 0
    for f, d in dets.items():
        if not 0 <= int(f) < num_frames:
            continue
        d = np.asarray(d, dtype=np.float64).reshape(-1, 5)
        ok = np.isfinite(d).all(1)
        x1 = np.clip(d[:, 0], 0, w)
        y1 = np.clip(d[:, 1], 0, h)
        x2 = np.clip(d[:, 0] + d[:, 2], 0, w)
        y2 = np.clip(d[:, 1] + d[:, 3], 0, h)
        ok &= (x2 - x1 >= 1) & (y2 - y1 >= 1)
        dropped += int((~ok).sum())
        c = d[ok]
        if len(c):
            out[int(f)] = c
    if dropped:
        notes.append(f"{source}: {dropped} box(es) of zero size or outside the image; ignored")
    return out, notes



def reader_batches(reader, batch_size: int, decode: bool) -> Iterable:
    """``(indices, frames)`` over the whole reader in batches of ``batch_size`` frames.

    With ``decode`` the frames are decoded ahead on worker threads (``videossl.io.prefetch``); without it
    (motion-only tracking, nothing to draw) no pixel is read and ``frames`` is ``None``. Shared by MOT and MOTS.
    """
    n = len(reader)
    batches = [list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]
    if decode:
        from videossl.io.prefetch import prefetch

        yield from prefetch(reader, batches)
    else:
        for b in batches:
            yield b, None

def association_loop(reader, batch_size: int, embedder: Embedder | None, pool, step, timings: dict | None = None,
                     on_frame=None) -> None:
    """The frame loop MOT and MOTS share, timed as decode / features / pooling / association.

    Frames are decoded ahead (only when the model or ``on_frame`` needs pixels); with an ``embedder`` each
    batch gets one dense forward and ``pool(feats, indices)`` turns it into per-frame RoI maps. Then, frame
    by frame, ``step(i, maps_i)`` runs the tracker and returns the frame's tracks for ``on_frame(i, rgb,
    tracks)``; drawing is not counted as association time.
    """
    t = timings if timings is not None else {}
    for k in ("decode", "features", "pooling", "association"):
        t.setdefault(k, 0.0)
    t0 = time.perf_counter()
    for indices, frames in reader_batches(reader, batch_size, decode=embedder is not None or on_frame is not None):
        t1 = time.perf_counter()
        t["decode"] += t1 - t0
        maps = [None] * len(indices)
        if embedder is not None:
            feats = embedder.features(np.asarray(frames))
            t2 = time.perf_counter()
            t["features"] += t2 - t1
            maps = pool(feats, indices)
            t["pooling"] += time.perf_counter() - t2
        t3 = time.perf_counter()
        for j, i in enumerate(indices):
            out = step(i, maps[j])
            if on_frame is not None:
                t4 = time.perf_counter()
                on_frame(i, None if frames is None else frames[j], out)
                t3 += time.perf_counter() - t4
        t0 = time.perf_counter()
        t["association"] += t0 - t3
    t["frames"] = t.get("frames", 0) + len(reader)


def track_boxes(reader, dets: dict[int, np.ndarray], embedder: Embedder | None, config: TrackerConfig | None = None,
                batch_size: int = 8, timings: dict | None = None, on_frame=None) -> list[tuple]:
    """Track one sequence. ``reader``: ``get_batch(indices)`` (0-based) -> ``uint8 [N, H, W, 3]``;
    ``dets``: frame (0-based, as ``unitrack.data``) -> ``[M, 5]`` (x, y, w, h, score) in pixels, cleaned.

    ``embedder=None`` (or ``config.use_appearance=False``) skips the model entirely: motion only.
    Returns rows ``(frame, id, x, y, w, h, score)`` (0-based frame); ``on_frame(frame, rgb, tracks)`` is called per
    frame when given (rendering) and receives the RGB frame only when frames are decoded.
    """
    cfg = config or TrackerConfig()
    tracker = AssociationTracker(cfg)
    embedder = None if embedder is None else embedder.configured(cfg)  # centring / RoIAlign flavour from cfg
    image_hw = (reader.height, reader.width)
    rows: list[tuple] = []

    def boxes(i):
        return dets.get(i, np.zeros((0, 5)))

    def pool(feats, indices):
        tlbr = [np.concatenate([b[:, :2], b[:, :2] + b[:, 2:4]], 1) for b in map(boxes, indices)]
        return embedder.pool_boxes(feats, tlbr, image_hw)

    def step(i, maps):
        b = boxes(i)
        out = tracker.update(Detections(b[:, :4].copy(), b[:, 4].copy(), maps))
        if cfg.output_gap > 0:  # and the tracks missed for a few frames, at their prediction
            out = out + tracker.coasting(cfg.output_gap)
        rows.extend((i, tr.track_id, *map(float, tr.tlwh), tr.score) for tr in out if tracker.output_filter(tr.tlwh))
        return out

    association_loop(reader, batch_size, embedder if cfg.use_appearance else None, pool, step, timings, on_frame)
    return rows


# -- plug-in protocol of unitrack.eval ----------------------------------------------------------
def _reader_base():
    from videossl.io.reader import VideoReader

    return VideoReader


class SequenceFrames(_reader_base()):
    """A ``unitrack.data`` sequence as a ``videossl.io`` reader, so ``prefetch`` decodes it ahead.

    Frames come from the sequence's own list (``seq.load_frames``), i.e. exactly the annotated ones.
    """

    backend = "unitrack-data"

    def __init__(self, seq):
        super().__init__(seq.frame_dir)
        self.seq = seq
        self.height, self.width, self.fps, self._len = seq.height, seq.width, seq.fps, len(seq)

    def get_batch(self, indices) -> np.ndarray:
        return self.seq.load_frames(self._check_indices(indices))

    def clone(self) -> "SequenceFrames":
        return SequenceFrames(self.seq)


def sequences(root: Path) -> list[str]:
    from unitrack.data import mot as mot_data

    return mot_data.list_sequences(root)


def prediction_path(task_dir: Path, seq: str) -> Path:
    return Path(task_dir) / f"{seq}.txt"


def load_sequence(root: Path, name: str) -> tuple[SequenceFrames, dict[int, np.ndarray], list[str]]:
    """Frames + cleaned public detections (``det/det.txt``) of one sequence, and notes on what was fixed."""
    from unitrack.data import mot as mot_data
    from videossl.errors import InputError

    seq = mot_data.load_sequence(root, name, require_gt=False)
    det_path = Path(root) / "train" / name / "det" / "det.txt"
    if seq.det is None:
        raise InputError(det_path, "missing: the MOT head tracks the sequence's detections (MOTChallenge det.txt)")
    d, notes = detection_rows(seq.det, len(seq), det_path)
    dets = {int(f): np.concatenate([d.boxes[d.frame == f], d.conf[d.frame == f, None]], 1) for f in np.unique(d.frame)}
    dets, more = clean_detections(dets, len(seq), (seq.height, seq.width), str(det_path))
    return SequenceFrames(seq), dets, notes + more


def detection_rows(d, num_frames: int, path: Path):
    """Drop det.txt rows with a NaN/infinite value or a frame past ``seqLength``; one note per kind, naming
    the first such line. An empty file is tracked through (no tracks) with a note saying so."""
    notes = []
    if len(d) == 0:
        notes.append(f"{path}: no detections (empty file); this sequence's predictions will be empty")
    finite = np.isfinite(d.boxes).all(1) & np.isfinite(d.conf)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        what = "NaN" if np.isnan(np.append(d.boxes[k], d.conf[k])).any() else "an infinite value"
        notes.append(f"{path}:{d.line[k]}: {what} in a detection; {int((~finite).sum())} such row(s) dropped")
    past = finite & (d.frame >= num_frames)
    if past.any():
        k = int(np.flatnonzero(past)[0])
        notes.append(f"{path}:{d.line[k]}: detection in frame {d.frame[k] + 1}, past seqLength {num_frames}; "
                     f"{int(past.sum())} such row(s) dropped")
    return d.select(finite & ~past), notes


def default_config(root: Path | None = None, frame_rate: float = 30.0) -> TrackerConfig:
    """UniTrack's MOT setting at the sequence's frame rate (the lost-track buffer is 30 frames at 30 fps)."""
    return TrackerConfig(frame_rate=frame_rate)


def render_callback(writer, boxes_of=lambda tracks: [(t.tlwh, t.track_id) for t in tracks]):
    """An ``on_frame`` that draws each frame's tracks with stable identity colours into ``writer``."""
    from unitrack.viz import draw_boxes

    def on_frame(frame, rgb, tracks):
        items = boxes_of(tracks)
        writer.write(draw_boxes(rgb, [b for b, _ in items], [i for _, i in items]))

    return on_frame


def run_sequence(job) -> dict:
    """Track one MOTChallenge sequence from its detections and write ``job.out`` (MOTChallenge txt)."""
    import sys

    reader, dets, notes = load_sequence(job.root, job.seq)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    from unitrack.heads.options import config_from_options  # flat, typed, checked (--opt)

    cfg = config_from_options(TrackerConfig, job.options, "mot", base=default_config(job.root, reader.fps))
    embedder = Embedder(job.model, job.device) if cfg.use_appearance else None
    timings: dict = {}
    if job.render is not None:
        from unitrack.viz import Mp4Writer

        with Mp4Writer(job.render, reader.fps) as w:
            rows = track_boxes(reader, dets, embedder, cfg, timings=timings, on_frame=render_callback(w))
    else:
        rows = track_boxes(reader, dets, embedder, cfg, timings=timings)
    write_rows(job.out, rows)
    return timings


def write_rows(path: Path, rows: list[tuple]) -> None:
    """MOTChallenge txt ``frame,id,x,y,w,h,conf,-1,-1,-1`` through ``unitrack.data.writers`` (atomic)."""
    from unitrack.data.writers import write_mot

    a = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    write_mot(path, a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2:6], a[:, 6])
