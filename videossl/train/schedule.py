"""Per-step schedules and the EMA teacher update (DINO's ``cosine_scheduler`` habits, by step).

Learning rate: linear warm-up from 0 to ``base_lr`` over ``warmup`` steps, then cosine to
``min_lr`` at ``total`` steps:

    lr(s) = base_lr · s / warmup                                           s < warmup
    lr(s) = min_lr + ½ (base_lr − min_lr) (1 + cos(π (s − warmup) / (total − warmup)))

Teacher momentum (DINO/SVT): cosine from ``m0`` = 0.996 to 1 over the run,

    m(s) = 1 − (1 − m0) · ½ (1 + cos(π s / total))

so the teacher follows the student closely early on and freezes as training converges.

Weight decay (DINO ``main_dino.py``): ``cosine_scheduler(0.04, 0.4, total)``, an array indexed by
the step, applied to the weights' parameter group only (biases and norms have none). Later in the
run the weights are held closer to zero, when the lr is small and the teacher nearly frozen.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def cosine_scheduler(base_value: float, final_value: float, total_steps: int, warmup_steps: int = 0,
                     start_warmup_value: float = 0.0) -> np.ndarray:
    """DINO's ``utils.cosine_scheduler`` by step: linear warm-up, then cosine from ``base_value`` to
    ``final_value``; one value per step (``schedule[step]``)."""
    warmup = np.linspace(start_warmup_value, base_value, warmup_steps) if warmup_steps > 0 else np.array([])
    iters = np.arange(max(0, total_steps - warmup_steps))
    cosine = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * iters / max(1, len(iters))))
    schedule = np.concatenate((warmup, cosine))
    assert len(schedule) == total_steps
    return schedule


def lr_at(step: int, total: int, base_lr: float, min_lr: float = 0.0, warmup: int = 0) -> float:
    if warmup > 0 and step < warmup:
        return base_lr * step / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


def momentum_at(step: int, total: int, m0: float = 0.996, m1: float = 1.0) -> float:
    progress = min(1.0, step / max(1, total))
    return m1 - (m1 - m0) * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, momentum: float,
               names: set[str] | None = None) -> None:
    """``θ_t ← m θ_t + (1 − m) θ_s`` for the trained parameters (``names``; all when None).
    Buffers (e.g. BatchNorm statistics) are copied, as DINO does implicitly by not having any."""
    s_params = dict(student.named_parameters())
    t_list, s_list = [], []
    for name, p_t in teacher.named_parameters():
        if names is None or name in names:
            t_list.append(p_t.data)
            s_list.append(s_params[name].detach().data)
    if t_list:
        torch._foreach_mul_(t_list, momentum)
        torch._foreach_add_(t_list, s_list, alpha=1 - momentum)
    s_bufs = dict(student.named_buffers())
    for name, b in teacher.named_buffers():
        if name in s_bufs and b.dtype.is_floating_point:
            b.copy_(s_bufs[name])
