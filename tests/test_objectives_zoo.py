"""Self-supervised objective zoo (ReSSL, spectral, LDM, InfoNCE, BYOL), MED metric, factor clips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from videossl.objectives import ViewOutputs, build_objective
from videossl.objectives.byol import BYOL, byol_loss
from videossl.objectives.infonce import nt_xent
from videossl.objectives.ldm import LatentDistributionMatching
from videossl.objectives.ressl import ReSSL, ressl_loss
from videossl.objectives.spectral import spectral_loss

ZOO = ["ressl", "spectral", "ldm", "infonce", "byol"]


def views(tensors, n_global=None):
    return ViewOutputs(list(tensors), len(tensors) if n_global is None else n_global)


# ---------------------------------------------------------------- hand-computed values

def test_spectral_hand_value():
    z1 = torch.tensor([[2.0, 0.0], [0.0, 0.5]])   # row 0 rescaled to norm 1, row 1 kept
    z2 = torch.tensor([[0.6, 0.8], [0.0, 0.5]])
    loss, p1, p2 = spectral_loss(z1, z2, mu=1.0)
    # part1 = -(2/2)(0.6 + 0.25); part2 = ((1,0)·(0,.5))² + ((0,.5)·(.6,.8))² over 2 = 0.16/2
    assert p1.item() == pytest.approx(-0.85)
    assert p2.item() == pytest.approx(0.08)
    assert loss.item() == pytest.approx(-0.77)
    loss4, _, _ = spectral_loss(z1, z2, mu=4.0)  # √μ = 2: no row rescaled; divided by 4
    part1 = -(2 / 2) * (1.2 + 0.25)
    part2 = ((2 * 0.0) ** 2 + (0.5 * 0.8) ** 2) / 2
    assert loss4.item() == pytest.approx((part1 + part2) / 4)


def test_infonce_hand_value():
    e = torch.eye(2)
    loss, acc = nt_xent(e, e.clone(), temperature=1.0)
    # each row: positive logit 1, two negatives with logit 0 (itself excluded)
    assert loss.item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-5)
    assert acc.item() == 1.0


def test_ressl_hand_value():
    queue = torch.eye(2)
    k, q = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    loss = ressl_loss(q, k, queue, teacher_temp=1.0, student_temp=1.0)
    expect = math.log(1 + math.e) - 1 / (1 + math.e)  # −Σ p_t log p_s with p_t = softmax(1, 0)
    assert loss.item() == pytest.approx(expect, rel=1e-5)


def test_byol_hand_value():
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    t = torch.tensor([[0.0, 3.0], [1.0, 1.0]])
    assert byol_loss(p, t).item() == pytest.approx(((2 - 0) + (2 - 2 / math.sqrt(2))) / 2, rel=1e-6)


def test_ldm_hand_value_and_stop_gradient():
    obj = LatentDistributionMatching(embed_dim=1, head=False)
    with torch.no_grad():
        obj.A.fill_(0.5)
    obj.eval()  # no rescaling
    z = torch.tensor([[[0.3], [-0.7]]], requires_grad=True)       # B=1, T=2, d=1
    loss, _ = obj.filter_nll(z)
    # scalar Kalman filter, A = 0.5, b = 0, D = 1, Σ_A = Σ_D = 1, prior s = 0, P = 1
    a, z0, z1 = 0.5, 0.3, -0.7
    pp = a * a * 1 + 1; s_ = pp + 1
    nll0 = 0.5 * math.log(s_) + 0.5 * z0 ** 2 / s_
    k = pp / s_; s_est = k * z0; p = (1 - k) * pp
    pp = a * a * p + 1; s_ = pp + 1; e = z1 - a * s_est
    nll1 = 0.5 * math.log(s_) + 0.5 * e ** 2 / s_
    assert loss.item() == pytest.approx(nll0 + nll1, rel=1e-5)
    loss.backward()
    assert z.grad[0, 1, 0].item() == 0.0        # z_1 is only a (detached) target
    assert z.grad[0, 0, 0].item() != 0.0        # z_0 feeds the prediction of z_1


def test_ldm_rescales_unstable_dynamics():
    obj = LatentDistributionMatching(embed_dim=4, dim=4)
    with torch.no_grad():
        obj.A.copy_(2.0 * torch.eye(4))
    obj.train()
    out = obj(views([torch.randn(5, 4) for _ in range(3)]), None, {})
    assert out["radius_A"].item() == pytest.approx(2.0)
    assert torch.linalg.eigvals(obj.A.detach()).abs().max().item() == pytest.approx(1.0, abs=1e-5)


def test_ldm_predictable_sequence_scores_better():
    torch.manual_seed(0)
    obj = LatentDistributionMatching(embed_dim=3, head=False).eval()
    with torch.no_grad():
        obj.A.copy_(torch.eye(3))
        obj.log_var_A.fill_(math.log(1e-2)); obj.log_var_D.fill_(math.log(1e-2))
    const = torch.randn(8, 1, 3).expand(8, 6, 3).contiguous()   # a latent that stays put
    noise = torch.randn(8, 6, 3)
    seq = lambda x: ViewOutputs([x[:, 0]], 1, extra={"sequence": x})
    assert obj(seq(const), None, {})["loss"] < obj(seq(noise), None, {})["loss"]


# ---------------------------------------------------------------- invariances

def test_minimal_for_identical_views():
    torch.manual_seed(0)
    z = torch.randn(16, 8)
    perm = torch.randperm(16)
    assert nt_xent(z, z, 0.5)[0] < nt_xent(z, z[perm], 0.5)[0]
    assert spectral_loss(z, z)[0] < spectral_loss(z, z[perm])[0]
    byol = BYOL(embed_dim=8, head=False).eval()
    same = byol(views([z, z]), views([z, z]), {})["loss"]
    assert same.item() == pytest.approx(0.0, abs=1e-6)   # BYOL's minimum
    assert byol(views([z, z]), views([z, z[perm]]), {})["loss"] > 0.1


def test_ressl_identical_relation_is_entropy_minimum():
    torch.manual_seed(0)
    obj = ReSSL(embed_dim=8, head=False, queue_size=32, teacher_temp=0.1, student_temp=0.1, aligned_views=True).eval()
    k = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    same = obj(views([k]), views([k]), {})["loss"]
    other = obj(views([torch.randn(4, 8)]), views([k]), {})["loss"]
    ent = obj(views([k]), views([k]), {})["teacher_entropy"]
    assert same.item() == pytest.approx(ent.item(), rel=1e-4)  # cross-entropy = entropy when q = k
    assert other > same


# ---------------------------------------------------------------- ReSSL queue

def test_ressl_queue_wraps_and_enqueues_after_loss():
    obj = ReSSL(embed_dim=2, head=False, queue_size=5, momentum=0.0)
    a = torch.nn.functional.normalize(torch.randn(3, 2), dim=1)
    b = torch.nn.functional.normalize(torch.randn(3, 2), dim=1)
    obj.enqueue(a)
    assert obj.queue_ptr.item() == 3
    obj.enqueue(b)
    assert obj.queue_ptr.item() == 1
    assert torch.allclose(obj.queue, torch.stack([b[2], a[1], a[2], b[0], b[1]]))
    obj.enqueue(torch.cat([a, b]))      # more keys than slots: the newest 5 survive
    assert torch.allclose(obj.queue[[1, 2, 3, 4, 0]], torch.cat([a, b])[1:])

    obj = ReSSL(embed_dim=2, head=False, queue_size=8, aligned_views=True).train()
    q, k = torch.randn(4, 2), torch.randn(4, 2)
    before = obj.queue.clone()
    loss = obj(views([q]), views([k]), {})["loss"]
    qn, kn = (torch.nn.functional.normalize(x, dim=1) for x in (q, k))
    assert loss.item() == pytest.approx(ressl_loss(qn, kn, before).item(), rel=1e-6)  # scored on the old queue
    assert torch.allclose(obj.queue[:4], kn) and obj.queue_ptr.item() == 4          # then enqueued


# ---------------------------------------------------------------- registry / trainer interface

@pytest.mark.parametrize("name", ZOO)
def test_registered_objective_runs_and_backprops(name):
    torch.manual_seed(0)
    kwargs = {"dim": 8} if name == "ldm" else {"hidden": 16}
    obj = build_objective(name, embed_dim=12, **kwargs).train()
    emb = [torch.randn(6, 12, requires_grad=True) for _ in range(4)]
    teacher = views([e.detach() + 0.01 for e in emb[:2]])
    out = obj(ViewOutputs(emb, 2), teacher if obj.needs_teacher else None, {"step": 1})
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert emb[0].grad is not None and emb[0].grad.abs().sum() > 0
    state = obj.state_dict()
    if name == "ressl":
        assert "queue" in state and "queue_ptr" in state
    assert not obj.needs_concepts


# ---------------------------------------------------------------- MED and collapse

def test_med_hand_values():
    from videossl.metrics.disentanglement import importance_matrix, med, topk_codes

    assert med(importance_matrix(np.array([[2.0, 0.0], [0.0, 1.0]]))) == pytest.approx(1.0, abs=1e-6)
    assert med(importance_matrix(np.array([[1.0, 1.0], [0.0, 0.0]]))) == pytest.approx(0.0, abs=1e-6)
    r = importance_matrix(np.array([[2.0, 0.0], [1.0, 0.1], [0.0, 1.0]]))
    assert topk_codes(r, 1) == [0, 2]
    assert med(r[[0, 2]]) == pytest.approx(1.0, abs=1e-6)
    # one code shared by two factors: D = 1 − H_2(½, ½) = 0 for it
    r2 = importance_matrix(np.array([[1.0, 0.0], [1.0, 1.0]]))
    rho = r2.sum(1) / r2.sum()
    assert med(r2) == pytest.approx(rho[0] * 1.0 + rho[1] * (1 - 0.9182958340544896), abs=1e-6)


def test_med_copy_high_noise_low_collapse_detected():
    from videossl.metrics.disentanglement import disentanglement_scores

    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, (4000, 3))
    copy = disentanglement_scores(y + 0.1 * rng.standard_normal(y.shape), y)
    noise = disentanglement_scores(rng.standard_normal((4000, 6)), y)
    mixed = disentanglement_scores(y @ rng.standard_normal((3, 3)), y)
    assert copy["med"] > 0.9 and copy["top1_med"] > 0.9
    assert noise["med"] < 0.2
    assert mixed["med"] < copy["med"]
    assert not copy["collapse"]["complete_collapse"] and not copy["collapse"]["dimensional_collapse"]
    point = disentanglement_scores(np.ones((4000, 8)) + 1e-9 * rng.standard_normal((4000, 8)), y)
    assert point["collapse"]["complete_collapse"] and point["med"] < 0.05
    line = np.outer(rng.standard_normal(4000), rng.standard_normal(16))   # all samples on one line
    assert disentanglement_scores(line, y)["collapse"]["dimensional_collapse"]


def test_metrics_cli(tmp_path, capsys):
    from safetensors.numpy import save_file

    from videossl.cli import main

    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, (2000, 2))
    np.save(tmp_path / "y.npy", y)
    save_file({"features": (y + 0.05 * rng.standard_normal(y.shape)).astype(np.float32)}, str(tmp_path / "f.safetensors"))
    rc = main(["metrics", "disentanglement", "--features", str(tmp_path / "f.safetensors"),
               "--factors", str(tmp_path / "y.npy"), "--out", str(tmp_path / "med.json")])
    assert rc == 0
    scores = json.loads((tmp_path / "med.json").read_text())
    assert scores["med"] > 0.9 and "MED" in capsys.readouterr().out
    np.save(tmp_path / "bad.npy", np.zeros((10, 2)))
    assert main(["metrics", "disentanglement", "--features", str(tmp_path / "f.safetensors"),
                 "--factors", str(tmp_path / "bad.npy")]) == 2
    assert "bad.npy" in capsys.readouterr().err


# ---------------------------------------------------------------- factor clips

def test_factor_clips_deterministic_and_factor_consistent():
    from videossl.data.factors import FACTOR_SIZES, FactorClips

    d = FactorClips(size=32, frames=4)
    x1, f1 = d.dataset(64, seed=3)
    x2, f2 = d.dataset(64, seed=3)
    assert x1.shape == (64, 4, 3, 32, 32) and f1.shape == (64, 6)
    assert np.array_equal(x1, x2) and np.array_equal(f1, f2)
    assert all(f1[:, j].max() < k for j, k in enumerate(FACTOR_SIZES))
    f = np.array([[0, 0, 2, 2, 0, 3]])   # big red disc, right column, top row, moving up
    clip = d.render(f, np.random.default_rng(0), "none")[0]
    red = (clip[:, 0] > 0.5) & (clip[:, 1] < 0.3)
    first, last = np.argwhere(red[0]).mean(0), np.argwhere(red[3]).mean(0)   # (row, col)
    assert last[0] < first[0]            # moved up (row decreased)
    assert first[1] > 20                 # right column
