"""The LSS objective: concept distillation in the action and attribute spaces + concept alignment.

    L = L_CD(actions) + L_CD(attributes) + λ_align · L_CA

``L_CD`` is :class:`~videossl.objectives.concept_distillation.ConceptDistillation` (one centre per
matrix), ``L_CA`` is :class:`~videossl.objectives.concept_alignment.ConceptAlignment`, whose text
target (the teacher's action distribution) uses the action distillation's centre so both terms
read the teacher the same way. LSS distils in both concept spaces; the equal weighting
(λ_align = 1) is our choice. The text-space term of ``ConceptAlignment`` is not in the paper and
off by default (``text_weight=0``).
"""

from __future__ import annotations

import torch

from videossl.objectives.base import Objective, ViewOutputs
from videossl.objectives.concept_alignment import ConceptAlignment
from videossl.objectives.concept_distillation import DEFAULT_LOGIT_SCALE, ConceptDistillation


class ConceptObjective(Objective):
    needs_teacher = True
    needs_concepts = True

    def __init__(self, actions: torch.Tensor, attributes: torch.Tensor, incidence: torch.Tensor,
                 teacher_temp: float = 0.04, student_temp: float = 0.1, center_momentum: float = 0.9,
                 align_weight: float = 1.0, text_weight: float = 0.0, logit_scale: float = DEFAULT_LOGIT_SCALE,
                 align_target: str = "teacher"):
        super().__init__()
        self.actions = ConceptDistillation(actions, teacher_temp, student_temp, center_momentum, logit_scale)
        self.attributes = ConceptDistillation(attributes, teacher_temp, student_temp, center_momentum, logit_scale)
        self.align = ConceptAlignment(actions, attributes, incidence, student_temp, teacher_temp, text_weight,
                                      logit_scale, align_target)
        self.align_weight = align_weight

    @classmethod
    def build(cls, concepts=None, embed_dim: int | None = None, **kwargs) -> "ConceptObjective":
        """From the matrices of :func:`videossl.concepts.embed_concepts` (``actions``, ``attributes``,
        ``incidence`` attributes or keys)."""
        if concepts is None:
            raise ValueError("the concept objective needs a concept space (--concepts)")
        get = (lambda k: concepts[k]) if isinstance(concepts, dict) else (lambda k: getattr(concepts, k))
        return cls(get("actions"), get("attributes"), get("incidence"), **kwargs)

    def forward(self, student_out: ViewOutputs, teacher_out: ViewOutputs | None, batch: dict | None = None) -> dict:
        center = self.actions.center.clone()  # before this step's update, as the distillation used it
        act = self.actions(student_out, teacher_out, batch)
        att = self.attributes(student_out, teacher_out, batch)
        ali = self.align(student_out, teacher_out, batch, center=center)
        loss = act["loss"] + att["loss"] + self.align_weight * ali["loss"]
        return {"loss": loss, "cd_action": act["loss"], "cd_attribute": att["loss"],
                "attr_loss": ali["attr_loss"], "text_loss": ali.get("text_loss", torch.zeros(())),
                "teacher_entropy": act["teacher_entropy"], "concepts_used": act["concepts_used"]}
