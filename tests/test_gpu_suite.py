"""``eval/gpu_suite.py --quick``: every section of the GPU suite runs end to end on the CPU with the
tiny models (≈ 20 s of CPU time), so the script handed to a GPU machine is known to work."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_suite_quick_runs_every_section(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_suite", ROOT / "eval" / "gpu_suite.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    out = tmp_path / "gpu.md"
    assert suite.main(["--quick", "--device", "cpu", "--out", str(out)]) == 0
    text = out.read_text()
    for i, (title, _) in enumerate(suite.SECTIONS, 1):
        assert f"## {i}. {title}" in text
    assert "failed:" not in text and "skipped" not in text
    assert "| tiny-resnet | 64x64 |" in text and "| 3 | " in text  # an extraction row, the MOT row of 3 boxes
    # the full run names the models the toolkit claims, and skips a missing one with one line
    assert suite.FULL["extract_models"] == ["resnet18", "mobilenetv2", "clip-vit-b16"]
    assert suite.FULL["train_model"] == "tclip-vit-b16" and suite.FULL["train_frames"] == 8
