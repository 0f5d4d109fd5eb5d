"""The training loop: student + EMA teacher, multi-view clips, any objective from the registry.

Read top to bottom (DINO's ``train_one_epoch`` / nanoGPT's ``train.py``):

1. distributed set-up (``torchrun`` → one process per device; gloo on CPU; none without torchrun);
2. model, frozen parts, teacher copy, concept matrices, objective, AdamW;
3. ``--resume``: restore the last complete checkpoint; the data stream restarts at its step;
4. per step: lr, weight decay (DINO's cosine 0.04 → 0.4, precomputed per step, weights only) and
   teacher momentum from the schedules → teacher forward on the
   global views (no grad; ReSSL: its own weak views) → student forward on all views (LDM: the
   global views' frames one by one, ``[B, T, D]``) → loss → stop on NaN/inf →
   backward → clip → step → EMA → log → checkpoint every ``ckpt_every`` steps;
5. the teacher's weights (DINO/SVT evaluate the teacher) exported to ``RUN/model.safetensors``.

Only the parameters ``encode_video`` actually uses are trained (found once by a probe
forward/backward); the text tower that embedded the concepts stays frozen, so the concept space
the objective scores against is the one the model's ``encode_text`` writes in.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from videossl.dist import setup_distributed  # shared with extract and unitrack eval
from videossl.objectives import ViewOutputs, build_objective, get_objective_class
from videossl.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, trainable_state
from videossl.train.data import MultiViewClips, ResumableBatchSampler, collate_views, list_videos
from videossl.train.schedule import cosine_scheduler, ema_update, lr_at, momentum_at
from videossl.train.views import ViewConfig
from videossl.utils import (MetricLogger, atomic_write_json, autocast_for, machine_info, resolve_device,
                            save_safetensors_atomic)


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the message names the step and the last good checkpoint."""


@dataclass
class TrainConfig:
    data: str | list[str]            # folder(s) of videos / frame folders, or CSV(s) of path,label
    out: str
    concepts: str | dict | None = None   # prompts JSON, or precomputed {actions, attributes, incidence}
    model: str = "videossl-tiny"
    pretrained: str | None = None
    objective: str = "concept"
    steps: int = 1000
    batch_size: int = 8              # clips per process
    lr: float = 5e-4                 # at batch 256 (DINO's linear scaling rule: lr · B_total / 256)
    min_lr: float = 1e-6
    warmup: int = 100
    weight_decay: float = 0.04       # at step 0; cosine to weight_decay_end (DINO: 0.04 → 0.4)
    weight_decay_end: float = 0.4
    clip_grad: float = 3.0
    momentum_teacher: float = 0.996
    frames: int | None = None        # global-view frames; default: the model's
    size: int | None = None          # global-view side in pixels; default: the model's input size
    n_local: int = 8
    frame_stride: int = 4
    workers: int = 2
    ckpt_every: int = 200
    keep_ckpts: int = 2              # checkpoints kept (oldest deleted first); 0 keeps every one
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    resume: bool = False
    stop_after: int | None = None    # stop (as if killed) after this step; the schedule still spans `steps`
    progress: bool = True            # a progress bar (tqdm; off when stderr is not a terminal)
    objective_kwargs: dict = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)  # options of the model's config (create_model overrides)


class MultiViewEncoder(nn.Module):
    """``forward(views) -> [B, D] per view``, one ``encode_video`` call per view shape (DINO's
    multi-crop habit: views of one resolution share a forward). Gives DDP the ``forward`` it wraps."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, views: list[torch.Tensor], per_frame: bool = False) -> list[torch.Tensor]:
        """``[B, D]`` per view, or with ``per_frame`` ``[B, T, D]``: every frame encoded as a one-frame
        clip (one batched call per view shape; the per-step latents of LDM)."""
        if per_frame:
            return [self.model.encode_video(v.flatten(0, 1).unsqueeze(1)).view(v.shape[0], v.shape[1], -1)
                    for v in views]
        out: list[torch.Tensor | None] = [None] * len(views)
        groups: dict[tuple, list[int]] = {}
        for i, v in enumerate(views):
            groups.setdefault(tuple(v.shape), []).append(i)
        for idx in groups.values():
            emb = self.model.encode_video(torch.cat([views[i] for i in idx]))
            for i, chunk in zip(idx, emb.chunk(len(idx))):
                out[i] = chunk
        return out


def trained_parameter_names(model: nn.Module, cfg: ViewConfig, device: torch.device) -> set[str]:
    """Names of the parameters ``encode_video`` uses (probe forward/backward on one random clip)."""
    h, w = cfg.local_size
    x = torch.randn(1, min(2, cfg.global_frames), 3, h, w, device=device)
    model.zero_grad(set_to_none=True)
    model.encode_video(x).float().pow(2).mean().backward()
    names = {n for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return names


def concept_matrices(concepts: str | dict, model: nn.Module, device: torch.device) -> dict:
    """Action / attribute matrices and incidence, embedded once with the model's text tower
    (or given directly as a dict of tensors)."""
    if isinstance(concepts, dict):
        m = concepts
    else:
        from videossl.concepts import embed_concepts, load_concepts

        # the model's own text tower when it has one, else the default sentence encoder (MiniLM)
        m = embed_concepts(load_concepts(concepts), model if getattr(model, "has_text", False) else None)
        dim = torch.as_tensor(m["actions"]).shape[-1]
        if dim != model.embed_dim:
            from videossl.errors import InputError

            raise InputError(concepts, f"concepts embed to {dim} dimensions but the model's clip embedding has "
                                       f"{model.embed_dim} (it has no text tower of its own)")
    get = (lambda k: m[k]) if isinstance(m, dict) else (lambda k: getattr(m, k))
    return {k: torch.as_tensor(get(k)).float().to(device) for k in ("actions", "attributes", "incidence")}


@dataclass
class Parts:
    """Everything a step needs, built once (shared by :func:`train` and ``eval/bench_train.py``)."""

    student: nn.Module
    teacher: nn.Module
    encoder: nn.Module           # MultiViewEncoder(student), DDP-wrapped when world > 1
    teacher_encoder: nn.Module
    objective: nn.Module
    optimizer: torch.optim.Optimizer
    views_cfg: ViewConfig
    trained: set[str]
    frozen: set[str]


def build_parts(cfg: TrainConfig, device: torch.device, world: int = 1) -> Parts:
    """Student (trained parameters found by a probe), frozen teacher copy, objective, AdamW."""
    from videossl.models import create_model

    student = create_model(cfg.model, pretrained=cfg.pretrained, device=str(device), **cfg.model_kwargs)
    obj_cls = get_objective_class(cfg.objective)
    views_cfg = ViewConfig.for_model(student, frames=cfg.frames, n_local=cfg.n_local, size=cfg.size,
                                     frame_stride=cfg.frame_stride)
    if getattr(obj_cls, "teacher_views", "global") == "weak":
        views_cfg.n_weak = views_cfg.n_global  # ReSSL: the teacher's own weakly augmented views
    if getattr(obj_cls, "needs_sequence", False):
        views_cfg.n_local = 0  # LDM scores the global views' frame sequences only
    trained = trained_parameter_names(student, views_cfg, device)
    frozen = {n for n, _ in student.named_parameters()} - trained
    for n, p in student.named_parameters():
        p.requires_grad_(n in trained)
    teacher = copy.deepcopy(student).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    concepts = concept_matrices(cfg.concepts, student, device) if getattr(obj_cls, "needs_concepts", False) else None
    objective = build_objective(cfg.objective, concepts=concepts, embed_dim=student.embed_dim,
                                **cfg.objective_kwargs).to(device)
    encoder = MultiViewEncoder(student)
    if world > 1:
        encoder = nn.parallel.DistributedDataParallel(encoder, device_ids=[device.index] if device.type == "cuda" else None)
    # the student's trained parameters and the objective's own (projection heads of ressl/byol/...)
    params = [p for p in student.parameters() if p.requires_grad] + [p for p in objective.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]  # biases, norms: no decay
    # group 0 (weights) follows the weight-decay schedule, group 1 (biases, norms) has none: DINO's
    # get_params_groups / "if i == 0: param_group['weight_decay'] = wd_schedule[it]"
    optimizer = torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}], lr=0.0,
                                  weight_decay=cfg.weight_decay)
    return Parts(student, teacher, encoder, MultiViewEncoder(teacher), objective, optimizer, views_cfg, trained, frozen)


def update_step(cfg: TrainConfig, parts: Parts, batch: dict, step: int, momentum: float, device: torch.device,
                rank: int = 0, world: int = 1, last_good: str | None = None) -> tuple[dict, float, float]:
    """One optimisation step: teacher (no grad) → student → loss → NaN check → backward → clip → AdamW → EMA."""
    torch.manual_seed(cfg.seed * 1_000_003 + step * 1009 + rank)  # dropout etc.: a function of the step
    views = [v.to(device, non_blocking=True) for v in batch["views"]]
    n_global, n_weak = parts.views_cfg.n_global, parts.views_cfg.n_weak
    objective, optimizer = parts.objective, parts.optimizer
    student_views = views[:len(views) - n_weak]
    teacher_views = views[len(views) - n_weak:] if n_weak else views[:n_global]
    with autocast_for(device, cfg.amp):
        teacher_out = None
        if objective.needs_teacher:
            with torch.no_grad():
                teacher_out = ViewOutputs(parts.teacher_encoder(teacher_views), len(teacher_views))
        if getattr(objective, "needs_sequence", False):  # LDM: per-frame latents of the global views
            seq = torch.cat(parts.encoder(views[:n_global], per_frame=True))
            student_out = ViewOutputs([seq.mean(1)], 1, extra={"sequence": seq})
        else:
            student_out = ViewOutputs(parts.encoder(student_views), n_global)
        out = objective(student_out, teacher_out, {"labels": batch["labels"], "step": step})
    loss = out["loss"].float()
    finite = torch.isfinite(loss.detach()).float().reshape(1)
    if world > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)  # every rank stops at the same step
    if finite.item() == 0:
        where = last_good or "none yet (no checkpoint was written before this step)"
        raise TrainingDiverged(f"loss is {loss.item()} at step {step}; last good checkpoint: {where}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    head_params = [p for p in objective.parameters() if p.grad is not None]
    if world > 1 and head_params:  # heads live outside DDP: average their gradients by hand
        for p in head_params:
            dist.all_reduce(p.grad)
            p.grad /= world
    params = [p for p in parts.student.parameters() if p.grad is not None] + head_params
    grad_norm = nn.utils.clip_grad_norm_(params, cfg.clip_grad) if cfg.clip_grad > 0 else torch.zeros(())
    optimizer.step()
    ema_update(parts.teacher, parts.student, momentum, parts.trained)
    return out, loss.item(), float(grad_norm)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training; returns a summary dict. Raises TrainingDiverged on NaN/inf."""
    # 1. processes and devices
    device = resolve_device(cfg.device)
    rank, world, device = setup_distributed(device)
    main = rank == 0
    torch.manual_seed(cfg.seed)
    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)

    # 2. model, teacher, concepts, objective, optimizer
    parts = build_parts(cfg, device, world)
    student, teacher, objective, optimizer = parts.student, parts.teacher, parts.objective, parts.optimizer
    views_cfg, trained, frozen = parts.views_cfg, parts.trained, parts.frozen
    base_lr = cfg.lr * cfg.batch_size * world / 256
    wd_schedule = cosine_scheduler(cfg.weight_decay, cfg.weight_decay_end, cfg.steps)

    # 3. resume
    start, skipped = 0, {}
    ckpt = latest_checkpoint(run) if cfg.resume else None
    if ckpt is not None:
        state = load_checkpoint(ckpt, student, teacher, objective, optimizer, frozen, device)
        start, skipped = int(state["step"]), dict(state.get("skipped", {}))
        if main:
            print(f"resumed from {ckpt['weights']} at step {start}", file=sys.stderr)
    last_good = str(ckpt["weights"]) if ckpt else None
    if main:
        atomic_write_json(run / "config.json", {**dataclasses.asdict(cfg), "world_size": world,
                                               "concepts": cfg.concepts if isinstance(cfg.concepts, str) else "<matrices>",
                                               "machine": machine_info()})

    items = [it for d in ([cfg.data] if isinstance(cfg.data, str) else cfg.data) for it in list_videos(d)]
    dataset = MultiViewClips(items, views_cfg)
    end = cfg.steps if cfg.stop_after is None else min(cfg.steps, cfg.stop_after)
    sampler = ResumableBatchSampler(len(items), cfg.batch_size, cfg.seed, start, rank, world, max_steps=end)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_views,
                                         num_workers=cfg.workers, persistent_workers=False,
                                         pin_memory=device.type == "cuda")
    logger = MetricLogger(run, resume_step=start) if main else None  # steps after `start` are redone
    bar = None
    if main:
        from tqdm import tqdm

        bar = tqdm(total=end, initial=start, desc="train", dynamic_ncols=True, disable=None if cfg.progress else True)

    # 4. the loop
    student.train()
    objective.train()
    step, t0, clips, losses = start, time.time(), 0, []
    for batch in loader:
        for path, err in batch["skipped"]:
            if path not in skipped and main:
                print(f"warning: skipping unreadable video {path}: {err}", file=sys.stderr)
            skipped[path] = err
        step += 1
        lr = lr_at(step - 1, cfg.steps, base_lr, cfg.min_lr, cfg.warmup)
        momentum = momentum_at(step - 1, cfg.steps, cfg.momentum_teacher)
        wd = float(wd_schedule[min(step - 1, cfg.steps - 1)])
        for i, g in enumerate(optimizer.param_groups):
            g["lr"] = lr
            if i == 0:
                g["weight_decay"] = wd
        has_data = torch.tensor([float(batch["size"] > 0)], device=device)
        if world > 1:
            dist.all_reduce(has_data, op=dist.ReduceOp.MIN)
        if has_data.item() > 0:  # else every clip of this batch (on some rank) was unreadable: no update
            out, loss, grad_norm = update_step(cfg, parts, batch, step, momentum, device, rank, world, last_good)
            clips += batch["size"] * world
            losses.append(loss)
            if main and (step % cfg.log_every == 0 or step == end):
                dt = max(1e-9, time.time() - t0)
                logger.log(step, loss=loss, lr=lr, wd=wd, momentum=momentum, grad_norm=grad_norm,
                           clips_per_s=clips / dt, skipped_videos=len(skipped),
                           **{k: float(v.detach()) for k, v in out.items() if k != "loss"})
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
        if bar is not None:
            bar.update(1)
        if step % cfg.ckpt_every == 0 or step == end:
            if main:
                last_good = str(save_checkpoint(run, step, student, teacher, objective, optimizer, frozen,
                                                extra={"skipped": skipped}, keep=cfg.keep_ckpts))
            if world > 1:
                dist.barrier()

    # 5. export the teacher
    if bar is not None:
        bar.close()
    summary = {"step": step, "steps": cfg.steps, "rank": rank, "skipped_videos": len(skipped),
               "seconds": round(time.time() - t0, 1),
               "first_loss": losses[0] if losses else math.nan, "last_loss": losses[-1] if losses else math.nan}
    if main:
        if step >= cfg.steps:
            save_safetensors_atomic(trainable_state(teacher, frozen), run / "model.safetensors",
                                    metadata={"model": cfg.model, "objective": cfg.objective, "steps": str(step)})
        logger.close()
        if skipped:
            print(f"skipped {len(skipped)} unreadable video(s); see warnings above", file=sys.stderr)
    if world > 1:
        dist.barrier()
    return summary
