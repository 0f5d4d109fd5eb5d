"""ReSSL — relational self-supervised learning (Zheng et al., NeurIPS 2021; mingkai-zheng/ReSSL).

The teacher's *relation* of a weakly augmented view to a memory queue of past teacher keys,
sharpened with a low temperature, is the target for the student's relation of a strongly
augmented view to the same queue. There is no positive logit::

    q = normalize(g_s(f_s(x_strong)))        k = normalize(g_t(f_t(x_weak)))   (EMA teacher, no grad)
    p_t = softmax(k · Qᵀ / τ_t)              log p_s = log_softmax(q · Qᵀ / τ_s)
    L = − mean_i Σ_j p_t[i, j] · log p_s[i, j]

then the keys ``k`` are enqueued (after the loss, so a key never scores against itself).

Defaults are the authors' small-data setting (CIFAR): τ_t = 0.04, τ_s = 0.1, queue 4,096,
head momentum 0.99, output dim 128; head ``D → hidden → 128`` without BN, as in their code.
(ImageNet: queue 131,072, momentum 0.999, head 2048 → 4096 → 512.) ``hidden`` is 2048 here
(inferred: the authors' CIFAR head width is the backbone width; ours is a tiny backbone).
The queue starts as random unit vectors, as in the authors' code.

Views: ``teacher_views = "weak"`` makes the toolkit's trainer cut, for the teacher, one weakly
augmented view per global view (random resized crop + flip only, the paper's weak augmentation;
same frames as that global view, its own crop), while the student sees the strongly augmented
global and local views (colour jitter, grayscale). Pairs are (weak teacher view i, student view
j), i ≠ j. Standalone callers pass weak teacher views and strong student views with
``aligned_views=True`` (pairs i = i).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.ssl_common import apply_rows, cross_view_pairs, ema_, float32, frozen_copy, mlp


def ressl_loss(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, teacher_temp: float = 0.04,
               student_temp: float = 0.1) -> torch.Tensor:
    """``−mean_i Σ_j softmax(k·Qᵀ/τ_t)_ij · log_softmax(q·Qᵀ/τ_s)_ij`` for unit rows ``q, k [B, d]``, ``Q [K, d]``."""
    target = F.softmax(float32(k) @ float32(queue).T / teacher_temp, dim=1)
    logp = F.log_softmax(float32(q) @ float32(queue).T / student_temp, dim=1)
    return -(target * logp).sum(dim=1).mean()


def _gather(x: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)
    return x


class ReSSL(Objective):
    needs_teacher = True
    needs_concepts = False
    teacher_views = "weak"

    def __init__(self, embed_dim: int, dim: int = 128, hidden: int = 2048, queue_size: int = 4096,
                 momentum: float = 0.99, teacher_temp: float = 0.04, student_temp: float = 0.1,
                 head: bool = True, aligned_views: bool = False):
        super().__init__()
        if not head:
            dim = embed_dim
        self.head = mlp(embed_dim, hidden, dim, bn=False) if head else nn.Identity()
        self.head_teacher = frozen_copy(self.head)
        self.momentum, self.teacher_temp, self.student_temp = momentum, teacher_temp, student_temp
        self.aligned_views = aligned_views
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @classmethod
    def build(cls, concepts=None, embed_dim: int | None = None, **kwargs) -> "ReSSL":
        if embed_dim is None:
            raise ValueError("ReSSL needs embed_dim (the backbone's clip embedding size)")
        return cls(embed_dim, **kwargs)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write ``keys [n, d]`` at the pointer, wrapping around the end of the ring buffer."""
        keys = _gather(keys.detach().to(self.queue.dtype))
        size = self.queue.shape[0]
        if keys.shape[0] > size:  # more keys than slots: the newest ``size`` survive
            keys = keys[-size:]
        n = keys.shape[0]
        idx = (self.queue_ptr + torch.arange(n, device=keys.device)) % size
        self.queue[idx] = keys
        self.queue_ptr.fill_(int((self.queue_ptr + n) % size))

    def pairs(self, n_teacher: int, n_student: int) -> list[tuple[int, int]]:
        if self.aligned_views or n_student == 1:
            return [(i, i) for i in range(min(n_teacher, n_student))]
        return cross_view_pairs(n_teacher, n_student)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None, batch: dict | None = None) -> dict:
        if teacher_out is None:
            raise ValueError("ReSSL needs the teacher's (weak-view) embeddings")
        if self.training:
            ema_(self.head_teacher, self.head, self.momentum)  # momentum branch first, as MoCo/ReSSL
        q = [F.normalize(float32(z), dim=1) for z in apply_rows(self.head, student_out.embeddings)]
        with torch.no_grad():
            k = [F.normalize(float32(z), dim=1) for z in apply_rows(self.head_teacher, teacher_out.global_views)]
        queue = self.queue.clone().detach()
        pairs = self.pairs(len(k), len(q))
        loss = sum(ressl_loss(q[j], k[i], queue, self.teacher_temp, self.student_temp) for i, j in pairs) / len(pairs)
        with torch.no_grad():
            p_t = F.softmax(k[0] @ queue.T / self.teacher_temp, dim=1)
            teacher_entropy = -(p_t * p_t.clamp_min(1e-12).log()).sum(1).mean()
        if self.training:
            self.enqueue(torch.cat(k))  # after the loss
        return {"loss": loss, "teacher_entropy": teacher_entropy}
