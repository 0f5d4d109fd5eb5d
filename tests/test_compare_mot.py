"""``eval/compare_mot.py``'s peers: ByteTrack and DeepSORT answer on the frame they were given (0-based, as our
head's rows), keep one identity per object, and the DetA / AssA it adds are TrackEval's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cm():
    spec = importlib.util.spec_from_file_location("compare_mot", ROOT / "eval" / "compare_mot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _two_boxes(frames: int = 8):
    """A red and a blue box walking towards each other on grey; detections are the exact boxes."""
    imgs = np.full((frames, 120, 200, 3), 100, np.uint8)
    dets = {}
    for f in range(frames):
        a, b = (20 + 5 * f, 30, 20, 50), (150 - 5 * f, 40, 20, 50)
        for (x, y, w, h), colour in ((a, (220, 30, 30)), (b, (30, 30, 220))):
            imgs[f, y:y + h, x:x + w] = colour
        dets[f] = np.array([[*a, 0.9], [*b, 0.9]], float)
    return imgs, dets


def _check_rows(rows, dets, frames):
    rows = np.asarray(rows, float)
    assert len(rows) and set(rows[:, 0].astype(int)) <= set(range(frames))
    for f, tid, x, y, w, h, _ in rows:  # each output box is on one of the detections of its own frame (DeepSORT
        d = dets[int(f)]                  # outputs the Kalman estimate: a few pixels behind the moving box)
        assert np.abs(d[:, :4] - [x, y, w, h]).max(1).min() < 3.0, (f, x, y)
    ids = {int(r[1]) for r in rows}
    assert len(ids) == 2  # one identity per box over the whole run
    return rows


def test_bytetrack_rows_are_on_their_own_frame_from_the_first_one_seen(cm):
    imgs, dets = _two_boxes()
    rows = _check_rows(cm._bytetrack(dets, len(imgs)), dets, len(imgs))
    assert rows[:, 0].min() == 1  # activated on its second frame: the first frame's detections were seen


def test_deepsort_with_its_mobilenet_embedder_offline(cm):
    imgs, dets = _two_boxes()
    reader = cm._array_reader(imgs)
    rows = _check_rows(cm._deepsort(reader, dets, det_thresh=0.5), dets, len(imgs))
    assert rows[:, 0].min() == 2  # n_init 3: confirmed on its third frame (deep_sort_app's output rule)
    none = cm._deepsort(reader, dets, det_thresh=0.95)  # every detection below the threshold: no tracks
    assert none == []


def test_score_adds_trackeval_hota_parts(cm, tmp_path):
    from unitrack.data.synth import ensure_benchmark
    from unitrack.heads import mot

    root = Path(ensure_benchmark("mot", 0))
    seq = mot.sequences(root)[0]
    gt = np.loadtxt(root / "train" / seq / "gt" / "gt.txt", delimiter=",")
    gt = gt[(gt[:, 6] != 0) & (gt[:, 7] == 1)]  # the scored pedestrians
    rows = [(int(r[0]) - 1, int(r[1]), r[2] - 1, r[3] - 1, r[4], r[5], 1.0) for r in gt]  # 0-based, as the heads
    mot.write_rows(tmp_path / f"{seq}.txt", rows)
    res = cm.score(root, tmp_path, [seq])
    assert res["overall"]["DetA"] == pytest.approx(1.0) and res["overall"]["AssA"] == pytest.approx(1.0)
    # every identity split in two halfway: detection stays perfect, association halves (each GT id meets two
    # prediction ids for half its frames each: AssA = mean over matches of 1/2)
    half = {tid: np.median(gt[gt[:, 1] == tid, 0]) for tid in np.unique(gt[:, 1])}
    rows = [(f, tid + (100000 if f + 1 > half[tid] else 0), *b, s) for f, tid, *b, s in rows]
    mot.write_rows(tmp_path / f"{seq}.txt", rows)
    res = cm.score(root, tmp_path, [seq])
    assert res["overall"]["DetA"] == pytest.approx(1.0)
    assert 0.45 < res["overall"]["AssA"] < 0.55 and res["per_sequence"][seq]["AssA"] == res["overall"]["AssA"]
