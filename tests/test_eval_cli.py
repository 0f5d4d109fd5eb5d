"""`unitrack eval --pretrained`: the weights option reaches create_model, and missing weights are one line."""

from __future__ import annotations

from unitrack.cli import main


def test_eval_pretrained_path_is_used_and_missing_weights_are_one_line(synth_root, tmp_path, capsys):
    missing = tmp_path / "no-such-weights.safetensors"
    rc = main(["eval", "--task", "mot", "--data", str(synth_root / "mot17"), "--model", "tiny-resnet",
               "--pretrained", str(missing), "--out", str(tmp_path / "run"), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("error: ") and str(missing) in err[-1]
    assert not (tmp_path / "run" / "metrics.json").exists()  # stopped at once: nothing scored, nothing half-written
