"""Replay ``unitrack track --task mot vtest.avi`` with other tracker / detector-threshold settings in seconds.

The CLI line spends ~73 % of its time on the appearance features and ~27 % on HOG; the association itself is
~10 s for the 795 frames. ``embed`` runs the CLI's feature path once (same model loader, ``Embedder``, batches
of 8 decoded by the same reader) and caches each batch's dense feature maps (float32, exactly the tensors the
CLI pools) next to the cached HOG det.txt; the replay then hands the real ``unitrack.heads.mot.track_boxes``
an embedder that serves those maps, so every tracker line (stages, Kalman, output filter, coasting) is the
CLI's own code and only the forward passes are skipped. The RoI maps are pooled from the cached maps for
whichever boxes pass the threshold, so a new HOG ``score_thresh`` needs no new forward either.

    python eval/own_video_replay.py embed --threads 1       # once: ~20 min of features on a quiet core, + HOG
    python eval/own_video_replay.py check                   # CLI --end 60 vs the replay, byte for byte
    python eval/own_video_replay.py sweep --set old="track_buffer=30 score_thresh=1.0" --set new=""
    python eval/own_video_replay.py render --set new="" --frames 140-175 --every 5   # PNGs, the CLI's renderer

A setting is space-separated ``KEY=VALUE``: ``score_thresh`` (HOG's, ``--det-opt``) or a ``TrackerConfig``
field (``--opt``), on top of the CLI's defaults (``unitrack.track.tracker_config``, ``HOGConfig``).
Everything goes to ``--cache`` (default /tmp/ov/replay), nothing into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
BATCH = 8  # track_boxes' batch_size: the same frames go through each forward as in the CLI
DET_KEYS = ("score_thresh",)


def parse_setting(text: str) -> tuple[dict, dict]:
    """``"track_buffer=30 score_thresh=1.0"`` -> (tracker options, detector options)."""
    opts, det = {}, {}
    for item in text.split():
        key, _, value = item.partition("=")
        (det if key in DET_KEYS else opts)[key] = value
    return opts, det


def raw_detections(clip, work: Path):
    """Every HOG box of the clip as the CLI reads its cache (rounded, cleaned; detected and cached when absent)."""
    from unitrack.detect import create_detector, detect_clip

    return detect_clip(clip, create_detector("hog"), work, progress=False)


def tlbr_of(d: np.ndarray) -> np.ndarray:
    return np.concatenate([d[:, :2], d[:, :2] + d[:, 2:4]], 1)  # as track_boxes' pool


def embed(args) -> None:
    import torch

    from unitrack.eval import _LazyModel
    from unitrack.heads.embed import Embedder
    from unitrack.heads.mot import SequenceFrames, reader_batches
    from unitrack.track import open_clip, tracker_config

    cache = Path(args.cache)
    (cache / "feats").mkdir(parents=True, exist_ok=True)
    clip = open_clip(args.video)
    cfg = tracker_config("mot", clip.fps, {})
    net = _LazyModel(args.model, "cpu", "default")()
    emb = Embedder(net, "cpu").configured(cfg)
    meta = {"video": str(Path(args.video).resolve()), "model": args.model, "frames": len(clip),
            "centre_features": cfg.centre_features, "roi_aligned": cfg.roi_aligned, "batch": BATCH}
    (cache / "meta.json").write_text(json.dumps(meta, indent=1))
    t0, n = time.perf_counter(), 0
    with torch.no_grad():
        for indices, frames in reader_batches(SequenceFrames(clip), BATCH, decode=True):
            f = cache / "feats" / f"{indices[0]:06d}.pt"
            if f.is_file():
                continue
            feats = emb.features(np.asarray(frames))
            torch.save(feats, f.with_suffix(".tmp"))
            os.replace(f.with_suffix(".tmp"), f)  # a killed run resumes at the first missing batch
            n += len(indices)
            print(f"embed: frames {indices[0]}-{indices[-1]} ({(time.perf_counter() - t0) / n:.2f} s/frame)",
                  file=sys.stderr, flush=True)
    print(f"embed: {n} frames in {time.perf_counter() - t0:.0f} s -> {cache}")


class CachedEmbedder:
    """Serves the cached dense maps to ``track_boxes`` in its batch order and pools them as ``Embedder`` does."""

    def __init__(self, cache: Path, embedder):
        self.cache, self.emb, self.cursor = cache, embedder, 0

    def configured(self, cfg):
        meta = json.loads((self.cache / "meta.json").read_text())
        if (meta["centre_features"], meta["roi_aligned"]) != (cfg.centre_features, cfg.roi_aligned):
            sys.exit("error: the cache was embedded with other centre_features / roi_aligned settings")
        return self

    def features(self, frames: np.ndarray):
        import torch

        f = self.cache / "feats" / f"{self.cursor:06d}.pt"
        if not f.is_file():
            sys.exit(f"error: {f} missing: run `embed` first (it resumes)")
        feats = torch.load(f)[:len(frames)]  # a cut ending inside a batch: its first frames
        self.cursor += len(frames)
        return feats

    def pool_boxes(self, feats, boxes, image_hw):
        return self.emb.pool_boxes(feats, boxes, image_hw)


def no_pixels(clip):
    """The clip as a reader that decodes nothing (the replay needs pixels only to render): 1x1 black frames."""
    from unitrack.heads.mot import SequenceFrames

    class NoPixels(SequenceFrames):
        def get_batch(self, indices):
            return np.zeros((len(indices), 1, 1, 3), np.uint8)

        def clone(self):
            return NoPixels(self.seq)

    return NoPixels(clip)


def replay(args, setting: str, end: int | None = None, on_frame=None) -> tuple[list[tuple], dict]:
    """Rows ``(frame, id, x, y, w, h, score)`` of the CLI line with ``setting``, from the cache."""
    import torch

    from unitrack import detect
    from unitrack.heads import mot
    from unitrack.heads.embed import Embedder
    from unitrack.track import open_clip, tracker_config

    opts, det_opts = parse_setting(setting)
    clip = open_clip(args.video, 0, end)
    full = open_clip(args.video)
    raw, _ = raw_detections(full, Path(args.work))
    thr = detect.detector_config("hog", det_opts).score_thresh
    kept = {t: d[d[:, 4] >= thr] for t, d in raw.items() if t < len(clip)}  # as detect.resolve_detections
    kept = {t: d for t, d in kept.items() if len(d)}
    cfg = tracker_config("mot", clip.fps, opts)
    emb = CachedEmbedder(Path(args.cache), Embedder(None, "cpu")) if cfg.use_appearance else None
    reader = mot.SequenceFrames(clip) if on_frame is not None else no_pixels(clip)
    timings: dict = {}
    with torch.no_grad():
        rows = mot.track_boxes(reader, kept, emb, cfg, timings=timings, on_frame=on_frame)
    return rows, {"cfg": cfg, "score_thresh": thr, "boxes": int(sum(len(d) for d in kept.values())),
                  "timings": timings}


def mot_text(rows, path: Path) -> bytes:
    from unitrack.heads.mot import write_rows

    write_rows(path, rows)  # frame numbers as the CLI writes them (start 0: 0-based + 1)
    return path.read_bytes()


def stats(rows) -> dict:
    ids, length = np.unique(np.asarray([r[1] for r in rows], int), return_counts=True)
    return {"ids": len(ids), "short": int((length < 20).sum()), "ge50": int((length >= 50).sum()),
            "median": float(np.median(length)), "rows": len(rows)}


def check(args) -> None:
    out = Path(args.cache) / "check"
    cmd = [sys.executable, "-m", "unitrack", "track", "--task", "mot", str(args.video), "--end", str(args.frames),
           "--out", str(out / "cli"), "--no-render", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    cli = (out / "cli" / f"{Path(args.video).stem}.txt").read_bytes()
    t1 = time.perf_counter()
    rows, info = replay(args, "", end=args.frames)
    mine = mot_text(rows, out / "replay.txt")
    print(f"check: CLI {t1 - t0:.0f} s, replay {time.perf_counter() - t1:.1f} s; {len(cli.splitlines())} CLI rows, "
          f"{len(mine.splitlines())} replay rows")
    if cli != mine:
        sys.exit(f"error: replay differs from the CLI's tracks: diff {out / 'cli'}/*.txt {out / 'replay.txt'}")
    print(f"check: byte-identical over the first {args.frames} frames")


def sweep(args) -> None:
    print("| setting | ids | tracks < 20 frames | tracks >= 50 | median track length | boxes | replay s |")
    print("|---|---|---|---|---|---|---|")
    for label, setting in (s.partition("=")[::2] for s in args.set):
        t0 = time.perf_counter()
        rows, info = replay(args, setting)
        st = stats(rows)
        mot_text(rows, Path(args.cache) / f"sweep-{label}.txt")
        print(f"| {label} (`{setting or 'defaults'}`) | {st['ids']} | {st['short']} | {st['ge50']} | "
              f"{st['median']:g} | {info['boxes']} | {time.perf_counter() - t0:.1f} |", flush=True)


def render(args) -> None:
    """PNG frames of one setting, drawn as the CLI draws its mp4 (``viz.draw_boxes`` of each frame's tracks)."""
    from PIL import Image

    from unitrack import viz

    lo, _, hi = args.frames.partition("-")
    want = set(range(int(lo), int(hi or lo) + 1, args.every))
    ((label, setting),) = [s.partition("=")[::2] for s in args.set]
    folder = Path(args.cache) / "render" / label
    folder.mkdir(parents=True, exist_ok=True)

    def on_frame(t, rgb, tracks):
        if t in want:
            img = viz.draw_boxes(rgb, [tr.tlwh.copy() for tr in tracks], [tr.track_id for tr in tracks])
            Image.fromarray(img).save(folder / f"{t:03d}.png")

    replay(args, setting, end=max(want) + 1, on_frame=on_frame)
    sheet = contact_sheet(sorted(folder / f"{t:03d}.png" for t in want), folder / f"sheet-{min(want)}-{max(want)}.png",
                          args.crop)
    print(f"render: {len(want)} frames -> {folder}, {sheet}")


def contact_sheet(paths: list[Path], out: Path, crop: str | None = None, cols: int = 3, width: int = 512) -> Path:
    """The frames (cut to ``crop`` "x0,y0,x1,y1") side by side at ``width`` px, ``cols`` a row, the frame number
    in the corner (to judge by eye)."""
    import cv2

    x0, y0, x1, y1 = (int(v) for v in crop.split(",")) if crop else (0, 0, None, None)
    tiles = []
    for p in paths:
        im = cv2.imread(str(p))[y0:y1, x0:x1]
        im = cv2.resize(im, (width, round(im.shape[0] * width / im.shape[1])), interpolation=cv2.INTER_AREA)
        cv2.putText(im, p.stem, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        tiles.append(im)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    rows = [np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    cv2.imwrite(str(out), np.vstack(rows))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("embed", "check", "sweep", "render"))
    ap.add_argument("--video", default=str(VTEST))
    ap.add_argument("--model", default="mobilenetv2")
    ap.add_argument("--cache", default="/tmp/ov/replay", help="dense maps, check and render output")
    ap.add_argument("--work", default=str(ROOT / "runs/own-video/runs/track"),
                    help="the CLI's output folder whose detections/ holds the HOG cache (own_video.py's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frames", default="60", help="check: frames of the cut; render: FIRST-LAST")
    ap.add_argument("--every", type=int, default=5, help="render: every N-th frame")
    ap.add_argument("--crop", default=None, help="render: x0,y0,x1,y1 of the contact sheet")
    ap.add_argument("--set", action="append", default=None, metavar='LABEL="KEY=VALUE ..."')
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    args.set = args.set or ["defaults="]
    if args.mode == "check":
        args.frames = int(args.frames)
    {"embed": embed, "check": check, "sweep": sweep, "render": render}[args.mode](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
