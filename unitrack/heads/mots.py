"""MOTS head: frames + per-frame instance masks -> identities, written as MOTS20 txt with COCO RLE.

The association is the MOT head's (same :class:`AssociationTracker`); only the geometry changes:
embeddings are masked-average-pooled under each mask (``Embedder.pool_masks``), the IoU stages use
mask IoU (pycocotools, on RLE), and the Kalman filter runs on each mask's bounding box for gating.
Output masks of one frame are made disjoint (MOTS20 requires it; its evaluators reject overlaps):
a pixel claimed by several tracks goes to the highest-scoring one.

``sequences`` / ``prediction_path`` / ``run_sequence`` are the plug-in protocol of ``unitrack.eval``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unitrack.heads.association.tracker import AssociationTracker, Detections, TrackerConfig
from unitrack.heads.embed import Embedder
from unitrack.heads.mot import association_loop

PEDESTRIAN = 2  # MOTS20 class id of the evaluated class


def _rle(r: dict) -> dict:
    c = r["counts"]
    return {"size": [int(s) for s in r["size"]], "counts": c.encode("ascii") if isinstance(c, str) else c}


def disjoint(rles: list[dict], order: np.ndarray) -> list[dict]:
    """Remove overlaps: walk masks in ``order`` (best first), each keeps only pixels not yet taken."""
    from pycocotools import mask as mask_utils

    if not rles:
        return []
    masks = mask_utils.decode([_rle(r) for r in rles])  # [H, W, N]
    taken = np.zeros(masks.shape[:2], bool)
    out: list[dict | None] = [None] * len(rles)
    for k in order:
        m = masks[:, :, k].astype(bool) & ~taken
        taken |= m
        out[k] = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return out


def track_masks(reader, objs: dict[int, list[tuple[float, dict]]], embedder: Embedder | None,
                config: TrackerConfig | None = None, batch_size: int = 4, timings: dict | None = None,
                on_frame=None) -> list[tuple]:
    """Track one sequence of masks. ``objs``: frame (0-based) -> ``[(score, rle), ...]``.

    Returns rows ``(frame, track_id, rle)`` with disjoint masks; ``on_frame(frame, rgb, tracks)``
    as in :func:`unitrack.heads.mot.track_boxes`.
    """
    from pycocotools import mask as mask_utils

    # UniTrack's MOTS setting keeps the MOT thresholds but no pedestrian box-shape filter on output.
    cfg = config or TrackerConfig(min_box_area=0, max_aspect=None)
    tracker = AssociationTracker(cfg)
    embedder = None if embedder is None else embedder.configured(cfg)
    image_hw = (reader.height, reader.width)
    rows: list[tuple] = []

    def rles(i):
        return [_rle(r) for _, r in objs.get(i, [])]

    def pool(feats, indices):
        dense = [mask_utils.decode(r).transpose(2, 0, 1) if r else np.zeros((0, *image_hw), np.uint8)
                 for r in map(rles, indices)]
        if cfg.mask_cells is not None:  # UniTrack: the cells under each mask, [M, C, P, 1] + counts
            return embedder.pool_mask_cells(feats, dense, image_hw, cfg.mask_cells)
        return embedder.pool_masks(feats, dense, image_hw)

    def step(i, maps):
        r = rles(i)
        boxes = mask_utils.toBbox(r).reshape(-1, 4) if r else np.zeros((0, 4))
        scores = np.array([s for s, _ in objs.get(i, [])], dtype=np.float64)
        maps, cells = maps if isinstance(maps, tuple) else (maps, None)
        out = tracker.update(Detections(boxes.astype(np.float64), scores, maps, r, cells))
        if out:
            order = np.argsort([-tr.score for tr in out], kind="stable")
            for tr, m in zip(out, disjoint([tr.mask for tr in out], order)):
                if mask_utils.area(m) > 0:
                    rows.append((i, tr.track_id, m))
        return out

    association_loop(reader, batch_size, embedder if cfg.use_appearance else None, pool, step, timings, on_frame)
    return rows


# -- plug-in protocol of unitrack.eval ----------------------------------------------------------
def sequences(root: Path) -> list[str]:
    from unitrack.data import mots as mots_data

    return mots_data.list_sequences(root)


def prediction_path(task_dir: Path, seq: str) -> Path:
    return Path(task_dir) / f"{seq}.txt"


def load_sequence(root: Path, name: str, seed: int = 0):
    """Frames and the masks to track: ``det/det.txt`` (MOTS20 txt of a segmenter's masks, e.g. COSTA's)
    when present, else the ground-truth pedestrian masks with identities removed and the order shuffled
    per frame (oracle masks: the score then measures association alone). Returns ``(reader, objs, note)``.
    """
    from unitrack.data import mots as mots_data
    from unitrack.heads.mot import SequenceFrames

    seq = mots_data.load_sequence(root, name, require_gt=False)
    det_path = Path(root) / "train" / name / "det" / "det.txt"
    if det_path.exists():
        rows, note = mots_data.read_mots_txt(det_path, (seq.height, seq.width), len(seq)), None
    elif seq.gt is not None:
        rows, note = seq.gt, f"{det_path}: absent; tracking the ground-truth masks with identities removed"
    else:
        from videossl.errors import InputError

        raise InputError(det_path, "missing, and no gt/gt.txt to take masks from: give the masks to track (MOTS20 txt)")
    rng = np.random.default_rng(seed)
    objs: dict[int, list] = {}
    for k in rng.permutation(len(rows)):
        if rows.class_id[k] == PEDESTRIAN:
            objs.setdefault(int(rows.frame[k]), []).append((1.0, rows.rles[k]))
    return SequenceFrames(seq), objs, note


def run_sequence(job) -> dict:
    """Track one MOTS20 sequence and write ``job.out`` (MOTS20 txt, disjoint masks, COCO RLE)."""
    import sys

    from unitrack.data.writers import write_mots

    reader, objs, note = load_sequence(job.root, job.seq)
    if note:
        print(f"note: {note}", file=sys.stderr)
    from unitrack.heads.options import config_from_options  # flat, typed, checked (--opt)

    cfg = config_from_options(TrackerConfig, job.options, "mots",
                              base=TrackerConfig(frame_rate=reader.fps, min_box_area=0, max_aspect=None))
    embedder = Embedder(job.model, job.device) if cfg.use_appearance else None
    timings: dict = {}
    if job.render is not None:
        from unitrack.viz import Mp4Writer, draw_masks
        from pycocotools import mask as mask_utils

        def on_frame(frame, rgb, tracks):
            w.write(draw_masks(rgb, [mask_utils.decode(_rle(t.mask)) for t in tracks], [t.track_id for t in tracks]))

        with Mp4Writer(job.render, reader.fps) as w:
            rows = track_masks(reader, objs, embedder, cfg, timings=timings, on_frame=on_frame)
    else:
        rows = track_masks(reader, objs, embedder, cfg, timings=timings)
    write_mots(job.out, np.array([r[0] for r in rows], np.int64), np.array([PEDESTRIAN * 1000 + r[1] for r in rows], np.int64),
               np.full(len(rows), PEDESTRIAN, np.int64), rles=[r[2] for r in rows])
    return timings
