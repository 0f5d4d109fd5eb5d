"""Concept distillation: DINO-style self-distillation in a fixed space of language concepts.

Instead of DINO's learned prototype head, the "prototypes" are the text embeddings of the
concepts (LSS, NeurIPS 2023, "concept distillation"): a clip embedding ``z`` becomes scores
over the ``K`` concepts by cosine similarity with the fixed, L2-normalised concept matrix
``E ∈ R^{K×D}``:

    s(z) = (z / ‖z‖) · Eᵀ                                 ∈ [-1, 1]^K

Teacher (EMA network, global views ``v``) and student (all views ``w``) distributions:

    p_t^v = softmax(κ (s(t_v) − c) / τ_t)      (sharpened by τ_t, centred by c; no gradient)
    p_s^w = softmax(κ s(z_w) / τ_s)

    L_CD = 1/|P| · Σ_{(v,w) ∈ P} mean_batch[ −Σ_k p_t^v[k] · log p_s^w[k] ]
    P    = {(v, w) : v a global view, w any view, w ≠ v}

and after each step the centre follows the teacher's mean score (all-reduced across DDP ranks):

    c ← m · c + (1 − m) · mean_{batch, global views} s(t_v)

From the paper / SVT / DINO: the cross-entropy between a centred, sharpened teacher and the
student; τ_t = 0.04, τ_s = 0.1, m = 0.9; all teacher × student view pairs except a view with
itself; the concept matrix as fixed prototypes. Inferred (the paper does not spell it out):
cosine scores (not raw dot products); one centre per concept matrix; no teacher-temperature
warm-up (the concept space is fixed and non-degenerate from step 0, unlike DINO's random prototypes).

Logit scale κ (CLIP habit). DINO's prototypes are learned, so its logits spread as far as the
temperatures need; fixed text prototypes do not: the cosines of a clip with the C action texts
sit in a band a few tenths wide (the texts are similar to each other), and at τ_t = 0.04 the
teacher stays almost flat — the shipped run needed τ_t = 0.01 to sharpen at all. CLIP scores
image against text as ``κ · cos`` with a learned κ (initialised 1/0.07); LSS scores with CLIP's
towers, so its τ_t = 0.04 / τ_s = 0.1 act on CLIP-scaled logits. κ is fixed here at CLIP's
initial 1/0.07 (``logit_scale=1`` gives the unscaled form); figures in eval/results/lss-faithful.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from videossl.objectives.base import Objective, ViewOutputs, all_reduce_mean

DEFAULT_LOGIT_SCALE = 1 / 0.07  # CLIP's initial logit scale (exp of its learned log-scale at init)


def concept_scores(z: torch.Tensor, concepts_normed: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each embedding ``[B, D]`` with each concept ``[K, D]`` → ``[B, K]``.

    Computed in fp32: with τ_t = 0.04 a bf16 rounding of the score (≈ 4e-3) would already move
    the teacher logit by 0.1.
    """
    return F.normalize(z.float(), dim=-1) @ concepts_normed.float().t()


class ConceptDistillation(Objective):
    """``L_CD`` above, against one fixed concept matrix (actions, or attributes)."""

    def __init__(self, concepts: torch.Tensor, teacher_temp: float = 0.04, student_temp: float = 0.1,
                 center_momentum: float = 0.9, logit_scale: float = DEFAULT_LOGIT_SCALE):
        super().__init__()
        if concepts.ndim != 2 or concepts.shape[0] < 2:
            raise ValueError(f"concept matrix must be [K>=2, D], got {tuple(concepts.shape)}")
        self.register_buffer("concepts", F.normalize(concepts.detach().float(), dim=-1))
        self.register_buffer("center", torch.zeros(1, concepts.shape[0]))
        self.teacher_temp = teacher_temp
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.logit_scale = logit_scale

    def teacher_probs(self, teacher_views: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Sharpened, centred teacher distributions (no gradient) and the raw scores for the centre."""
        with torch.no_grad():
            scores = [concept_scores(t, self.concepts) for t in teacher_views]
            probs = [F.softmax(self.logit_scale * (s - self.center) / self.teacher_temp, dim=-1) for s in scores]
        return probs, torch.cat(scores)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None, batch: dict | None = None) -> dict:
        teacher_probs, teacher_scores = self.teacher_probs(teacher_out.global_views)
        student_logp = [F.log_softmax(self.logit_scale * concept_scores(z, self.concepts) / self.student_temp, dim=-1)
                        for z in student_out.embeddings]
        total, n_pairs = 0.0, 0
        for v, p_t in enumerate(teacher_probs):
            for w, logp_s in enumerate(student_logp):
                if w == v:  # a global view is never its own target
                    continue
                total = total + torch.sum(-p_t * logp_s, dim=-1).mean()
                n_pairs += 1
        loss = total / n_pairs
        if self.training:
            self.update_center(teacher_scores)
        with torch.no_grad():
            p_mean = torch.cat(teacher_probs).mean(0)
            teacher_entropy = -(torch.cat(teacher_probs) * torch.cat(teacher_probs).clamp_min(1e-12).log()).sum(-1).mean()
            # exp(entropy of the mean teacher distribution): how many concepts the batch uses (collapse check)
            used = torch.exp(-(p_mean * p_mean.clamp_min(1e-12).log()).sum())
        return {"loss": loss, "teacher_entropy": teacher_entropy, "concepts_used": used}

    @torch.no_grad()
    def update_center(self, teacher_scores: torch.Tensor) -> None:
        batch_center = all_reduce_mean(teacher_scores.mean(0, keepdim=True))
        self.center.mul_(self.center_momentum).add_(batch_center * (1 - self.center_momentum))
