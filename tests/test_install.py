"""What a fresh install must give: the contract's top-level entry points, package data, one OpenCV,
and (under .ci/run) tests that run against the installed package rather than the source tree."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_create_model():
    import videossl

    m = videossl.create_model("tiny-resnet")
    assert m.stride == 8 and "tiny-resnet" in videossl.list_models()
    with pytest.raises(AttributeError):
        videossl.no_such_thing  # noqa: B018


def test_one_opencv_distribution():
    """Two OpenCV wheels overwrite the same ``cv2`` package; 5.x wheels lack HOG and the Haar cascades."""
    names = sorted({d.metadata["Name"].lower() for d in metadata.distributions()
                    if (d.metadata["Name"] or "").lower().startswith("opencv")})
    assert len(names) == 1, f"exactly one OpenCV distribution expected, found {names}"
    import cv2

    assert int(cv2.__version__.split(".")[0]) == 4 and hasattr(cv2, "HOGDescriptor")


def test_shipped_concepts_are_package_data():
    from videossl.concepts.shipped import shipped_concepts

    import videossl

    shipped = shipped_concepts()
    assert {"kinetics", "ucf101", "hmdb51", "synthetic_actions"} <= set(shipped)
    assert all(p.is_relative_to(Path(videossl.__file__).parent) for p in shipped.values())


@pytest.mark.skipif(not os.environ.get("VIDEOSSL_TEST_INSTALLED"), reason="set by .ci/run")
def test_suite_runs_against_the_installed_package():
    """.ci/run sets VIDEOSSL_TEST_INSTALLED: the packages under test must be the installed copies."""
    import unitrack
    import videossl

    for mod in (videossl, unitrack):
        assert not Path(mod.__file__).resolve().is_relative_to(ROOT), f"{mod.__name__} imported from the source tree"
