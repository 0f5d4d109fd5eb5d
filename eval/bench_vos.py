"""Speed and memory of VOS label propagation at 480p feature maps; J&F on the synthetic benchmark.

    python eval/bench_vos.py                 # speed + memory (CPU), writes eval/results/vos.md
    python eval/bench_vos.py --jf resnet18   # also J&F of that model and of copy-first (synthetic DAVIS)

Features are 60×107×256 (a 480p frame at stride 8), random and L2-normalised (propagation cost does
not depend on their content), fixed seed. Three measurements, each in its own child process so that
peak RSS belongs to that measurement alone:

* ``ratio``: UniTrack's dense-then-mask propagation (``dense_propagate_reference``, a faithful
  re-implementation of its ``mem_efficient_batched_affinity`` + label gather) against ours on the SAME
  features and SAME labels (first frame + 5 recent frames, radius 12, top-k 10, τ 0.05), interleaved
  frame by frame in one process; the outputs are compared (max |difference|). Both wall time and the
  process's CPU time are taken: with one thread, CPU time does not count the time the scheduler gives
  other jobs on a shared machine, so its ratio is the steadier of the two.
* ``ours``: :class:`LabelPropagator` over a sequence, with 1 / 5 / 10 objects and 5 / 20 context
  frames: median ms/frame once the ring is full, peak RSS over the feature pool, RSS growth between
  the middle and the end of the sequence (the memory must not grow with its length).
* ``ref-mem``: peak RSS of the reference for one frame.
Runs are modest on purpose (a 2-core machine shared with other jobs): few frames, medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

H, W, C = 60, 107, 256
POOL = 6  # distinct feature frames, cycled (keeps the benchmark's own footprint small)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _features(n: int, seed: int = 0) -> torch.Tensor:
    from unitrack.heads.propagation import l2n

    g = torch.Generator().manual_seed(seed)
    return l2n(torch.randn(n, C, H, W, generator=g))


def _labels(n: int, k: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(4 * torch.randn(n, k + 1, H, W, generator=g), dim=1)


def child_ratio(frames: int, objects: int, context: int = 5) -> dict:
    from unitrack.heads.propagation import (PropagationConfig, _LocalGeometry, dense_propagate_reference,
                                            propagate_frame)

    cfg = PropagationConfig(n_context=context)
    keys, lbl = _features(context + 1), _labels(context + 1, objects)
    queries = _features(frames, seed=7)
    dense_propagate_reference(queries[0], keys[:2], lbl[:2], 1, cfg)  # build the radius mask once (per video)
    # our memory as the ring buffer holds it (padded, frames interleaved); each step pads one new frame
    geom = _LocalGeometry(H, W, cfg.radius, cfg.tile, "cpu")
    ring = geom.pad_keys(keys[1:])
    ours, ref, ours_cpu, ref_cpu, diff = [], [], [], [], 0.0
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        a = propagate_frame(q, keys[0], lbl[0], ring, lbl[1:], cfg, geom, padded=True)
        geom.pad_keys(q[None])  # the cost of pushing the new frame into the ring
        t1, c1 = time.perf_counter(), time.process_time()
        b = dense_propagate_reference(q, keys, lbl, 1, cfg)
        t2, c2 = time.perf_counter(), time.process_time()
        ours.append(t1 - t0)
        ref.append(t2 - t1)
        ours_cpu.append(c1 - c0)
        ref_cpu.append(c2 - c1)
        diff = max(diff, float((a - b).abs().max()))
    med = lambda x: 1e3 * statistics.median(x)
    return {"ours_ms": med(ours), "ref_ms": med(ref), "ours_cpu_ms": med(ours_cpu), "ref_cpu_ms": med(ref_cpu),
            "ratios": [round(r / o, 1) for o, r in zip(ours, ref)], "max_abs_diff": diff}


def child_ours(frames: int, objects: int, context: int) -> dict:
    from unitrack.heads.propagation import LabelPropagator, PropagationConfig

    pool, lbl0 = _features(POOL), _labels(1, objects)[0]
    base = _rss_mb()
    prop = LabelPropagator(PropagationConfig(n_context=context))
    prop.init(pool[0], lbl0)
    times, rss_mid = [], None
    for t in range(1, frames + 1):
        t0 = time.perf_counter()
        prop.step(pool[t % POOL])
        times.append(time.perf_counter() - t0)
        if t == frames // 2:
            rss_mid = _rss_mb()
    full = times[context:] or times
    return {"ms": 1e3 * statistics.median(full), "peak_mb": _peak_mb() - base, "rss_growth_mb": _rss_mb() - rss_mid,
            "frames": frames}


def child_ref_mem(objects: int) -> dict:
    from unitrack.heads.propagation import PropagationConfig, dense_propagate_reference

    keys, lbl, q = _features(6), _labels(6, objects), _features(1, seed=7)[0]
    base = _rss_mb()
    t0 = time.perf_counter()
    dense_propagate_reference(q, keys, lbl, 1, PropagationConfig())
    return {"ms_incl_mask": 1e3 * (time.perf_counter() - t0), "peak_mb": _peak_mb() - base}


def _spawn(args: list[str], threads: int) -> dict:
    cmd = [sys.executable, __file__, "--threads", str(threads), "--child", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def jf(model: str, out: Path) -> dict:
    from unitrack.eval import evaluate_task

    res = {}
    for name in (model, "copy-first"):
        m = evaluate_task("vos", None, name, out / name.replace("/", "_"), "cpu", progress=False)
        res[name] = {**m["overall"], "fps": m.get("fps")}
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=30, help="sequence length of the 'ours' runs")
    ap.add_argument("--ratio-frames", type=int, default=2, help="frames timed for the ours/reference ratio")
    ap.add_argument("--contexts", default="5,20", help="context sizes of the 'ours' sequence runs")
    ap.add_argument("--ratio-configs", default="1x5,10x5,1x20", help="objects x context of the ratio runs")
    ap.add_argument("--jf", default=None, metavar="MODEL", help="also score MODEL and copy-first on synthetic DAVIS")
    ap.add_argument("--out", default="eval/results/vos.md")
    ap.add_argument("--child", nargs="*", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.child is not None:
        kind, *rest = args.child
        fn = {"ratio": child_ratio, "ours": child_ours, "ref-mem": child_ref_mem}[kind]
        print(json.dumps(fn(*map(int, rest))))
        return 0

    from videossl.utils import machine_info

    results = {"ratio": {}, "ours": {}, "ref_mem": None, "jf": None, "load": [os.getloadavg()]}
    for k, n in (tuple(map(int, c.split("x"))) for c in args.ratio_configs.split(",") if c):
        results["ratio"][(k, n)] = r = _spawn(["ratio", str(args.ratio_frames), str(k), str(n)], args.threads)
        print(f"ratio k={k} n_context={n}: ours {r['ours_ms']:.0f} ms, reference {r['ref_ms']:.0f} ms "
              f"-> {r['ref_ms'] / r['ours_ms']:.1f}x (CPU time {r['ref_cpu_ms'] / r['ours_cpu_ms']:.1f}x, per frame "
              f"{r['ratios']}), max |diff| {r['max_abs_diff']:.1e}", flush=True)
    results["load"].append(os.getloadavg())
    results["ref_mem"] = _spawn(["ref-mem", "1"], args.threads)
    for n in (int(c) for c in args.contexts.split(",") if c):
        for k in (1, 5, 10):
            results["ours"][(n, k)] = r = _spawn(["ours", str(max(args.frames, n + 4)), str(k), str(n)], args.threads)
            print(f"ours n_context={n} objects={k}: {r['ms']:.0f} ms/frame, peak {r['peak_mb']:.0f} MB, "
                  f"growth {r['rss_growth_mb']:+.1f} MB", flush=True)
    if args.jf:
        results["jf"] = jf(args.jf, Path("runs/bench_vos"))
        print(json.dumps(results["jf"], indent=1))
    results["load"].append(os.getloadavg())
    write_md(Path(args.out), results, machine_info(), args)
    return 0


def write_md(path: Path, res: dict, machine: str, args) -> None:
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = " → ".join(f"{a[0]:.1f}" for a in res["load"])
    # a section measured by another run (e.g. the accuracy table) is kept when this run did not redo it
    kept = []
    if path.exists() and not res["jf"]:
        text = path.read_text()
        for head in ("## Accuracy", "## Reading the numbers"):
            if head in text:
                kept += [""] + text[text.index(head):].split("\n## ")[0].rstrip().splitlines()
    lines = [f"# VOS label propagation: speed, memory, J&F", "",
             f"Machine: {machine}; torch threads {args.threads}; shared with other jobs (timings are medians, "
             f"ratios measured interleaved in one process). {date}; 1-minute load average {load} over the run "
             f"(2 cores). `python eval/bench_vos.py " + " ".join(sys.argv[1:]) + "`.", "",
             "Features 60×107×256 (480p at stride 8), random, L2-normalised; radius 12, top-k 10, τ 0.05.", "",
             "## Ours vs UniTrack's dense-then-mask propagation (same features, same labels)", "",
             "First frame (no radius) + the N most recent frames (radius 12). UniTrack's setting is N = 5.", "",
             "| objects | N context | reference ms/frame | ours ms/frame | speed-up (wall) | per frame | "
             "speed-up (CPU time) | max abs diff of soft labels |",
             "|---|---|---|---|---|---|---|---|"]
    for (k, n), r in res["ratio"].items():
        lines.append(f"| {k} | {n} | {r['ref_ms']:.0f} | {r['ours_ms']:.0f} | **{r['ref_ms'] / r['ours_ms']:.1f}×** | "
                     f"{', '.join(f'{x:.1f}' for x in r['ratios'])} | {r['ref_cpu_ms'] / r['ours_cpu_ms']:.1f}× | "
                     f"{r['max_abs_diff']:.1e} |")
    rm = res["ref_mem"]
    lines += ["", f"Reference peak memory for one frame (1 object, radius mask included): {rm['peak_mb']:.0f} MB.", "",
              "## Ours over a sequence (ring buffer of recent frames + first frame)", "",
              "| context frames | objects | ms/frame | peak MB | RSS growth, 2nd half of the sequence |",
              "|---|---|---|---|---|"]
    for (n, k), r in res["ours"].items():
        lines.append(f"| {n} | {k} | {r['ms']:.0f} | {r['peak_mb']:.0f} | {r['rss_growth_mb']:+.1f} MB over "
                     f"{r['frames'] // 2} frames |")
    for n in (5, 20):
        one, ten = res["ours"].get((n, 1)), res["ours"].get((n, 10))
        if one and ten:
            lines.append(f"\n{n} context frames: 10 objects cost {ten['ms'] / one['ms']:.2f}× one object.")
    if res["jf"]:
        lines += ["", "## J&F on the synthetic DAVIS benchmark (`unitrack eval --task vos`)", "",
                  "| model | J | F | J&F | fps (end to end) |", "|---|---|---|---|---|"]
        for name, m in res["jf"].items():
            fps = m.get("fps")
            lines.append(f"| {name} | {100 * m['J_mean']:.1f} | {100 * m['F_mean']:.1f} | {100 * m['JF_mean']:.1f} | "
                         f"{'n/a' if fps is None else f'{fps:.1f}'} |")
    lines += kept
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    sys.exit(main())
