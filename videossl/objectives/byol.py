"""BYOL — bootstrap your own latent (Grill et al., NeurIPS 2020): the negative-free reference.

Online branch: projector g and predictor q on the student's embedding; target branch: the EMA
backbone (the trainer's teacher) and an EMA copy of the projector, no gradient::

    p = normalize(q(g(f_s(v))))        t = normalize(g_ema(f_t(v')))
    ℓ(v, v') = ‖p − t‖² = 2 − 2 p·t
    L = mean over pairs (teacher view i, student view j ≠ i) of mean_batch ℓ

which symmetrises the loss over the two global views, as BYOL does. Defaults from the paper:
projector and predictor ``D → 4096 → 256`` with BN, target momentum 0.996 (the trainer's
teacher momentum should match; the projector's EMA here uses ``momentum``). The loss is 0 —
its minimum — when the prediction equals the target direction, e.g. for identical views with
an identity predictor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.ssl_common import apply_rows, cross_view_pairs, ema_, float32, frozen_copy, mlp


def byol_loss(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``mean_i (2 − 2 cos(p_i, t_i))``."""
    return (2 - 2 * F.cosine_similarity(float32(p), float32(t.detach()), dim=1)).mean()


class BYOL(Objective):
    needs_teacher = True
    needs_concepts = False

    def __init__(self, embed_dim: int, hidden: int = 4096, dim: int = 256, momentum: float = 0.996,
                 head: bool = True, aligned_views: bool = False):
        super().__init__()
        if head:
            self.projector = mlp(embed_dim, hidden, dim, bn=True)
            self.predictor = mlp(dim, hidden, dim, bn=True)
        else:
            self.projector, self.predictor = nn.Identity(), nn.Identity()
        self.projector_target = frozen_copy(self.projector)
        self.momentum = momentum
        self.aligned_views = aligned_views

    @classmethod
    def build(cls, concepts=None, embed_dim: int | None = None, **kwargs) -> "BYOL":
        if embed_dim is None:
            raise ValueError("BYOL needs embed_dim")
        return cls(embed_dim, **kwargs)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None, batch: dict | None = None) -> dict:
        if teacher_out is None:
            raise ValueError("BYOL needs the target (teacher) embeddings")
        if self.training:
            ema_(self.projector_target, self.projector, self.momentum)
        p = apply_rows(self.predictor, apply_rows(self.projector, student_out.embeddings))
        with torch.no_grad():
            self.projector_target.train(self.training)
            t = apply_rows(self.projector_target, teacher_out.global_views)
        n_t, n_s = len(t), len(p)
        pairs = [(i, i) for i in range(min(n_t, n_s))] if (self.aligned_views or n_s == 1) else cross_view_pairs(n_t, n_s)
        loss = sum(byol_loss(p[j], t[i]) for i, j in pairs) / len(pairs)
        with torch.no_grad():
            std = F.normalize(float32(p[0]), dim=1).std(dim=0).mean()  # → 0 on collapse (SimSiam's monitor)
        return {"loss": loss, "pred_std": std}
