"""Latent distribution matching, predictive (Kalman) form (Mikulasch & Zenke; fmi-basel/latent_distribution_matching).

Objective: make the distribution R(z) of encoded latents match an assumed latent model p_θ(z)
while keeping their entropy high::

    F = −KL[R(z) ‖ p_θ(z)] = E_R[log p_θ(z)] + H_R[z]

Predictive form: the encoder's outputs ``z_t`` (one per time step of a clip) are pseudo-
observations of a linear-Gaussian state-space model, filtered by a Kalman filter::

    s_pred = A (s_est − b) + b               Σ_pred = A Σ_est Aᵀ + Σ_A
    e      = z_t − D s_pred                  Σ_e    = D Σ_pred Dᵀ + Σ_D
    K      = Σ_pred Dᵀ Σ_e⁻¹
    s_est  = s_pred + K e                    Σ_est  = (I − K D) Σ_pred
    L      = Σ_t  ½ log det Σ_e + ½ eᵀ Σ_e⁻¹ e       (z_t detached in the *target* of e)

i.e. the negative log-likelihood of each latent under the model's one-step prediction — the
``E_R[log p_θ]`` term — with the entropy term in its stop-gradient form: ``z_t`` is a fixed
target when it is scored, and the encoder learns only through the prediction (the past
latents that fed the filter). A is initialised ``I + 0.1·randn`` and rescaled when its spectral
radius exceeds 1.02; Σ_A is a learned diagonal; the inverse / Cholesky run in fp32.

Choices inferred (not stated in the reference summary; the code they came from was not read):

- the filter *update* uses the live ``z_t`` (gradient flows into later predictions), only the
  scored target is detached — detaching both would leave the encoder without any gradient;
- A is rescaled to spectral radius 1.0 (``A ← A/ρ``) when ρ > 1.02, under no_grad, each
  training forward;
- D (observation matrix) is learned, initialised to I; Σ_D is a learned diagonal like Σ_A;
  both variances are parametrised by their logs and start at 1 (Σ_A) and 1 (Σ_D);
- b (the dynamics' fixed point) is learned, starts at 0; the filter starts from the prior
  ``s_est = b``, ``Σ_est = I`` and every step t = 0 … T−1 is scored (the first against the prior);
- the loss is the sum over time, the mean over clips (the formula's Σ_t), plus nothing else;
  ``entropy="logdet"`` optionally adds ``−λ · ½ log det Cov(z)`` (the VICReg-like estimator the
  authors list) for callers who want an explicit entropy term; off by default;
- a linear projection (``embed_dim → dim``, dim 32) maps clip/frame embeddings to the latent.

Input: per-step embeddings ``student_out.extra["sequence"]`` ``[B, T, D]``. ``needs_sequence``
makes the toolkit's trainer supply them: every frame of each global view encoded on its own (one
batched ``encode_video`` call on ``[B·T, 1, 3, H, W]``), so ``z_t`` sees frame t only and the filter
predicts it from the past — the global views' clips are the sequences (2B of them per batch).
Standalone callers without a sequence get the student's views in order as the time steps.
"""

from __future__ import annotations

import torch
from torch import nn

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.ssl_common import float32


class LatentDistributionMatching(Objective):
    needs_teacher = False
    needs_concepts = False
    needs_sequence = True

    def __init__(self, embed_dim: int, dim: int = 32, head: bool = True, init_noise: float = 0.1,
                 max_radius: float = 1.02, entropy: str | None = None, entropy_weight: float = 1.0,
                 jitter: float = 1e-5):
        super().__init__()
        if not head:
            dim = embed_dim
        self.head = nn.Linear(embed_dim, dim) if head else nn.Identity()
        self.A = nn.Parameter(torch.eye(dim) + init_noise * torch.randn(dim, dim))
        self.b = nn.Parameter(torch.zeros(dim))
        self.D = nn.Parameter(torch.eye(dim))
        self.log_var_A = nn.Parameter(torch.zeros(dim))
        self.log_var_D = nn.Parameter(torch.zeros(dim))
        self.max_radius, self.jitter = max_radius, jitter
        if entropy not in (None, "logdet"):
            raise ValueError(f"unknown entropy estimator {entropy!r}; known: None, 'logdet'")
        self.entropy, self.entropy_weight = entropy, entropy_weight
        self.dim = dim
        with torch.no_grad():
            self.constrain_()

    @classmethod
    def build(cls, concepts=None, embed_dim: int | None = None, **kwargs) -> "LatentDistributionMatching":
        if embed_dim is None:
            raise ValueError("the ldm objective needs embed_dim")
        return cls(embed_dim, **kwargs)

    @torch.no_grad()
    def constrain_(self) -> float:
        """Rescale A to spectral radius 1 when it exceeds ``max_radius``; returns the radius before."""
        rho = float(torch.linalg.eigvals(self.A.detach().float()).abs().max())
        if rho > self.max_radius:
            self.A.mul_(1.0 / rho)
        return rho

    def filter_nll(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Σ_t mean_B NLL_t, per-step mean NLL [T])`` of latents ``z [B, T, d]`` under the filter."""
        z = float32(z)
        bsz, steps, d = z.shape
        A, b, D = float32(self.A), float32(self.b), float32(self.D)
        QA, QD = torch.diag(self.log_var_A.float().exp()), torch.diag(self.log_var_D.float().exp())
        eye = torch.eye(d, device=z.device)
        s = b.expand(bsz, d)
        P = eye
        per_step = []
        for t in range(steps):
            s_pred = (s - b) @ A.T + b
            P_pred = A @ P @ A.T + QA
            S = D @ P_pred @ D.T + QD
            S = 0.5 * (S + S.T) + self.jitter * eye
            L = torch.linalg.cholesky(S)
            pred = s_pred @ D.T
            e_target = z[:, t].detach() - pred          # the scored innovation: z_t is a fixed target
            e_update = z[:, t] - pred                    # the filter's update sees the live latent
            sol = torch.cholesky_solve(e_target.unsqueeze(-1), L).squeeze(-1)
            logdet = 2 * torch.log(torch.diagonal(L)).sum()
            nll = 0.5 * logdet + 0.5 * (e_target * sol).sum(dim=1)
            per_step.append(nll.mean())
            K = torch.cholesky_solve(D @ P_pred, L).T    # Σ_pred Dᵀ Σ_e⁻¹ (Σ_e, Σ_pred symmetric)
            s = s_pred + e_update @ K.T
            P = (eye - K @ D) @ P_pred
            P = 0.5 * (P + P.T)
        per_step_t = torch.stack(per_step)
        return per_step_t.sum(), per_step_t.detach()

    def sequence(self, student_out: ViewOutputs, batch: dict | None) -> torch.Tensor:
        seq = student_out.extra.get("sequence") if student_out.extra else None
        if seq is None and batch:
            seq = batch.get("sequence")
        if seq is None:
            seq = torch.stack(student_out.embeddings, dim=1)  # views stand in for time steps
        return seq

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None = None, batch: dict | None = None) -> dict:
        seq = self.sequence(student_out, batch)
        if seq.shape[1] < 2:
            raise ValueError("latent distribution matching needs sequences of at least 2 steps")
        rho = self.constrain_() if self.training else float("nan")
        z = self.head(seq)
        loss, per_step = self.filter_nll(z)
        out = {"nll_first": per_step[0], "nll_last": per_step[-1], "radius_A": torch.tensor(rho)}
        if self.entropy == "logdet":
            flat = float32(z).reshape(-1, z.shape[-1])
            cov = torch.cov(flat.T) + 1e-4 * torch.eye(flat.shape[1], device=flat.device)
            ent = 0.5 * torch.logdet(cov)
            loss = loss - self.entropy_weight * ent
            out["entropy"] = ent.detach()
        out["loss"] = loss
        return out
