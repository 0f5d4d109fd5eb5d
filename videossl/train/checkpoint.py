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
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from videossl.utils import atomic_write, atomic_write_json, save_safetensors_atomic


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
    save_safetensors_atomic(tensors, weights, metadata={"step": str(step)})
    with atomic_write(state) as f:
        torch.save({"step": step, "optimizer": optimizer.state_dict(), **(extra or {})}, f)
    atomic_write_json(ckpt_dir / "latest.json", {"step": step, "weights": weights.name, "state": state.name})
    old = sorted(ckpt_dir.glob("step_*.safetensors"))[:-keep] if keep > 0 else []
    for w in old:
        for p in (w, w.with_name(w.name.replace(".safetensors", ".state.pt"))):
            p.unlink(missing_ok=True)
    return weights


def latest_checkpoint(run_dir: str | os.PathLike) -> dict | None:
    """``{"step", "weights": Path, "state": Path}`` of the last complete checkpoint, or None."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    pointer = ckpt_dir / "latest.json"
    if not pointer.exists():
        return None
    info = json.loads(pointer.read_text())
    return {"step": int(info["step"]), "weights": ckpt_dir / info["weights"], "state": ckpt_dir / info["state"]}


def load_checkpoint(info: dict, student: torch.nn.Module, teacher: torch.nn.Module, objective: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, frozen: set[str], device: torch.device) -> dict:
    """Restore everything saved by :func:`save_checkpoint`; returns the state dict (step, extras)."""
    from safetensors.torch import load_file

    tensors = load_file(str(info["weights"]), device=str(device))
    for prefix, module in (("student.", student), ("teacher.", teacher), ("objective.", objective)):
        part = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        missing, unexpected = module.load_state_dict(part, strict=False)
        missing = [k for k in missing if k not in frozen]
        if missing or unexpected:
            raise RuntimeError(f"{info['weights']}: checkpoint does not match the model "
                               f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    state = torch.load(info["state"], map_location=device, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    return state
