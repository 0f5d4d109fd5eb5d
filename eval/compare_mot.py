"""Compare MOT association on the same detections, and split the frame time at 30/100/300 boxes.

Part 1 (quality) runs, on every sequence of the synthetic MOT benchmark with its public detections,
(a) our head with appearance (UniTrack's reconstruction similarity fused with Kalman gating),
(b) our head with motion only (same tracker, stage 1 on Kalman-predicted IoU), and
(c) ByteTrack from the ``trackers`` package (clean-room re-implementation, default settings),
and scores all three with ``unitrack.metrics.mot`` (MOTA / IDF1 / HOTA / IDSW) plus their fps.

Part 2 (speed) builds a 1080p sequence of N moving, differently coloured boxes (N = 30, 100, 300)
and times feature extraction, RoI pooling and association per frame with the same head.

    python eval/compare_mot.py [--model tiny-resnet] [--frames 20] [--out eval/results/mot.md]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _array_reader(frames: np.ndarray, fps: float = 30.0):
    """In-memory frames as a ``videossl.io`` reader (so the head's prefetch path is the real one)."""
    from videossl.io.reader import VideoReader

    class ArrayReader(VideoReader):
        backend = "memory"

        def __init__(self):
            super().__init__("<memory>")
            self.frames, self.fps = frames, fps
            self.height, self.width, self._len = frames.shape[1], frames.shape[2], len(frames)

        def get_batch(self, indices):
            return self.frames[self._check_indices(indices)]

        def clone(self):
            return self

    return ArrayReader()


def _bytetrack(dets: dict[int, np.ndarray], num_frames: int) -> list[tuple]:
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker()
    rows = []
    for f in range(1, num_frames + 1):
        d = dets.get(f, np.zeros((0, 5)))
        xyxy = np.concatenate([d[:, :2], d[:, :2] + d[:, 2:4]], 1) if len(d) else np.zeros((0, 4))
        out = tracker.update(sv.Detections(xyxy=xyxy.astype(np.float32), confidence=d[:, 4].astype(np.float32),
                                           class_id=np.zeros(len(d), int)))
        if out.tracker_id is None:
            continue
        for (x1, y1, x2, y2), tid, c in zip(out.xyxy, out.tracker_id, out.confidence):
            if tid >= 0:
                rows.append((f, int(tid) + 1, x1, y1, x2 - x1, y2 - y1, float(c)))
    return rows


def combined_root(seeds, dest: Path) -> tuple[Path, list[str]]:
    """One MOTChallenge root holding the synthetic MOT sequences of several seeds (symlinks, named
    ``S<seed>-SYNTH-0k``), so the metrics combine them as one benchmark (TrackEval's HOTA included)."""
    from unitrack.data.synth import ensure_benchmark
    from unitrack.heads import mot

    names = []
    for seed in seeds:
        root = Path(ensure_benchmark("mot", seed))
        for seq in mot.sequences(root):
            name = f"S{seed}-{seq}"
            link = dest / "train" / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(root / "train" / seq, target_is_directory=True)
            names.append(name)
    return dest, names


def quality(model_name: str, device: str, seeds=(0,), tmp: Path | None = None,
            pretrained: str | None = "default") -> tuple[list[str], dict]:
    from unitrack.heads import mot
    from unitrack.heads.embed import Embedder
    from unitrack.metrics.mot import evaluate
    from videossl.models import create_model

    tmp = Path(tmp or tempfile.mkdtemp(prefix="compare_mot-"))
    root, seqs = combined_root(seeds, tmp / "benchmark")
    torch.manual_seed(0)  # a random-init model (tiny-resnet) is then the same one in every run
    model = create_model(model_name, pretrained=pretrained, device=device).eval()
    embedder = Embedder(model, device)
    cfg = mot.default_config(root)
    methods = {
        "(a) ours, appearance + motion": lambda r, d: mot.track_boxes(r, d, embedder, cfg),
        "(b) ours, motion only": lambda r, d: mot.track_boxes(r, d, None, cfg.replace(use_appearance=False)),
        "(c) ByteTrack (trackers 2.6)": lambda r, d: _bytetrack(d, len(r)),
    }
    results = {}
    for name, fn in methods.items():
        pred_dir = tmp / f"pred{len(results)}"
        frames = secs = 0
        for seq in seqs:
            reader, dets, _ = mot.load_sequence(root, seq)
            t0 = time.perf_counter()
            rows = fn(reader, dets)
            secs += time.perf_counter() - t0
            frames += len(reader)
            mot.write_rows(pred_dir / f"{seq}.txt", rows)
        res = evaluate(root, pred_dir, seqs)
        res["fps"] = frames / secs
        results[name] = res
        print(name, {k: res["overall"].get(k) for k in ("MOTA", "IDF1", "HOTA", "IDSW")}, f"{res['fps']:.1f} fps",
              file=sys.stderr)
    return seqs, results


def _moving_boxes(n: int, frames: int, hw=(1080, 1920), seed=0):
    """N boxes (pedestrian-like 40-120 px wide, h = 2.5 w) bouncing in a 1080p frame, each a solid colour."""
    rng = np.random.default_rng(seed)
    H, W = hw
    w = rng.uniform(20, 60, n)
    h = 2.5 * w
    x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
    vx, vy = rng.uniform(-6, 6, n), rng.uniform(-3, 3, n)
    colours = rng.integers(30, 255, (n, 3))
    imgs = np.empty((frames, H, W, 3), np.uint8)
    dets = {}
    for f in range(frames):
        img = np.full((H, W, 3), 90, np.uint8)
        for k in range(n):
            imgs_x, imgs_y = int(x[k]), int(y[k])
            img[imgs_y:imgs_y + int(h[k]), imgs_x:imgs_x + int(w[k])] = colours[k]
        imgs[f] = img
        dets[f] = np.stack([x, y, w, h, np.full(n, 0.9)], 1) + np.concatenate(
            [rng.normal(0, 1, (n, 4)), np.zeros((n, 1))], 1)
        x, y = x + vx, y + vy
        vx = np.where((x < 0) | (x > W - w), -vx, vx)
        vy = np.where((y < 0) | (y > H - h), -vy, vy)
        x, y = np.clip(x, 0, W - w), np.clip(y, 0, H - h)
    return imgs, dets


def speed(model_name: str, device: str, frames: int, counts=(30, 100, 300), hw=(1080, 1920)) -> dict:
    from unitrack.heads import mot
    from unitrack.heads.association.tracker import TrackerConfig
    from unitrack.heads.embed import Embedder
    from videossl.models import create_model

    model = create_model(model_name, device=device).eval()
    embedder = Embedder(model, device)
    out = {}
    for n in counts:
        imgs, dets = _moving_boxes(n, frames, hw=hw, seed=n)
        reader = _array_reader(imgs)
        mot.track_boxes(_array_reader(imgs[:4]), {0: dets[0]}, embedder, TrackerConfig(), batch_size=4)  # warm-up
        t = {}
        t0 = time.perf_counter()
        mot.track_boxes(reader, dets, embedder, TrackerConfig(), batch_size=4, timings=t)
        total = time.perf_counter() - t0
        t["total"] = total
        out[n] = {k: v / frames * 1000 for k, v in t.items() if k != "frames"}  # ms per frame
        out[n]["fps"] = frames / total
        print(n, {k: round(v, 1) for k, v in out[n].items()}, file=sys.stderr)
    return out


KEPT = "## Reading the numbers"


def write_markdown(path: Path, model_name: str, seqs, results: dict, spd: dict, frames: int,
                   speed_model: str | None = None, seeds=(0,), pretrained: str = "default") -> None:
    from videossl.utils import machine_info

    lines = [f"# MOT association: appearance vs motion vs ByteTrack, and where the time goes", "",
             f"Measured {_dt.date.today().isoformat()} on {machine_info()}; model `{model_name}`; "
             f"`python eval/compare_mot.py --model {model_name} --speed-model {speed_model or model_name} "
             f"--frames {frames} --seeds {' '.join(map(str, seeds))}"
             + ("" if pretrained == "default" else f" --pretrained {pretrained}") + "`.", "",
             f"## Same detections, synthetic MOT benchmark: {len(seqs)} sequences (seeds {', '.join(map(str, seeds))}, "
             f"pooled into one evaluation)", "",
             "| method | MOTA | IDF1 | HOTA | IDSW | FP | FN | fps |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        o = r["overall"]
        lines.append(f"| {name} | {100 * o['MOTA']:.1f} | {100 * o['IDF1']:.1f} | {100 * o['HOTA']:.1f} | "
                     f"{o['IDSW']} | {o['FP']} | {o['FN']} | {r['fps']:.1f} |")
    lines += ["", "Per sequence (IDSW a / b / c):", ""]
    names = list(results)
    for s in seqs:
        lines.append(f"- {s}: " + " / ".join(str(results[n]['per_sequence'][s]['IDSW']) for n in names))
    lines += ["", f"## Frame time split (ms per frame), 1080p frames, model input 608x1080, "
                  f"`{speed_model or model_name}` ({frames} frames each)", "",
              "| boxes / frame | decode | features | pooling | association | total ms/frame | fps |",
              "|---|---|---|---|---|---|---|"]
    for n, r in spd.items():
        lines.append(f"| {n} | {r['decode']:.1f} | {r['features']:.1f} | {r['pooling']:.1f} | "
                     f"{r['association']:.1f} | {r['total']:.1f} | {r['fps']:.2f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if path.exists() and KEPT in path.read_text():  # hand-written analysis survives a re-measure
        text += "\n" + KEPT + path.read_text().split(KEPT, 1)[1]
    path.write_text(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tiny-resnet")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5],
                   help="synthetic MOT benchmarks to pool (2 sequences each; seed 0 is the default benchmark)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--frames", type=int, default=20, help="frames per speed run")
    p.add_argument("--out", default="eval/results/mot.md")
    p.add_argument("--speed-model", default=None, help="model for the time split (default: --model)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--pretrained", default="default",
                   help="weights of --model for (a): tag, Hugging Face id or local file (default: the model's own)")
    args = p.parse_args(argv)
    seqs, results = quality(args.model, args.device, args.seeds, pretrained=args.pretrained)
    speed_model = args.speed_model or args.model
    spd = {} if args.skip_speed else speed(speed_model, args.device, args.frames)
    write_markdown(Path(args.out), args.model, seqs, results, spd, args.frames, speed_model, args.seeds, args.pretrained)
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
