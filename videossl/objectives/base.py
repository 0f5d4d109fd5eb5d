"""The interface every training objective implements, so the trainer never special-cases one.

An objective is an ``nn.Module`` called as ``objective(student_out, teacher_out, batch)``:

- ``student_out`` / ``teacher_out``: :class:`ViewOutputs` — the clip embeddings of each view
  (global views first), from the student and from the EMA teacher. The teacher sees only the
  global views (DINO/SVT habit: local views are student-only). ``teacher_out`` is ``None``
  for objectives with ``needs_teacher = False`` (e.g. InfoNCE between student views).
- ``batch``: the rest of the batch (``labels``, ``n_global``, indices…) for objectives that
  need it; the concept objectives ignore it.

It returns a dict of scalar tensors with at least ``"loss"`` (the one that is back-propagated);
other entries are logged. State that must survive a resume (DINO's centre, a ReSSL queue) lives
in registered buffers, so it travels with ``objective.state_dict()`` into the checkpoint.
In DDP, objectives reduce their own batch statistics (see :func:`all_reduce_mean`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class ViewOutputs:
    """Per-view clip embeddings ``[B, D]``; ``embeddings[:n_global]`` are the global views."""

    embeddings: list[torch.Tensor]
    n_global: int
    extra: dict = field(default_factory=dict)

    @property
    def global_views(self) -> list[torch.Tensor]:
        return self.embeddings[: self.n_global]


class Objective(nn.Module):
    """Base class: subclasses implement ``forward(student_out, teacher_out, batch) -> dict``."""

    needs_teacher: bool = True
    # what the trainer feeds it (see videossl/train/loop.py): "global" — the teacher sees the
    # student's global views; "weak" — the teacher sees separate weakly augmented views (crop +
    # flip only, ReSSL). needs_sequence — the student's per-frame latents [B, T, D] of each global
    # view arrive as student_out.extra["sequence"] (LDM)
    teacher_views: str = "global"
    needs_sequence: bool = False

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None, batch: dict) -> dict:  # pragma: no cover
        raise NotImplementedError


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over DDP processes (identity without ``torch.distributed``): batch statistics such
    as DINO's centre must be the same on every rank or the replicas drift apart."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x
