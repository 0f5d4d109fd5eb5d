"""Atomic, resumable checkpoints.

A checkpoint at step ``s`` is three files in ``RUN/checkpoints/``:

- ``step_<s>.safetensors`` — ``student.*``, ``teacher.*`` and ``objective.*`` tensors (weights
  and buffers such as the concept centres), written with ``save_safetensors_atomic``;
- ``step_<s>.state.pt`` — optimizer state, step and config (``torch.save`` into ``atomic_write``);
- ``latest.json`` — ``{"step": s, "weights": …, "state": …}``, written last and atomically.

A run killed at any moment leaves ``latest.json`` pointing at a complete pair: the pointer only
moves after both files are on disk. Older pairs beyond ``keep`` are deleted after the pointer moves.
Frozen parameters (the text tower, which training never changes) are left out to keep the files
small; they come back from the model's own initialisation on resume.

Damage is expected (a disk that filled up, a copy cut short, a hand edit): on resume every
candidate is validated before use — the safetensors header against the file size, the state file's
zip directory and CRCs, ``latest.json`` as JSON — and when the newest pair is damaged the newest
intact one is used, with one line saying so. A save that fails (disk full) removes its half-written
pair and raises :class:`~videossl.utils.outputs.OutputError` naming the file and the checkpoint that
is kept; ``latest.json`` is never moved to a pair that is not complete.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import torch

from videossl.errors import InputError
from videossl.utils import atomic_write, atomic_write_json, save_safetensors_atomic
from videossl.utils.outputs import OutputError, describe_os_error

_STEP = re.compile(r"^step_(\d+)\.safetensors$")


def trainable_state(module: torch.nn.Module, frozen: set[str]) -> dict[str, torch.Tensor]:
    """State dict without the frozen parameters; cloned (safetensors refuses shared storage)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items() if k not in frozen}


def save_checkpoint(run_dir: str | os.PathLike, step: int, student: torch.nn.Module, teacher: torch.nn.Module,
                    objective: torch.nn.Module, optimizer: torch.optim.Optimizer, frozen: set[str],
                    extra: dict | None = None, keep: int = 2) -> Path:
    ckpt_dir = Path(run_dir) / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    weights = ckpt_dir / f"step_{step:07d}.safetensors"
    state = ckpt_dir / f"step_{step:07d}.state.pt"
    tensors = {f"student.{k}": v for k, v in trainable_state(student, frozen).items()}
    tensors.update({f"teacher.{k}": v for k, v in trainable_state(teacher, frozen).items()})
    tensors.update({f"objective.{k}": v.detach().clone() for k, v in objective.state_dict().items()})
    # serialised in memory first: a full disk then fails as one OSError naming the file, never as
    # torch's "[enforce fail at inline_container.cc] unexpected pos" from inside its zip writer
    buf = io.BytesIO()
    torch.save({"step": step, "optimizer": optimizer.state_dict(), **(extra or {})}, buf)
    current = weights  # the file being written, named when the write fails
    try:
        save_safetensors_atomic(tensors, weights, metadata={"step": str(step)})
        current = state
        with atomic_write(state) as f:
            f.write(buf.getbuffer())
        current = ckpt_dir / "latest.json"
        atomic_write_json(current, {"step": step, "weights": weights.name, "state": state.name})
    except OSError as exc:
        pointer = latest_checkpoint(run_dir, validate=False, quiet=True)
        if pointer is None or pointer["step"] != step:  # the pair is not the one latest.json names: drop it
            for p in (weights, state):
                p.unlink(missing_ok=True)
        kept = pointer["weights"] if pointer else "none (no checkpoint was complete)"
        raise OutputError(exc.filename or current, f"cannot write checkpoint of step {step}: "
                                                   f"{describe_os_error(exc)}; last complete checkpoint: {kept} "
                                                   "(free space and re-run with --resume)") from None
    old = sorted(ckpt_dir.glob("step_*.safetensors"))[:-keep] if keep > 0 else []
    for w in old:
        for p in (w, w.with_name(w.name.replace(".safetensors", ".state.pt"))):
            p.unlink(missing_ok=True)
    return weights


def _pair(ckpt_dir: Path, step: int) -> dict:
    return {"step": step, "weights": ckpt_dir / f"step_{step:07d}.safetensors",
            "state": ckpt_dir / f"step_{step:07d}.state.pt"}


def checkpoint_problem(info: dict) -> str | None:
    """What is wrong with a checkpoint pair (missing, truncated, corrupt), or None when it is intact."""
    from safetensors import safe_open

    for key in ("weights", "state"):
        if not Path(info[key]).is_file():
            return f"{Path(info[key]).name} is missing"
    try:  # the header is checked against the file size: a cut-short file fails here
        with safe_open(str(info["weights"]), framework="pt") as f:
            f.keys()
    except Exception as exc:
        return f"{Path(info['weights']).name} is damaged ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    try:
        with zipfile.ZipFile(info["state"]) as z:
            bad = z.testzip()
        if bad is not None:
            return f"{Path(info['state']).name} is damaged (bad CRC in {bad})"
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"{Path(info['state']).name} is damaged ({exc})"
    return None


def latest_checkpoint(run_dir: str | os.PathLike, validate: bool = True, quiet: bool = False) -> dict | None:
    """``{"step", "weights": Path, "state": Path}`` of the checkpoint to resume from, or None when the run has none.

    The one ``latest.json`` names, when it is intact; else (pointer unreadable, or its pair damaged)
    the newest intact pair, with one line on stderr saying which and why. When pairs exist but none
    is intact: an InputError naming the folder.
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    pointer, problem = ckpt_dir / "latest.json", None
    named = None
    if pointer.exists():
        try:
            info = json.loads(pointer.read_text(encoding="utf-8"))
            named = {"step": int(info["step"]), "weights": ckpt_dir / info["weights"], "state": ckpt_dir / info["state"]}
        except (ValueError, KeyError, TypeError, OSError) as exc:
            problem = f"{pointer.name} is unreadable ({type(exc).__name__})"
    if not validate:
        return named
    if named is not None:
        problem = checkpoint_problem(named)
        if problem is None:
            return named
    steps = sorted((int(m.group(1)) for p in ckpt_dir.glob("step_*.safetensors") if (m := _STEP.match(p.name))),
                   reverse=True)
    if named is None and problem is None and not steps:
        return None  # a fresh run: nothing to resume
    problems = [problem] if problem else []
    for step in steps:
        if named is not None and step == named["step"]:
            continue
        info = _pair(ckpt_dir, step)
        p = checkpoint_problem(info)
        if p is None:
            if not quiet:
                print(f"warning: {ckpt_dir}: {'; '.join(problems) or 'latest.json is missing'}; resuming from the "
                      f"newest intact checkpoint {info['weights'].name} (step {step})", file=sys.stderr)
            return info
        problems.append(p)
    raise InputError(ckpt_dir, f"no intact checkpoint to resume from ({'; '.join(problems)}); "
                               "re-run without --resume into a new --out to start over")


def load_checkpoint(info: dict, student: torch.nn.Module, teacher: torch.nn.Module, objective: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, frozen: set[str], device: torch.device) -> dict:
    """Restore everything saved by :func:`save_checkpoint`; returns the state dict (step, extras).

    A checkpoint of another model or objective is an InputError naming the file (no traceback)."""
    from safetensors.torch import load_file

    where = info["weights"]
    tensors = load_file(str(info["weights"]), device=str(device))
    for prefix, module in (("student.", student), ("teacher.", teacher), ("objective.", objective)):
        part = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            missing, unexpected = module.load_state_dict(part, strict=False)
        except RuntimeError as exc:  # shapes differ: another model size or objective
            first = next((ln.strip() for ln in str(exc).splitlines() if "size mismatch" in ln), str(exc).splitlines()[0])
            raise InputError(where, f"checkpoint was made with another model or objective ({first}); "
                                    "resume with the run's own --model/--objective (see its config.json)") from None
        missing = [k for k in missing if k not in frozen]
        if missing or unexpected:
            raise InputError(where, f"checkpoint was made with another model or objective (missing {missing[:3]}, "
                                    f"unexpected {unexpected[:3]}); resume with the run's own --model/--objective "
                                    "(see its config.json)")
    state = torch.load(info["state"], map_location=device, weights_only=False)
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError) as exc:
        raise InputError(info["state"], f"optimizer state does not match this model ({exc})") from None
    return state
