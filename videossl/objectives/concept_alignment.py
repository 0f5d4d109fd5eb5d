"""Concept alignment: the action and attribute readings of a clip must agree, and the clip
embedding must stay in the text space.

With the fixed, L2-normalised action matrix ``E_act ∈ R^{C×D}``, attribute matrix
``E_att ∈ R^{A×D}`` and the LLM-written incidence ``M ∈ {0,1}^{C×A}`` (action c lists
attribute a), for every student view ``z``:

    p_act = softmax(s(z, E_act) / τ_s)                               ∈ Δ^C
    p_att = softmax(s(z, E_att) / τ_s)                               ∈ Δ^A
    q     = p_act · M̂,     M̂[c, a] = M[c, a] / Σ_a' M[c, a']         ∈ Δ^A   (row-normalised)

    L_attr = mean_{batch, views}[ −Σ_a q[a] · log p_att[a] ]          (cross-entropy H(q, p_att))

i.e. "if the clip looks like *abseiling*, it should also look like *rope*, *cliff*,
*descending*". Actions with no attributes have a zero row in M; ``q`` is renormalised over
the mass that does map (``q / Σ q``), so an action without attributes neither helps nor hurts.

Text-space term. Distillation only constrains the *direction* of ``z`` relative to the concept
rows through a softmax, which is invariant to adding any vector orthogonal to all of them; over a
long run the embedding can drift out of the span the text tower writes in and zero-shot with
``encode_text`` degrades. The teacher's concept distribution of the same clip names a point in
the text space, its expected concept embedding ``ē = p_t · E_act`` (no gradient), and

    L_text = mean_{batch, student views}[ 1 − cos(z_w, ē) ]      with ē from the teacher's global
                                                                     views (averaged over them)

    L_CA = L_attr + λ_text · L_text

From the paper (LSS "concept alignment"): tying the action-concept reading to the attribute
concepts the language model wrote for each action, and keeping the video feature aligned with
the language space. Inferred: the exact form — mapping through the row-normalised incidence and
a cross-entropy (gradient flows into both p_act and p_att), the teacher-weighted text target, the
student temperature for both readings, λ_text = 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.concept_distillation import concept_scores


def row_normalise(incidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``M̂`` (rows summing to 1, zero rows kept at zero) and the mask of actions with ≥ 1 attribute."""
    m = incidence.detach().float().clamp_min(0)
    row = m.sum(1, keepdim=True)
    return m / row.clamp_min(1e-12), row.squeeze(1) > 0


class ConceptAlignment(Objective):
    """``L_CA`` above. ``teacher_out`` may be ``None``: then only ``L_attr`` is computed."""

    def __init__(self, actions: torch.Tensor, attributes: torch.Tensor, incidence: torch.Tensor,
                 student_temp: float = 0.1, teacher_temp: float = 0.04, text_weight: float = 1.0):
        super().__init__()
        if incidence.shape != (actions.shape[0], attributes.shape[0]):
            raise ValueError(f"incidence must be [C={actions.shape[0]}, A={attributes.shape[0]}], got {tuple(incidence.shape)}")
        m_hat, has_attr = row_normalise(incidence)
        if not bool(has_attr.any()):
            raise ValueError("no action has any attribute: the incidence matrix is all zero")
        self.register_buffer("actions", F.normalize(actions.detach().float(), dim=-1))
        self.register_buffer("attributes", F.normalize(attributes.detach().float(), dim=-1))
        self.register_buffer("incidence", m_hat)
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.text_weight = text_weight

    def attribute_agreement(self, z: torch.Tensor) -> torch.Tensor:
        """``H(q, p_att)`` per sample ``[B]`` for embeddings ``z`` ``[B, D]``."""
        p_act = F.softmax(concept_scores(z, self.actions) / self.student_temp, dim=-1)
        q = p_act @ self.incidence
        q = q / q.sum(-1, keepdim=True).clamp_min(1e-12)
        logp_att = F.log_softmax(concept_scores(z, self.attributes) / self.student_temp, dim=-1)
        return -(q * logp_att).sum(-1)

    def text_target(self, teacher_views: list[torch.Tensor], center: torch.Tensor | None = None) -> torch.Tensor:
        """``ē``: the teacher's expected action-concept embedding, averaged over its global views."""
        with torch.no_grad():
            c = 0.0 if center is None else center
            targets = [F.softmax((concept_scores(t, self.actions) - c) / self.teacher_temp, dim=-1) @ self.actions
                       for t in teacher_views]
            return F.normalize(torch.stack(targets).mean(0), dim=-1)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None, batch: dict | None = None,
                center: torch.Tensor | None = None) -> dict:
        l_attr = torch.stack([self.attribute_agreement(z).mean() for z in student_out.embeddings]).mean()
        out = {"attr_loss": l_attr}
        loss = l_attr
        if teacher_out is not None and self.text_weight > 0:
            target = self.text_target(teacher_out.global_views, center)
            l_text = torch.stack([(1 - F.cosine_similarity(z.float(), target, dim=-1)).mean()
                                  for z in student_out.embeddings]).mean()
            out["text_loss"] = l_text
            loss = loss + self.text_weight * l_text
        out["loss"] = loss
        return out
