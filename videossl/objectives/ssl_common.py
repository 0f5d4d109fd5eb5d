"""Pieces the self-supervised objectives share: projection heads, their EMA copies, view pairs.

The trainer hands an objective clip embeddings per view (:class:`~videossl.objectives.base.ViewOutputs`);
the objectives of this zoo put a small projection head on top, as their papers do. A head lives
*in the objective* (``objective.parameters()``), so whoever optimises the model must also
optimise the objective's parameters; the momentum (EMA) copy of a head used by ReSSL / BYOL is
updated by the objective itself on every training forward, before the teacher side is computed
(MoCo / BYOL order), because the trainer's EMA only covers the backbone.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def mlp(in_dim: int, hidden: int, out_dim: int, bn: bool = False, layers: int = 2) -> nn.Module:
    """``Linear → [BN] → ReLU → … → Linear``; ``layers`` linear layers; ``hidden <= 0`` gives one Linear."""
    if hidden <= 0 or layers < 2:
        return nn.Linear(in_dim, out_dim)
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers - 1):
        mods.append(nn.Linear(d, hidden, bias=not bn))
        if bn:
            mods.append(nn.BatchNorm1d(hidden))
        mods.append(nn.ReLU(inplace=True))
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy with ``requires_grad=False`` (the momentum branch)."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``θ_t ← m θ_t + (1 − m) θ_o`` for parameters; buffers (BN statistics) are copied."""
    for pt, po in zip(target.parameters(), online.parameters()):
        pt.mul_(momentum).add_(po.detach(), alpha=1 - momentum)
    for bt, bo in zip(target.buffers(), online.buffers()):
        bt.copy_(bo)


def apply_rows(head: nn.Module, xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Apply ``head`` to several ``[B, D]`` tensors in one call (one BN batch per view, as the
    papers' per-view forwards; views of different batch sizes are handled one by one)."""
    if not xs:
        return []
    if any(isinstance(m, nn.BatchNorm1d) for m in head.modules()):
        return [head(x) for x in xs]
    sizes = [x.shape[0] for x in xs]
    return list(head(torch.cat(xs)).split(sizes))


def cross_view_pairs(n_teacher: int, n_student: int) -> list[tuple[int, int]]:
    """``(i, j)`` pairs of teacher view ``i`` and student view ``j`` with ``i != j`` (DINO / SVT
    habit: the global views predict each other; local views predict every global view)."""
    return [(i, j) for i in range(n_teacher) for j in range(n_student) if i != j]


def float32(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype != torch.float32 else x
