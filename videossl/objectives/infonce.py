"""InfoNCE / NT-Xent (SimCLR, Chen et al., ICML 2020) — the contrastive reference.

For two views of N clips, ``z = normalize(g(f(x)))``, 2N rows; each row's positive is the other
view of its clip and the other 2N − 2 rows are its negatives::

    ℓ(i, p) = −log  exp(z_i·z_p / τ) / Σ_{k ≠ i} exp(z_i·z_k / τ)
    L = 1/(2N) Σ_i ℓ(i, p(i))

Defaults: τ = 0.5 and head ``D → 2048 → 128`` with BN (SimCLR's CIFAR-10 setting; its
ImageNet setting is τ = 0.1 at batch 4096 — small batches like ours prefer the larger τ).
No teacher. With more than two views the loss is averaged over pairs (global i, view j > i).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.ssl_common import apply_rows, float32, mlp


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, top-1 accuracy of the positive)`` for two views ``[N, d]`` (normalised here)."""
    z = F.normalize(torch.cat([float32(z1), float32(z2)]), dim=1)
    n = z1.shape[0]
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))  # a row is never its own negative
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    loss = F.cross_entropy(logits, target)
    acc = (logits.argmax(dim=1) == target).float().mean()
    return loss, acc


class InfoNCE(Objective):
    needs_teacher = False
    needs_concepts = False

    def __init__(self, embed_dim: int, hidden: int = 2048, dim: int = 128, temperature: float = 0.5, head: bool = True):
        super().__init__()
        self.head = mlp(embed_dim, hidden, dim, bn=True) if head else nn.Identity()
        self.temperature = temperature

    @classmethod
    def build(cls, concepts=None, embed_dim: int | None = None, **kwargs) -> "InfoNCE":
        if embed_dim is None:
            raise ValueError("the infonce objective needs embed_dim")
        return cls(embed_dim, **kwargs)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None = None, batch: dict | None = None) -> dict:
        z = apply_rows(self.head, student_out.embeddings)
        pairs = [(i, j) for i in range(student_out.n_global) for j in range(i + 1, len(z))]
        if not pairs:
            raise ValueError("the infonce objective needs at least two views")
        terms = [nt_xent(z[i], z[j], self.temperature) for i, j in pairs]
        return {"loss": sum(t[0] for t in terms) / len(terms), "pos_acc": sum(t[1] for t in terms) / len(terms)}
