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

    - frames outside ``1..num_frames`` are dropped (noted: they have no image to embed);
    - boxes are clipped to the image; boxes with no area left (zero size, fully outside) are dropped;
    - non-finite rows are dropped.
    """
    h, w = image_hw
    notes, out = [], {}
    missing = sorted(f for f in dets if not 1 <= int(f) <= num_frames)
    if missing:
        notes.append(f"{source}: {len(missing)} frame(s) with detections but no image (e.g. frame {missing[0]}); ignored")
    dropped = 0
    for f, d in dets.items():
        if not 1 <= int(f) <= num_frames:
            continue
        d = np.asarray(d, dtype=np.float64).reshape(-1, 5)
        ok = np.isfinite(d).all(1)
        x1 = np.clip(d[:, 0], 0, w)
        y1 = np.clip(d[:, 1], 0, h)
        x2 = np.clip(d[:, 0] + d[:, 2], 0, w)
        y2 = np.clip(d[:, 1] + d[:, 3], 0, h)
        ok &= (x2 - x1 >= 1) & (y2 - y1 >= 1)
        dropped += int((~ok).sum())
        c = np.stack([x1, y1, x2 - x1, y2 - y1, d[:, 4]], 1)[ok]
        if len(c):
            out[int(f)] = c
    if dropped:
        notes.append(f"{source}: {dropped} box(es) of zero size or outside the image; ignored")
    return out, notes


def track_boxes(reader, dets: dict[int, np.ndarray], embedder: Embedder | None, config: TrackerConfig | None = None,
                batch_size: int = 8, timings: dict | None = None, on_frame=None) -> list[tuple]:
    """Track one sequence. ``reader``: ``get_batch(indices)`` (0-based) -> ``uint8 [N, H, W, 3]``;
    ``dets``: frame (1-based) -> ``[M, 5]`` (x, y, w, h, score) in pixels, already cleaned.

    ``embedder=None`` (or ``config.use_appearance=False``) skips the model entirely: motion only.
    Returns rows ``(frame, id, x, y, w, h, score)``; ``on_frame(frame, rgb, tracks)`` is called per
    frame when given (rendering) and receives the RGB frame only when frames are decoded.
    """
    from videossl.io import prefetch

    cfg = config or TrackerConfig()
    tracker = AssociationTracker(cfg)
    t = timings if timings is not None else {}
    for k in ("decode", "features", "pooling", "association"):
        t.setdefault(k, 0.0)
    n = len(reader)
    image_hw = (reader.height, reader.width)
    use_model = embedder is not None and cfg.use_appearance
    need_frames = use_model or on_frame is not None
    batches = [list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]
    rows: list[tuple] = []

    def frames_iter() -> Iterable:
        if need_frames:
            yield from prefetch(reader, batches)
        else:
            for b in batches:
                yield b, None

    t0 = time.perf_counter()
    for indices, frames in frames_iter():
        t1 = time.perf_counter()
        t["decode"] += t1 - t0
        boxes = [dets.get(i + 1, np.zeros((0, 5))) for i in indices]
        maps = [None] * len(indices)
        if use_model:
            feats = embedder.features(np.asarray(frames))
            t2 = time.perf_counter()
            t["features"] += t2 - t1
            tlbr = [np.concatenate([b[:, :2], b[:, :2] + b[:, 2:4]], 1) for b in boxes]
            maps = embedder.pool_boxes(feats, tlbr, image_hw)
            t["pooling"] += time.perf_counter() - t2
        t3 = time.perf_counter()
        for j, i in enumerate(indices):
            b = boxes[j]
            out = tracker.update(Detections(b[:, :4].copy(), b[:, 4].copy(), maps[j]))
            for tr in out:
                box = tr.tlwh
                if tracker.output_filter(box):
                    rows.append((i + 1, tr.track_id, *map(float, box), tr.score))
            if on_frame is not None:
                on_frame(i + 1, None if frames is None else frames[j], out)
        t0 = time.perf_counter()
        t["association"] += t0 - t3
    t["frames"] = t.get("frames", 0) + n
    return rows
