"""Concept alignment: the teacher's action reading, mapped to attributes, is the target of the
student's attribute reading.

With the fixed, L2-normalised action matrix ``E_act ∈ R^{C×D}``, attribute matrix
``E_att ∈ R^{A×D}``, the LLM-written incidence ``M ∈ {0,1}^{C×A}`` (action c lists attribute a),
the action distillation's centre ``c`` and the logit scale ``κ`` (see
:mod:`~videossl.objectives.concept_distillation`):

    p_t^v = softmax(κ (s(t_v, E_act) − c) / τ_t)        teacher global view v, no gradient
    q^v   = p_t^v · M̂ / Σ(p_t^v · M̂),   M̂[c, a] = M[c, a] / Σ_a' M[c, a']      ∈ Δ^A
    p_s^w = softmax(κ s(z_w, E_att) / τ_s)               every student view w

    L_CA  = 1/|P| · Σ_{(v,w) ∈ P} mean_batch[ −Σ_a q^v[a] · log p_s^w[a] ]
    P     = {(v, w) : v a global view, w any view, w ≠ v}      (the distillation's pairs)

i.e. "the teacher reads the clip as *abseiling*, so the student should read *rope*, *cliff*,
*descending* in it". Actions with no attributes have a zero row in M; ``q`` is renormalised over
the mass that does map, so an action without attributes neither helps nor hurts.

Why the target is the teacher's (no gradient). The earlier form took ``q`` from the *student's*
own action distribution with gradient through it. Minimising H(q, p_att) then also moves ``q``:
mass flows to the actions whose (few) attributes the student already reads most sharply — an
action with one attribute gives a low-entropy ``q`` that is cheap to match. On a toy with actions
of 1, 4 and 12 attributes the 1-attribute action's share rose from 18 % to 44 % while the others
fell to 0 (tests/test_lss_faithful.py). With the teacher's centred, sharpened distribution as a
fixed target (DINO/SVT/LSS habit: the teacher side carries no gradient) the shares stay balanced.
``target="student"`` keeps the old form by name, for that ablation only.

Text-space term (not in the paper; off by default). ``text_weight > 0`` adds
``λ_text · mean_w[1 − cos(z_w, ē)]`` with ``ē = normalize(mean_v p_t^v · E_act)`` (no gradient): it
pulls the clip embedding towards the teacher's expected action embedding, against drift out of the
text span. It is our addition and stays opt-in (``--objective-arg text_weight=1``).

From the paper (LSS "concept alignment"): tying the action reading to the attributes the language
model wrote for each action. Inferred (the paper's text and code could not be consulted here): the
row-normalised incidence, the cross-entropy, the distillation's view pairs and temperatures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.concept_distillation import DEFAULT_LOGIT_SCALE, concept_scores


def row_normalise(incidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``M̂`` (rows summing to 1, zero rows kept at zero) and the mask of actions with ≥ 1 attribute."""
    m = incidence.detach().float().clamp_min(0)
    row = m.sum(1, keepdim=True)
    return m / row.clamp_min(1e-12), row.squeeze(1) > 0


class ConceptAlignment(Objective):
    """``L_CA`` above. ``teacher_out`` may be ``None`` only with ``target="student"``."""

    def __init__(self, actions: torch.Tensor, attributes: torch.Tensor, incidence: torch.Tensor,
                 student_temp: float = 0.1, teacher_temp: float = 0.04, text_weight: float = 0.0,
                 logit_scale: float = DEFAULT_LOGIT_SCALE, target: str = "teacher"):
        super().__init__()
        if incidence.shape != (actions.shape[0], attributes.shape[0]):
            raise ValueError(f"incidence must be [C={actions.shape[0]}, A={attributes.shape[0]}], got {tuple(incidence.shape)}")
        if target not in ("teacher", "student"):
            raise ValueError(f"target must be 'teacher' (the paper's) or 'student' (ablation), got {target!r}")
        m_hat, has_attr = row_normalise(incidence)
        if not bool(has_attr.any()):
            raise ValueError("no action has any attribute: the incidence matrix is all zero")
        self.register_buffer("actions", F.normalize(actions.detach().float(), dim=-1))
        self.register_buffer("attributes", F.normalize(attributes.detach().float(), dim=-1))
        self.register_buffer("incidence", m_hat)
        self.student_temp, self.teacher_temp = student_temp, teacher_temp
        self.text_weight, self.logit_scale, self.target = text_weight, logit_scale, target

    def _to_attributes(self, p_act: torch.Tensor) -> torch.Tensor:
        q = p_act @ self.incidence
        return q / q.sum(-1, keepdim=True).clamp_min(1e-12)

    def teacher_action_probs(self, teacher_views: list[torch.Tensor], center: torch.Tensor | None) -> list[torch.Tensor]:
        """``p_t^v`` per teacher global view, centred and sharpened, without gradient."""
        with torch.no_grad():
            c = 0.0 if center is None else center
            return [F.softmax(self.logit_scale * (concept_scores(t, self.actions) - c) / self.teacher_temp, dim=-1)
                    for t in teacher_views]

    def attribute_targets(self, teacher_views: list[torch.Tensor], center: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``q^v``: the teacher's action distribution mapped to attributes (no gradient)."""
        return [self._to_attributes(p) for p in self.teacher_action_probs(teacher_views, center)]

    def student_attribute_logp(self, z: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.logit_scale * concept_scores(z, self.attributes) / self.student_temp, dim=-1)

    def attribute_agreement(self, z: torch.Tensor) -> torch.Tensor:
        """The ``target="student"`` ablation: ``H(q(z), p_att(z))`` per sample ``[B]``, gradient through both."""
        p_act = F.softmax(self.logit_scale * concept_scores(z, self.actions) / self.student_temp, dim=-1)
        return -(self._to_attributes(p_act) * self.student_attribute_logp(z)).sum(-1)

    def text_target(self, teacher_views: list[torch.Tensor], center: torch.Tensor | None = None) -> torch.Tensor:
        """``ē``: the teacher's expected action-concept embedding, averaged over its global views."""
        probs = self.teacher_action_probs(teacher_views, center)
        return F.normalize(torch.stack([p @ self.actions for p in probs]).mean(0), dim=-1)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None, batch: dict | None = None,
                center: torch.Tensor | None = None) -> dict:
        if self.target == "student":
            l_attr = torch.stack([self.attribute_agreement(z).mean() for z in student_out.embeddings]).mean()
        else:
            if teacher_out is None:
                raise ValueError("concept alignment needs the teacher's global views (its target)")
            targets = self.attribute_targets(teacher_out.global_views, center)
            logp = [self.student_attribute_logp(z) for z in student_out.embeddings]
            terms = [torch.sum(-q * lp, dim=-1).mean() for v, q in enumerate(targets)
                     for w, lp in enumerate(logp) if w != v]  # a global view is never its own target
            if not terms:  # one view in all: nothing else to pair with, score it against itself
                terms = [torch.sum(-targets[0] * logp[0], dim=-1).mean()]
            l_attr = torch.stack(terms).mean()
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
