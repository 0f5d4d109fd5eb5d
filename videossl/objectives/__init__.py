"""Training objectives, by name: ``build_objective("concept", concepts=..., embed_dim=...)``.

Every objective follows :class:`videossl.objectives.base.Objective`: called as
``objective(student_out, teacher_out, batch) -> {"loss": ..., <logged scalars>}`` with
:class:`~videossl.objectives.base.ViewOutputs` per network. To add one (ressl, spectral, ldm,
infonce, byol): write a module with a class that has ``needs_teacher``, ``needs_concepts`` and a
``build(concepts=None, embed_dim=None, **kwargs)`` classmethod, and add a line to ``OBJECTIVES``.
Modules are imported only when their objective is built.
"""

from __future__ import annotations

import importlib

from videossl.objectives.base import Objective, ViewOutputs

# name -> "module:Class"
OBJECTIVES: dict[str, str] = {
    "concept": "videossl.objectives.concept:ConceptObjective",  # distillation (actions + attributes) + alignment
    "concept-distillation": "videossl.objectives.concept:ConceptObjective",
    "ressl": "videossl.objectives.ressl:ReSSL",  # relational: weak-view teacher relation over a queue
    "spectral": "videossl.objectives.spectral:SpectralContrastive",  # HaoChen et al. 2021
    "ldm": "videossl.objectives.ldm:LatentDistributionMatching",  # predictive Kalman form
    "infonce": "videossl.objectives.infonce:InfoNCE",  # SimCLR NT-Xent
    "byol": "videossl.objectives.byol:BYOL",  # negative-free reference
}


def list_objectives() -> list[str]:
    return sorted(OBJECTIVES)


def get_objective_class(name: str) -> type:
    if name not in OBJECTIVES:
        raise KeyError(f"unknown objective {name!r}; known: {', '.join(list_objectives())}")
    module, cls = OBJECTIVES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def build_objective(name: str, concepts=None, embed_dim: int | None = None, **kwargs) -> Objective:
    """An objective instance; ``concepts`` holds the embedded concept matrices when it needs them."""
    cls = get_objective_class(name)
    if name == "concept-distillation":
        kwargs.setdefault("align_weight", 0.0)
    return cls.build(concepts=concepts, embed_dim=embed_dim, **kwargs)


__all__ = ["OBJECTIVES", "Objective", "ViewOutputs", "build_objective", "get_objective_class", "list_objectives"]
