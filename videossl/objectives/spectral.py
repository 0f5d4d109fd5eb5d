"""Spectral contrastive loss (HaoChen, Wei, Gaidon & Ma, NeurIPS 2021; jhaochenz/spectral_contrastive_learning).

Population form: ``L(f) = −2 E[f(x)ᵀ f(x⁺)] + E[(f(x)ᵀ f(x⁻))²]``, a low-rank factorisation of
the augmentation graph's normalised adjacency. Minibatch estimate, as in the authors' code, for
two views ``z1, z2 [N, d]`` (projected, not normalised)::

    z ← z · min(1, √μ / ‖z‖)                        (rows longer than √μ rescaled to norm √μ)
    part1 = −(2/N) Σ_i z1_i · z2_i
    part2 = 1/(N(N−1)) Σ_{i≠j} (z1_i · z2_j)²
    L = (part1 + part2) / μ

Defaults from the authors' CIFAR-10 config: μ = 1, head ``D → 2048 → 1000`` with BN (they used
512 → 2048 → 1000 on a ResNet-18). No teacher (``needs_teacher = False``). With more than two
views the loss is averaged over the pairs (global view i, any other view j > i).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.ssl_common import apply_rows, float32, mlp


def clip_norm(z: torch.Tensor, mu: float = 1.0) -> torch.Tensor:
    """Rows with ``‖z‖ ≥ √μ`` rescaled to norm ``√μ``; shorter rows unchanged."""
    r = math.sqrt(mu)
    norm = z.norm(dim=1, keepdim=True)
    return torch.where(norm < r, z, z / norm.clamp_min(1e-12) * r)


def spectral_loss(z1: torch.Tensor, z2: torch.Tensor, mu: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(loss, part1, part2)`` of the minibatch spectral contrastive loss (see the module docstring)."""
    z1, z2 = clip_norm(float32(z1), mu), clip_norm(float32(z2), mu)
    n = z1.shape[0]
    part1 = -2.0 * (z1 * z2).sum(dim=1).mean()
    sq = (z1 @ z2.T).pow(2)
    off = ~torch.eye(n, dtype=torch.bool, device=z1.device)
    part2 = sq[off].sum() / max(1, n * (n - 1))
    return (part1 + part2) / mu, part1, part2


class SpectralContrastive(Objective):
    needs_teacher = False
    needs_concepts = False

    def __init__(self, embed_dim: int, hidden: int = 2048, dim: int = 1000, mu: float = 1.0, head: bool = True):
        super().__init__()
        self.head = mlp(embed_dim, hidden, dim, bn=True) if head else nn.Identity()
        self.mu = mu

    @classmethod
    def build(cls, concepts=None, embed_dim: int | None = None, **kwargs) -> "SpectralContrastive":
        if embed_dim is None:
            raise ValueError("the spectral objective needs embed_dim")
        return cls(embed_dim, **kwargs)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None = None, batch: dict | None = None) -> dict:
        z = apply_rows(self.head, student_out.embeddings)
        pairs = [(i, j) for i in range(student_out.n_global) for j in range(i + 1, len(z))]
        if not pairs:
            raise ValueError("the spectral objective needs at least two views")
        terms = [spectral_loss(z[i], z[j], self.mu) for i, j in pairs]
        k = len(terms)
        return {"loss": sum(t[0] for t in terms) / k, "part1": sum(t[1] for t in terms).detach() / k,
                "part2": sum(t[2] for t in terms).detach() / k}
