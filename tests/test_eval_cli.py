"""`unitrack eval --pretrained`: the weights option reaches create_model, and missing weights are one line;
`--opt KEY=VALUE`: head options parsed to their types, bad ones one line, recorded in metrics.json."""

from __future__ import annotations

import json

import pytest

from unitrack.cli import main


def test_eval_pretrained_path_is_used_and_missing_weights_are_one_line(synth_root, tmp_path, capsys):
    missing = tmp_path / "no-such-weights.safetensors"
    rc = main(["eval", "--task", "mot", "--data", str(synth_root / "mot17"), "--model", "tiny-resnet",
               "--pretrained", str(missing), "--out", str(tmp_path / "run"), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("error: ") and str(missing) in err[-1]
    assert not (tmp_path / "run" / "metrics.json").exists()  # stopped at once: nothing scored, nothing half-written


# -- head options: --opt KEY=VALUE ------------------------------------------------------------
def _err_lines(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_opt_values_are_parsed_to_the_field_types():
    from unitrack.heads.association.tracker import TrackerConfig
    from unitrack.heads.options import config_from_options, normalize_options, parse_opt_args
    from unitrack.heads.propagation import PropagationConfig

    raw = parse_opt_args(["use_appearance=no", "track_buffer=12", "det_thresh=0.25", "max_aspect=none",
                          "appearance=cosine", "motion_gated=1", "track_buffer=15"])  # the last repeat wins
    assert normalize_options("mot", raw) == {"use_appearance": False, "track_buffer": 15, "det_thresh": 0.25,
                                             "max_aspect": None, "appearance": "cosine", "motion_gated": True}
    cfg = config_from_options(TrackerConfig, raw, "mots", base=TrackerConfig(min_box_area=0))
    assert (cfg.track_buffer, cfg.max_aspect, cfg.min_box_area, cfg.use_appearance) == (15, None, 0, False)
    opts = {"topk": "3", "radius": "4", "use_first": "FALSE", "baseline": "copy-first"}
    p = config_from_options(PropagationConfig, opts, "pose")
    assert (p.topk, p.radius, p.use_first) == (3, 4.0, False) and isinstance(p.radius, float)
    # Python callers: typed values pass; the old nested MOT/MOTS form is flattened
    assert normalize_options("mot", {"tracker": {"use_appearance": False, "min_box_area": 0}}) == \
        {"use_appearance": False, "min_box_area": 0.0}


@pytest.mark.parametrize("opt, words", [
    ("bogus_key=1", ["'bogus_key'", "mot", "valid keys", "use_appearance"]),
    ("track_buffer=abc", ["track_buffer", "mot", "an integer"]),
    ("use_appearance=maybe", ["use_appearance", "true/false"]),
    ("baseline=copy-first", ["'baseline'", "mot"]),  # a propagation/sot key only
    ("no_equals_sign", ["KEY=VALUE"]),
])
def test_bad_opt_is_one_error_line_before_any_work(synth_root, tmp_path, capsys, opt, words):
    run = tmp_path / "run"
    rc = main(["eval", "--task", "mot", "--data", str(synth_root / "mot17"), "--model", "tiny-resnet",
               "--out", str(run), "--device", "cpu", "--opt", opt])
    err = _err_lines(capsys)
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert all(w in err[0] for w in words), err[0]
    assert not run.exists()


def test_eval_opt_changes_the_run_and_is_recorded(synth_root, tmp_path):
    """Motion only (no model at all), then the same with an output filter that drops every box."""
    from unitrack.eval import evaluate_task

    base = ["eval", "--task", "mot", "--data", str(synth_root / "mot17"), "--model", "tiny-resnet",
            "--device", "cpu", "--sequences", "SYNTH-01", "--opt", "use_appearance=false"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert a["options"] == {"use_appearance": False}
    assert a["time_split_s"]["features"] == 0 and a["time_split_s"]["pooling"] == 0  # the model never ran
    rows = (tmp_path / "a" / "mot" / "SYNTH-01.txt").read_text()
    assert rows and a["overall"]["MOTA"] > 0

    assert main([*base, "--opt", "min_box_area=1e9", "--out", str(tmp_path / "b")]) == 0
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert b["options"] == {"use_appearance": False, "min_box_area": 1e9}
    assert (tmp_path / "b" / "mot" / "SYNTH-01.txt").read_text() == "" and b["overall"]["MOTA"] <= 0

    # the old nested form from Python: the same run as the flat --opt one
    m = evaluate_task("mot", synth_root / "mot17", model="tiny-resnet", out=tmp_path / "c", device="cpu",
                      sequences=["SYNTH-01"], options={"tracker": {"use_appearance": False}}, progress=False)
    assert m["options"] == {"use_appearance": False}
    assert (tmp_path / "c" / "mot" / "SYNTH-01.txt").read_text() == rows


def test_eval_sot_baseline_option(synth_root, tmp_path):
    """``--opt baseline=copy-first`` (a non-config key) still selects the trivial baseline."""
    import numpy as np

    run = tmp_path / "run"
    assert main(["eval", "--task", "sot", "--data", str(synth_root / "otb"), "--model", "tiny-resnet",
                 "--device", "cpu", "--sequences", "Synth01", "--out", str(run), "--opt", "baseline=copy-first"]) == 0
    boxes = np.loadtxt(run / "sot" / "Synth01.txt", delimiter=",")
    assert len(boxes) > 1 and (boxes == boxes[0]).all()
    assert json.loads((run / "metrics.json").read_text())["options"] == {"baseline": "copy-first"}


def test_head_run_keeps_the_mp4_only_when_the_block_finishes(tmp_path):
    """The sot/vos/pose ``run_sequence`` plumbing: options -> config, baseline, and the render writer."""
    import numpy as np

    from unitrack.heads.options import head_run
    from unitrack.heads.propagation import PropagationConfig
    from videossl.io import open_video
    from videossl.errors import InputError

    class Seq:
        def load_frames(self, idx):
            return np.full((len(idx), 32, 48, 3), 90, np.uint8)

    class Job:
        model_name, render, options = "copy-first", tmp_path / "ok.mp4", {"topk": "4"}

    with head_run(Job, PropagationConfig, "vos", Seq(), lambda viz, t, rgb, v: rgb + v) as r:
        assert (r.cfg.topk, r.baseline, r.model) == (4, True, None)
        for t in range(3):
            r.on_frame(t, None, t)  # rgb None: read from the sequence
        r.timings["x"] = 1.5
    assert r.result(3) == {"frames": 3, "x": 1.5}
    assert len(open_video(Job.render)) == 3
    Job.render = tmp_path / "failed.mp4"
    with pytest.raises(InputError), head_run(Job, PropagationConfig, "vos", Seq(), lambda viz, t, rgb: rgb) as r:
        r.on_frame(0, None)
        raise InputError("x", "a bad frame")
    assert list(tmp_path.glob("*failed*")) == []  # nothing half-written is left


def test_resuming_with_other_settings_is_refused_and_keeps_the_run(synth_root, tmp_path, capsys):
    """Resuming skips written sequences, so a second run into the same --out with other options (or model,
    weights, data) would score a mix: it is one error line, and the first run's files are untouched."""
    base = ["eval", "--task", "mot", "--data", str(synth_root / "mot17"), "--model", "tiny-resnet",
            "--device", "cpu", "--sequences", "SYNTH-01", "--out", str(tmp_path / "run")]
    assert main([*base, "--opt", "use_appearance=false"]) == 0
    pred = tmp_path / "run" / "mot" / "SYNTH-01.txt"
    before = pred.read_text()
    assert main([*base, "--opt", "use_appearance=false"]) == 0  # same settings: resumes (nothing to redo)
    capsys.readouterr()
    assert main([*base, "--opt", "use_appearance=false", "--opt", "track_buffer=5"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("error: ") and "options" in err[0] and "another --out" in err[0]
    assert pred.read_text() == before
    assert json.loads((tmp_path / "run" / "mot_settings.json").read_text())["options"] == {"use_appearance": False}
