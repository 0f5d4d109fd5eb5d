"""PoseTrack 2018: reader/writer round trip, and poseval's metrics on hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unitrack.data.posetrack import KEYPOINTS, Person, keypoint_box, load_sequence, prediction_json, sequences
from unitrack.metrics import posetrack as P
from videossl.errors import InputError

HEAD = [0.0, 0.0, 30.0, 40.0]  # head size 0.6 * 50 = 30 px
OFFSETS = np.stack([np.cos(np.arange(17)), np.sin(np.arange(17))], 1) * np.linspace(5, 40, 17)[:, None]


def kps(cx: float, cy: float, shift=(0.0, 0.0)) -> list[float]:
    pts = OFFSETS + [cx + shift[0], cy + shift[1]]
    return np.concatenate([pts, np.ones((17, 1))], 1).reshape(-1).round(3).tolist()


def person(tid, cx, cy, shift=(0.0, 0.0), score=1.0, head=True):
    ann = {"track_id": tid, "keypoints": kps(cx, cy, shift), "scores": [score] * 17}
    if head:
        ann["bbox_head"] = HEAD
    return ann


def sequence_json(frames: list[list[dict]], ignore: dict | None = None) -> dict:
    images, anns = [], []
    for t, people in enumerate(frames):
        im = {"id": 1000 + t, "file_name": f"images/val/s/{t:06d}.jpg", "frame_id": 1000 + t, "is_labeled": True}
        if ignore and t in ignore:
            im["ignore_regions_x"], im["ignore_regions_y"] = [ignore[t][0]], [ignore[t][1]]
        images.append(im)
        anns += [{**a, "image_id": 1000 + t, "id": len(anns), "category_id": 1} for a in people]
    return {"images": images, "annotations": anns,
            "categories": [{"name": "person", "keypoints": list(KEYPOINTS)}]}


def write_tree(tmp_path, gt: dict[str, dict], pred: dict[str, dict]):
    gdir, pdir = tmp_path / "gt" / "annotations" / "val", tmp_path / "pred"
    gdir.mkdir(parents=True)
    pdir.mkdir()
    for name, d in gt.items():
        (gdir / f"{name}.json").write_text(json.dumps(d))
    for name, d in pred.items():
        (pdir / f"{name}.json").write_text(json.dumps(d))
    return tmp_path / "gt", pdir


def score(tmp_path, gt_frames, pred_frames, ignore=None):
    root, pdir = write_tree(tmp_path, {"s": sequence_json(gt_frames, ignore)}, {"s": sequence_json(pred_frames)})
    return P.evaluate(root, pdir)["overall"]


def test_perfect_prediction(tmp_path):
    gt = [[person(1, 100, 100), person(2, 300, 100)] for _ in range(3)]
    o = score(tmp_path, gt, gt)
    assert o["MOTA"] == o["MOTP"] == o["Precision"] == o["Recall"] == o["IDF1"] == o["mAP"] == 1.0
    assert o["IDSW"] == 0 and o["IDF1_person"] == pytest.approx(1.0) and o["HOTA_person"] == pytest.approx(1.0)


def test_identity_swap_counts_per_joint_and_skips_the_last_frame(tmp_path):
    """Frames 2 and 3 swap the two predicted ids. poseval leaves the last frame out of MOT: per joint
    4 objects, 2 switches -> MOTA 0.5, IDF1 2*2/(4+4) = 0.5, IDSW 2 x 15 joints. Person boxes see all
    three frames: IDTP 4 of 6 + 6 -> IDF1 2/3."""
    gt = [[person(1, 100, 100), person(2, 300, 100)] for _ in range(3)]
    pred = [[person(10, 100, 100), person(20, 300, 100)]] + \
           [[person(20, 100, 100), person(10, 300, 100)] for _ in range(2)]
    o = score(tmp_path, gt, pred)
    assert o["MOTA"] == pytest.approx(0.5) and o["IDF1"] == pytest.approx(0.5) and o["IDSW"] == 2 * 15
    assert o["MOTP"] == 1.0 and o["Precision"] == 1.0 and o["Recall"] == 1.0 and o["mAP"] == 1.0
    assert o["IDF1_person"] == pytest.approx(2 / 3)
    assert o["joints"]["MOTA"]["Head"] == pytest.approx(0.5)


def test_pckh_threshold_motp_and_ap_ranking(tmp_path):
    """Joints 0.4 head sizes away match (d = 0.4 -> MOTP 0.6); 0.6 away they do not. Frame 1: the near
    person (score 0.9); frame 2: a far one (score 0.8, unmatched); frame 3 (not in MOT): near again
    (score 0.7). Per joint AP: ranked TP, FP, TP of 3 GT -> P = 1, 1/2, 2/3, R = 1/3, 1/3, 2/3 ->
    AP = 1/3 * 1 + 1/3 * 2/3 = 5/9. MOT (frames 1-2): 2 objects, 1 match, 1 FN, 1 FP -> MOTA 0,
    precision 1/2, recall 1/2."""
    near, far = (0.4 * 30 / np.sqrt(2),) * 2, (0.6 * 30 / np.sqrt(2),) * 2
    gt = [[person(1, 100, 100)] for _ in range(3)]
    pred = [[person(5, 100, 100, near, 0.9)], [person(5, 100, 100, far, 0.8)], [person(5, 100, 100, near, 0.7)]]
    o = score(tmp_path, gt, pred)
    assert o["mAP"] == pytest.approx(5 / 9)
    assert o["MOTP"] == pytest.approx(0.6, abs=1e-6) and o["MOTA"] == pytest.approx(0.0)
    assert o["Precision"] == pytest.approx(0.5) and o["Recall"] == pytest.approx(0.5)


def test_frame_without_predictions_is_one_fake_miss_and_false_positive(tmp_path):
    """poseval's quirk: a frame with ground truth but no prediction records one fake object and one fake
    hypothesis per joint, whatever the number of people. Frames: [A, B] predicted perfectly, then
    [A, B] with nothing predicted, then a last (unscored) frame: per joint 2 + 1 objects, 1 FN, 1 FP."""
    gt = [[person(1, 100, 100), person(2, 300, 100)] for _ in range(3)]
    pred = [[person(1, 100, 100), person(2, 300, 100)], [], [person(1, 100, 100), person(2, 300, 100)]]
    o = score(tmp_path, gt, pred)
    assert o["MOTA"] == pytest.approx(1 - 2 / 3) and o["Recall"] == pytest.approx(2 / 3)
    assert o["Precision"] == pytest.approx(2 / 3)


def test_ignore_regions_remove_points_and_people(tmp_path):
    """A predicted person wholly inside an ignore region is no false positive; frames without persons
    are dropped before matching (an unlabeled frame in the middle changes nothing)."""
    gt = [[person(1, 100, 100)], [person(1, 100, 100)], [], [person(1, 100, 100)]]
    box = ([250.0, 400.0, 400.0, 250.0], [50.0, 50.0, 200.0, 200.0])
    pred = [[person(1, 100, 100), person(9, 320, 120)] for _ in range(4)]
    o = score(tmp_path, gt, pred, ignore={0: box, 1: box, 3: box})
    assert o["MOTA"] == 1.0 and o["Precision"] == 1.0 and o["mAP"] == 1.0
    o2 = score(tmp_path / "b", gt, pred)  # without the regions the stray person is a false positive
    assert o2["Precision"] == pytest.approx(0.5) and o2["MOTA"] == pytest.approx(0.0)


def test_unannotated_keypoints_and_the_ears(tmp_path):
    """[0, 0, 0] is "not annotated"; the ears are not among poseval's 15 joints."""
    a = person(1, 100, 100)
    kp = np.array(a["keypoints"]).reshape(17, 3)
    kp[KEYPOINTS.index("left_wrist")] = 0
    a["keypoints"] = kp.reshape(-1).tolist()
    seq = load_sequence(write_tree(tmp_path, {"s": sequence_json([[a]])}, {})[0] / "annotations/val/s.json")
    people = P.frame_people(seq.frames[0].people)
    assert people.has.sum() == 14 and not people.has[0, P.JOINTS.index("left_wrist")]
    assert "left_ear" not in P.JOINTS and len(P.JOINTS) == 15


def test_round_trip_and_keypoint_box(tmp_path):
    root, _ = write_tree(tmp_path, {"s": sequence_json([[person(3, 50, 60)], []])}, {})
    assert sequences(root) == ["s"]
    gt = load_sequence(root / "annotations/val/s.json")
    people = [[Person(7, f.people[0].keypoints, np.full(17, 0.5))] if f.people else [] for f in gt.frames]
    back = load_sequence(_dump(tmp_path / "p.json", prediction_json(gt, people)))
    assert [f.image_id for f in back.frames] == [f.image_id for f in gt.frames]
    assert back.frames[0].people[0].track_id == 7
    np.testing.assert_allclose(back.frames[0].people[0].keypoints, gt.frames[0].people[0].keypoints, atol=0.01)
    box = keypoint_box(np.array([[10, 20, 1], [30, 60, 1], [0, 0, 0]]))
    np.testing.assert_allclose(box, [20 - 13, 40 - 26, 26, 52])


def _dump(path, obj):
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"][0].update(keypoints=[1, 2]), r"annotations\[0\]: 'keypoints' must be 51 numbers"),
    (lambda d: d["annotations"][0].pop("track_id"), r"annotations\[0\]: missing or non-integer 'track_id'"),
    (lambda d: d["annotations"][0].update(image_id=5), r"annotations\[0\]: 'image_id' names no image"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, float("nan")), "NaN"),
    (lambda d: d.pop("images"), "no 'images' list"),
])
def test_malformed_annotations_name_the_entry(tmp_path, mutate, message):
    d = sequence_json([[person(1, 10, 10)]])
    mutate(d)
    with pytest.raises(InputError, match=message):
        load_sequence(_dump(tmp_path / "bad.json", d))


def test_bad_pairs_are_one_line(tmp_path):
    gt = [[person(1, 100, 100)] for _ in range(2)]
    root, pdir = write_tree(tmp_path, {"s": sequence_json(gt)}, {"s": sequence_json(gt[:1])})
    with pytest.raises(InputError, match="1 frames in the prediction, 2 in the ground truth"):
        P.evaluate(root, pdir)
    nohead = [[person(1, 100, 100, head=False)] for _ in range(2)]
    root, pdir = write_tree(tmp_path / "h", {"s": sequence_json(nohead)}, {"s": sequence_json(nohead)})
    with pytest.raises(InputError, match="no 'bbox_head'"):
        P.evaluate(root, pdir)
    (pdir / "s.json").unlink()
    with pytest.raises(InputError, match="missing prediction file"):
        P.evaluate(root, pdir)
    with pytest.raises(InputError, match="cannot read PoseTrack annotation file"):
        load_sequence(_bytes(tmp_path / "x.json", b"\xff\xfe{"))


def _bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def test_synthetic_posetrack_scenes(tmp_path):
    """Deterministic, in the official layout, people entering/leaving and occluding one another."""
    from unitrack.data.posetrack import load_split
    from unitrack.data.synth.layouts import WRITERS

    names = WRITERS["posetrack"][1](tmp_path / "a", 3)
    WRITERS["posetrack"][1](tmp_path / "b", 3)
    for n in names:
        assert (tmp_path / "a/annotations/val" / f"{n}.json").read_bytes() == \
               (tmp_path / "b/annotations/val" / f"{n}.json").read_bytes()
    seqs = load_split(tmp_path / "a")
    counts = [len(f.people) for s in seqs.values() for f in s.frames]
    assert max(counts) == 4 and min(counts) < 4  # everybody at some point, fewer elsewhere
    visible = [int((p.keypoints[:, 2] > 0).sum()) for s in seqs.values() for f in s.frames for p in f.people]
    assert min(visible) >= 1 and min(visible) < 15 <= max(visible)  # occluded joints are left out
    s = next(iter(seqs.values()))
    assert s.frame_paths[0].is_file() and all(f.is_labeled for f in s.frames)
    o = P.evaluate_sequences(seqs, seqs)["overall"]
    assert o["MOTA"] == 1.0 and o["IDSW"] == 0 and o["IDF1_person"] == 1.0
