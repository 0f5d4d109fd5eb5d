"""Dataset readers, prediction writers and the synthetic benchmark: round trips, bad input, determinism,
and ground truth that agrees with the rendered pixels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unitrack.data import davis, jhmdb, mot, mots, otb, writers
from unitrack.data.synth import MARKER, ensure_benchmark, generate, recipes
from unitrack.data.synth.layouts import DET_MIN_VIS, DET_MISS_RATE
from videossl.errors import InputError


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# --- writer -> reader round trips ------------------------------------------------------------------

def test_otb_round_trip_is_one_based_on_disk(tmp_path):
    boxes = np.array([[0, 1, 5, 6], [2.5, 3, 4, 4.25]])
    writers.write_otb(tmp_path / "b.txt", boxes)
    assert (tmp_path / "b.txt").read_text().splitlines() == ["1,2,5,6", "3.5,4,4,4.25"]
    np.testing.assert_allclose(otb.read_boxes(tmp_path / "b.txt"), boxes)


def test_otb_reads_tabs_and_spaces(tmp_path):
    (tmp_path / "b.txt").write_text("1\t2\t3\t4\n5 6 7 8\n\n")
    np.testing.assert_allclose(otb.read_boxes(tmp_path / "b.txt"), [[0, 1, 3, 4], [4, 5, 7, 8]])


def test_davis_png_round_trip(tmp_path):
    mask = np.random.default_rng(0).integers(0, 6, (37, 53)).astype(np.uint8)
    writers.write_davis_png(tmp_path / "m.png", mask)
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "P"
        assert im.getpalette()[3:6] == [128, 0, 0]  # DAVIS id 1 is dark red
    np.testing.assert_array_equal(davis.read_mask(tmp_path / "m.png", (37, 53)), mask)


def test_mot_round_trip_tracker_and_gt_formats(tmp_path):
    frame, ids = np.array([2, 0, 0]), np.array([1, 7, 3])
    boxes = np.array([[4, 4, 1, 1], [1.5, 2, 3, 3], [0, 0, 3, 4]], float)
    writers.write_mot(tmp_path / "p.txt", frame, ids, boxes, [0.5, 0.9, 1.0])
    lines = (tmp_path / "p.txt").read_text().splitlines()
    assert lines[0] == "1,3,1,1,3,4,1,-1,-1,-1"  # sorted by frame, then id; 1-based
    r = mot.read_mot_txt(tmp_path / "p.txt")
    np.testing.assert_array_equal(r.frame, [0, 0, 2])
    np.testing.assert_array_equal(r.ids, [3, 7, 1])
    np.testing.assert_allclose(r.boxes, boxes[[2, 1, 0]])
    np.testing.assert_allclose(r.conf, [1.0, 0.9, 0.5])
    assert (r.cls == -1).all()
    writers.write_mot(tmp_path / "gt.txt", frame, ids, boxes, [1, 0, 1], [1, 7, 1], [1.0, 0.25, 0.5])
    g = mot.read_mot_txt(tmp_path / "gt.txt")
    np.testing.assert_array_equal(g.cls, [1, 7, 1])
    np.testing.assert_allclose(g.vis, [0.5, 0.25, 1.0])
    assert len(g.at(0)) == 2 and len(g.at(1)) == 0


def test_mot15_gt_has_no_class(tmp_path):
    (tmp_path / "gt.txt").write_text("1,1,10,20,30,40,1,-1,-1,-1\n")
    r = mot.read_mot_txt(tmp_path / "gt.txt")
    assert r.cls.tolist() == [-1] and r.vis.tolist() == [-1.0]
    np.testing.assert_allclose(r.boxes, [[9, 19, 30, 40]])


def test_mots_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    masks = rng.random((3, 20, 30)) < 0.3
    writers.write_mots(tmp_path / "s.txt", [1, 0, 0], [2002, 2001, 10000], [2, 2, 10], masks=masks)
    first = (tmp_path / "s.txt").read_text().splitlines()[0].split()
    assert first[:5] == ["1", "2001", "2", "20", "30"]
    r = mots.read_mots_txt(tmp_path / "s.txt", (20, 30))
    np.testing.assert_array_equal(r.frame, [0, 0, 1])
    np.testing.assert_array_equal(r.obj_id, [2001, 10000, 2002])
    np.testing.assert_array_equal(r.masks(), masks[[1, 2, 0]])
    np.testing.assert_array_equal(r.at(1).track_ids, [2])


def test_pose_json_round_trip(tmp_path):
    joints = np.random.default_rng(2).uniform(0, 300, (4, 15, 2))
    writers.write_pose_json(tmp_path / "v.json", joints)
    np.testing.assert_allclose(writers.read_pose_json(tmp_path / "v.json"), joints, atol=1e-3)
    with pytest.raises(InputError, match="15, 2"):
        writers.write_pose_json(tmp_path / "w.json", joints[:, :14])


def test_empty_prediction_files_read_as_empty(tmp_path):
    writers.write_mot(tmp_path / "e.txt", [], [], np.zeros((0, 4)))
    writers.write_mots(tmp_path / "e2.txt", [], [], [], rles=[])
    assert len(mot.read_mot_txt(tmp_path / "e.txt")) == 0
    assert len(mots.read_mots_txt(tmp_path / "e2.txt")) == 0


# --- bad input: one error naming the file (and line) ----------------------------------------------

@pytest.mark.parametrize("reader, text, line", [
    (otb.read_boxes, "1,2,3,4\n1,2,x,4\n", 2),
    (otb.read_boxes, "1,2,3\n", 1),
    (mot.read_mot_txt, "1,1,1,1,3,4,1,1,1\n1,1,1,1,3\n", 2),
    (mot.read_mot_txt, "0,1,1,1,3,4,1,1,1\n", 1),
    (mots.read_mots_txt, "1 2001 2 20 30\n", 1),
    (mots.read_mots_txt, "1 2001 2 20 30 !!notrle\n", 1),
])  # fmt: skip
def test_malformed_line_names_file_and_line(tmp_path, reader, text, line):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        reader(path)
    assert str(exc.value).startswith(f"{path}:{line}: ")
    assert "\n" not in str(exc.value)


def test_mots_mask_size_mismatch(tmp_path):
    writers.write_mots(tmp_path / "s.txt", [0], [2001], [2], masks=[np.ones((20, 30), bool)])
    with pytest.raises(InputError, match=r"s\.txt:1: mask is 20x30"):
        mots.read_mots_txt(tmp_path / "s.txt", (24, 30))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_frames(synth_root, tmp_path):
    root = _copy(synth_root / "otb", tmp_path / "otb")
    (root / "Synth01" / "img" / "0007.jpg").unlink()
    with pytest.raises(InputError, match=r"0007\.jpg: missing frame"):
        otb.load_sequence(root, "Synth01")
    root = _copy(synth_root / "mot17", tmp_path / "mot")
    (root / "train" / "SYNTH-01" / "img1" / "000060.jpg").unlink()
    with pytest.raises(InputError, match=r"000060\.jpg: missing frame"):
        mot.load_sequence(root, "SYNTH-01")
    root = _copy(synth_root / "davis", tmp_path / "davis")
    (root / "JPEGImages" / "480p" / "synth-01" / "00010.jpg").unlink()
    with pytest.raises(InputError, match=r"00010\.jpg: missing frame"):
        davis.load_sequence(root, "synth-01")
    root = _copy(synth_root / "jhmdb", tmp_path / "jhmdb")
    (root / "Rename_Images" / "walk" / "synth_walk_01" / "00003.png").unlink()
    with pytest.raises(InputError, match=r"00003\.png: missing frame"):
        jhmdb.load_sequence(root, "walk/synth_walk_01")


def test_missing_annotation_files(synth_root, tmp_path):
    root = _copy(synth_root / "otb", tmp_path / "otb")
    (root / "Synth02" / "groundtruth_rect.txt").unlink()
    with pytest.raises(InputError, match="groundtruth_rect.txt: missing box file"):
        otb.load_sequence(root, "Synth02")
    root = _copy(synth_root / "davis", tmp_path / "davis")
    (root / "Annotations" / "480p" / "synth-02" / "00000.png").unlink()
    with pytest.raises(InputError, match=r"00000\.png: missing annotation file"):
        davis.load_sequence(root, "synth-02")
    (root / "ImageSets" / "2017" / "val.txt").unlink()
    with pytest.raises(InputError, match="val.txt: missing DAVIS split list"):
        davis.list_sequences(root)
    root = _copy(synth_root / "mot17", tmp_path / "mot")
    (root / "train" / "SYNTH-02" / "gt" / "gt.txt").unlink()
    with pytest.raises(InputError, match="gt.txt: missing MOTChallenge txt"):
        mot.load_sequence(root, "SYNTH-02")
    assert mot.load_sequence(root, "SYNTH-02", require_gt=False).gt is None
    root = _copy(synth_root / "jhmdb", tmp_path / "jhmdb")
    (root / "joint_positions" / "jump" / "synth_jump_03" / "joint_positions.mat").unlink()
    with pytest.raises(InputError, match="joint_positions.mat: missing annotation file"):
        jhmdb.load_sequence(root, "jump/synth_jump_03")


def test_davis_mask_size_mismatch(synth_root, tmp_path):
    root = _copy(synth_root / "davis", tmp_path / "davis")
    writers.write_davis_png(root / "Annotations" / "480p" / "synth-01" / "00005.png", np.zeros((10, 10), np.uint8))
    seq = davis.load_sequence(root, "synth-01")
    with pytest.raises(InputError, match=r"00005\.png: mask is 10x10 \(HxW\) but its frame is 240x320"):
        seq.load_mask(5)


def test_mots_gt_size_checked_against_seqinfo(synth_root, tmp_path):
    root = _copy(synth_root / "mots20", tmp_path / "mots")
    ini = root / "train" / "SYNTH-01" / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("imHeight=270", "imHeight=271"))
    with pytest.raises(InputError, match=r"gt\.txt:1: mask is 270x480"):
        mots.load_sequence(root, "SYNTH-01")


# --- the synthetic benchmark -----------------------------------------------------------------------

def test_readers_load_every_synthetic_sequence(synth_root):
    for name in otb.list_sequences(synth_root / "otb"):
        s = otb.load_sequence(synth_root / "otb", name)
        assert len(s) == len(s.boxes) == 60 and s.load_frames([0]).shape == (1, 240, 320, 3)
    for name in davis.list_sequences(synth_root / "davis"):
        s = davis.load_sequence(synth_root / "davis", name)
        assert len(s.annotations) == len(s) and s.object_ids in ([1, 2], [1, 2, 3])
    for name in mot.list_sequences(synth_root / "mot17"):
        s = mot.load_sequence(synth_root / "mot17", name)
        assert len(s.gt) > 300 and len(s.det) > 200 and set(np.unique(s.gt.cls)) == {1, 7}
        assert (s.gt.conf[s.gt.cls == 7] == 0).all()
    for name in mots.list_sequences(synth_root / "mots20"):
        s = mots.load_sequence(synth_root / "mots20", name)
        assert set(np.unique(s.gt.class_id)) == {2, 10}
        assert ((s.gt.obj_id // 1000) == s.gt.class_id).all()
    names = jhmdb.list_sequences(synth_root / "jhmdb", split=1)
    assert {n.split("/")[0] for n in names} == {"walk", "wave", "jump"}
    for name in names:
        assert jhmdb.load_sequence(synth_root / "jhmdb", name).joints.shape == (40, 15, 2)


def test_same_seed_same_bytes(synth_root, tmp_path):
    from unitrack.cli import main

    assert main(["data", "synth", "--out", str(tmp_path / "a"), "--tasks", "vos,pose"]) == 0
    for task in ("davis", "jhmdb"):
        assert _tree_bytes(tmp_path / "a" / task) == _tree_bytes(synth_root / task)
    generate(tmp_path / "b", seed=1, tasks=["pose"])
    assert _tree_bytes(tmp_path / "b" / "jhmdb") != _tree_bytes(synth_root / "jhmdb")
    assert main(["data", "synth", "--out", str(tmp_path / "c"), "--tasks", "sot,nope"]) == 2


def test_ensure_benchmark_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("UNITRACK_CACHE", str(tmp_path))
    root = ensure_benchmark("vos", seed=3)
    assert root == tmp_path / "synth-1-seed3" / "davis" and (root / MARKER).is_file()
    stamp = (root / MARKER).stat().st_mtime_ns
    assert ensure_benchmark("vos", seed=3) == root and (root / MARKER).stat().st_mtime_ns == stamp
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".tmp-")]
    with pytest.raises(InputError, match="unknown task"):
        ensure_benchmark("depth")


def test_masks_are_where_objects_were_drawn(synth_root):
    s = recipes.vos_scene(0, 0)
    seq = davis.load_sequence(synth_root / "davis", "synth-01")
    for t in (0, 17, 33, 49):
        frame = s.scene.render(t)
        mask = seq.load_mask(t)
        for k, oid in enumerate(s.objects, 1):
            np.testing.assert_array_equal(mask == k, frame.idmap == oid)
            without = s.scene.render(t, hide=(oid,))
            changed = (without.image != frame.image).any(-1)
            visible = frame.idmap == oid
            assert not (changed & ~visible).any()  # drawing the object touched only its mask...
            assert changed[visible].mean() > 0.9  # ...and (almost) all of it differs from what is behind
            x, y, w, h = frame.boxes[oid]
            ys, xs = np.nonzero(visible)
            if len(xs):
                assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h


def test_mot_boxes_and_visibility_match_pixels(synth_root):
    s = recipes.mot_scene(0, 0, "mot")
    seq = mot.load_sequence(synth_root / "mot17", "SYNTH-01")
    for t in (0, 30, 59):
        frame, rows = s.scene.render(t), seq.gt.at(t)
        assert set(rows.ids) == {oid for oid in frame.boxes if oid in s.pedestrians or oid == recipes.STATIC_PERSON}
        for tid, box, vis in zip(rows.ids, rows.boxes, rows.vis):
            np.testing.assert_allclose(box, frame.boxes[tid])
            assert vis == pytest.approx(frame.visibility(tid), abs=1e-3)


def test_pose_joints_lie_on_the_figure(synth_root):
    s = recipes.pose_scene(0, 0)  # no occluder in even clips
    seq = jhmdb.load_sequence(synth_root / "jhmdb", f"{s.figure.action}/synth_{s.figure.action}_01")
    for t in (0, 20, 39):
        frame = s.scene.render(t)
        xy = np.round(seq.joints[t]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < 320) & (xy[:, 1] >= 0) & (xy[:, 1] < 240)
        assert inside.all()
        assert (frame.idmap[xy[:, 1], xy[:, 0]] == s.figure.oid).all()


def test_detections_follow_documented_rates(synth_root):
    hits = eligible = fps = total = 0
    for name in mot.list_sequences(synth_root / "mot17"):
        seq = mot.load_sequence(synth_root / "mot17", name)
        for t in range(len(seq)):
            g, d = seq.gt.at(t), seq.det.at(t)
            used = np.zeros(len(d), bool)
            for box, vis in zip(g.boxes, g.vis):
                ious = [(_iou(box, b) if not used[j] else 0.0) for j, b in enumerate(d.boxes)]
                j = int(np.argmax(ious)) if ious else -1
                if vis >= DET_MIN_VIS + 0.05:
                    eligible += 1
                    hits += j >= 0 and ious[j] > 0.5
                if j >= 0 and ious[j] > 0.5:
                    used[j] = True
            fps += int((~used).sum())
            total += 1
        assert seq.det.ids.tolist() == [-1] * len(seq.det)
    recall = hits / eligible
    assert 1 - DET_MISS_RATE - 0.08 < recall <= 1 - DET_MISS_RATE + 0.05
    assert 0.1 < fps / total < 0.8  # Poisson(0.3) false positives plus badly placed true ones


def test_otb_sequence_starting_mid_folder(tmp_path):
    """OTB's BlurCar1 images start at 0247.jpg; the annotation starts with them."""
    img = tmp_path / "BlurCar1" / "img"
    img.mkdir(parents=True)
    for k in (247, 248):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img / f"{k:04d}.jpg")
    writers.write_otb(tmp_path / "BlurCar1" / "groundtruth_rect.txt", [[1, 1, 2, 2], [2, 2, 2, 2]])
    seq = otb.load_sequence(tmp_path, "BlurCar1")
    assert [p.name for p in seq.frames] == ["0247.jpg", "0248.jpg"] and otb.list_sequences(tmp_path) == ["BlurCar1"]
