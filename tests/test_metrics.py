"""Hand-computed answers for every tracking metric (perfect, empty, all-wrong, identity swap, partial overlap)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from unitrack.metrics import METRIC_KEYS, mot, mots, pose, report, sot, vos

approx = pytest.approx


# ---------------------------------------------------------------- SOT (OTB / GOT-10k)
GT_BOX = np.array([0.0, 0.0, 10.0, 10.0])


def test_sot_perfect_is_20_of_21():
    # IoU = 1 is "greater" than 20 of the 21 thresholds (not than 1.0): the GOT-10k maximum is 20/21.
    gt = np.tile([10, 10, 20, 20], (6, 1)).astype(float)
    assert sot.sot_metrics(gt, gt) == approx({"success_auc": 20 / 21, "precision_20": 1.0})


def test_sot_empty_and_all_wrong_keep_first_frame():
    gt = np.tile(GT_BOX, (5, 1))
    # The first predicted box is replaced by the ground truth; the 4 missing frames are failures.
    assert sot.sot_metrics(np.zeros((0, 4)), gt) == approx({"success_auc": 20 / 21 / 5, "precision_20": 0.2})
    far = np.tile([500.0, 500.0, 10.0, 10.0], (5, 1))
    assert sot.sot_metrics(far, gt) == approx({"success_auc": 20 / 21 / 5, "precision_20": 0.2})
    nan = np.full((5, 4), np.nan)
    assert sot.sot_metrics(nan, gt) == approx({"success_auc": 20 / 21 / 5, "precision_20": 0.2})


def test_sot_partial_overlap():
    gt = np.tile(GT_BOX, (2, 1))
    pred = np.array([[0, 0, 10, 10], [5, 0, 10, 10]], float)  # frame 2: IoU 50/150 = 1/3, centre error 5
    # frame 1 passes 20 thresholds, frame 2 passes t = 0, .05, ..., .30 (7 thresholds)
    assert sot.sot_metrics(pred, gt) == approx({"success_auc": (20 + 7) / 2 / 21, "precision_20": 1.0})


def test_sot_thresholds_strict_iou_inclusive_distance():
    gt = GT_BOX[None]
    half = np.array([[0, 0, 10, 5.0]])  # IoU exactly 0.5: passes t = 0 .. 0.45 only (strictly greater)
    assert sot.sot_metrics(half, gt, replace_first=False)["success_auc"] == approx(10 / 21)
    assert sot.sot_metrics(np.array([[20.0, 0, 10, 10]]), gt, replace_first=False)["precision_20"] == 1.0
    assert sot.sot_metrics(np.array([[21.0, 0, 10, 10]]), gt, replace_first=False)["precision_20"] == 0.0


def test_sot_dataset_is_mean_of_curves_and_empty_gt():
    gt = {"a": np.tile(GT_BOX, (2, 1)), "b": np.tile(GT_BOX, (4, 1))}
    res = sot.evaluate_arrays(gt, {"a": gt["a"]})  # b has no prediction: 1 of 4 frames
    assert res["per_sequence"]["b"]["precision_20"] == approx(0.25)
    assert res["overall"] == approx({"success_auc": (20 / 21 + 20 / 21 / 4) / 2, "precision_20": (1 + 0.25) / 2})
    assert sot.evaluate_arrays({"e": np.zeros((0, 4))}, {})["overall"] == {"success_auc": 0.0, "precision_20": 0.0}
    assert sot.evaluate_arrays({}, {})["overall"] == {"success_auc": 0.0, "precision_20": 0.0}


# ---------------------------------------------------------------- VOS (DAVIS-2017)
def test_seg2bmap_square_and_tolerance():
    seg = np.zeros((8, 8), bool)
    seg[2:5, 2:5] = True  # boundary offset half a pixel towards the origin: rows/cols 1..4 minus the 2x2 interior
    assert int(vos.seg2bmap(seg).sum()) == 12
    assert vos.bound_pixels((480, 854)) == 8  # ceil(0.008 * 979.6)
    assert vos.bound_pixels((100, 100)) == 2
    assert vos.disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def _square(shape, y, x, s=10, label=1):
    m = np.zeros(shape, np.uint8)
    m[y:y + s, x:x + s] = label
    return m


def test_vos_frame_measures():
    g = _square((100, 100), 20, 20).astype(bool)
    assert vos.jaccard(g, g) == 1.0 and vos.f_boundary(g, g) == 1.0
    shifted = _square((100, 100), 20, 21).astype(bool)  # 1 px: inside the 2 px tolerance
    assert vos.jaccard(g, shifted) == approx(90 / 110)
    assert vos.f_boundary(g, shifted) == 1.0
    far = _square((100, 100), 60, 60).astype(bool)
    assert vos.jaccard(g, far) == 0.0 and vos.f_boundary(g, far) == 0.0
    empty = np.zeros_like(g)
    assert vos.jaccard(g, empty) == 0.0 and vos.f_boundary(g, empty) == 0.0
    assert vos.jaccard(empty, empty) == 1.0 and vos.f_boundary(empty, empty) == 1.0
    void = np.zeros_like(g)
    void[60:80, 60:80] = True  # a wrong prediction inside a void region does not count
    assert vos.jaccard(g, g | far, void) == 1.0 and vos.f_boundary(g, g | far, void) == 1.0


def test_vos_first_last_frames_not_scored_and_object_mean():
    shape = (40, 40)
    two = _square(shape, 2, 2) + _square(shape, 20, 20, label=2)
    gt_a = np.stack([two] * 4)
    pred_a = gt_a.copy()
    pred_a[0] = 0
    pred_a[-1] = 0  # wrong first and last frames are not scored
    gt_b = np.stack([_square(shape, 5, 5)] * 3)
    pred_b = np.zeros_like(gt_b)  # all wrong on its one scored frame
    res = vos.evaluate_arrays({"a": gt_a, "b": gt_b}, {"a": pred_a, "b": pred_b})
    assert res["per_sequence"]["a"] == approx({"J_mean": 1.0, "F_mean": 1.0, "JF_mean": 1.0})
    assert res["per_sequence"]["b"] == approx({"J_mean": 0.0, "F_mean": 0.0, "JF_mean": 0.0})
    # mean over the 3 objects of all sequences, not over the 2 sequences
    assert res["overall"] == approx({"J_mean": 2 / 3, "F_mean": 2 / 3, "JF_mean": 2 / 3})
    missing = vos.evaluate_arrays({"a": gt_a}, {})
    assert missing["overall"]["JF_mean"] == 0.0
    assert vos.evaluate_arrays({}, {})["overall"] == {"J_mean": 0.0, "F_mean": 0.0, "JF_mean": 0.0}


def test_vos_partial_overlap_sequence():
    gt = np.stack([_square((100, 100), 20, 20)] * 3)
    pred = np.stack([_square((100, 100), 20, 21)] * 3)
    res = vos.evaluate_arrays({"s": gt}, {"s": pred})["overall"]
    assert res == approx({"J_mean": 9 / 11, "F_mean": 1.0, "JF_mean": (9 / 11 + 1) / 2})


# ---------------------------------------------------------------- MOT (TrackEval CLEAR + Identity + HOTA)
def _gt_rows(frames=3, ids=(1, 2), cls=1, conf=1):
    return np.array([[f, i, 20.0 * i, 0, 10, 10, conf, cls, 1] for f in range(1, frames + 1) for i in ids])


def _pred(gt):
    return np.concatenate([gt[:, :6], np.ones((len(gt), 1)), -np.ones((len(gt), 3))], axis=1)


def test_mot_perfect_empty_allwrong():
    gt = _gt_rows()
    res = mot.evaluate_arrays({"s": gt}, {"s": _pred(gt)})["overall"]
    assert res == approx({"MOTA": 1.0, "IDF1": 1.0, "HOTA": 1.0, "IDSW": 0, "FP": 0, "FN": 0})
    assert mot.evaluate_arrays({"s": gt}, {})["overall"] == approx(
        {"MOTA": 0.0, "IDF1": 0.0, "HOTA": 0.0, "IDSW": 0, "FP": 0, "FN": 6})
    wrong = _pred(gt)
    wrong[:, 2] += 500
    assert mot.evaluate_arrays({"s": gt}, {"s": wrong})["overall"] == approx(
        {"MOTA": 1 - 12 / 6, "IDF1": 0.0, "HOTA": 0.0, "IDSW": 0, "FP": 6, "FN": 6})
    # no ground truth: the zero denominator is taken as 1 (TrackEval), MOTA = -FP
    assert mot.evaluate_arrays({"s": np.zeros((0, 9))}, {"s": _pred(gt)})["overall"] == approx(
        {"MOTA": -6.0, "IDF1": 0.0, "HOTA": 0.0, "IDSW": 0, "FP": 6, "FN": 0})
    assert mot.evaluate_arrays({"s": np.zeros((0, 9))}, {})["overall"]["FP"] == 0
    assert mot.evaluate_arrays({}, {})["overall"]["MOTA"] == 0.0


def test_mot_identity_swap():
    gt = _gt_rows()
    pred = _pred(gt)
    later = pred[:, 0] >= 2
    pred[later, 1] = 3 - pred[later, 1]  # ids 1 <-> 2 from frame 2 on
    res = mot.evaluate_arrays({"s": gt}, {"s": pred})["overall"]
    # IDSW 2 -> MOTA 1 - 2/6; best identity map keeps 2 of 3 frames per track -> IDTP 4, IDF1 8/12;
    # HOTA: DetA 1, AssA = (2 * (1 * 1/5 + 2 * 2/4)) / 6 = 0.4
    assert res == approx({"MOTA": 2 / 3, "IDF1": 2 / 3, "HOTA": 0.4 ** 0.5, "IDSW": 2, "FP": 0, "FN": 0})


def test_mot_partial_overlap_thresholds():
    gt = _gt_rows(frames=1, ids=(1,))
    half = _pred(gt)
    half[:, 5] = 5  # IoU exactly 0.5: a match (MOTChallenge: IoU >= 0.5)
    assert mot.evaluate_arrays({"s": gt}, {"s": half})["overall"]["MOTA"] == 1.0
    less = _pred(gt)
    less[:, 5] = 4.5  # IoU 0.45: FP + FN
    assert mot.evaluate_arrays({"s": gt}, {"s": less})["overall"]["MOTA"] == approx(-1.0)
    p62 = _pred(gt)
    p62[:, 5] = 6.2  # IoU 0.62: HOTA matched for alpha = 0.05 .. 0.60 -> 12 of 19
    assert mot.evaluate_arrays({"s": gt}, {"s": p62})["overall"]["HOTA"] == approx(12 / 19)


def test_mot_challenge_rules():
    ped = _gt_rows(frames=1, ids=(1,))
    static = _gt_rows(frames=1, ids=(2,), cls=7)
    gt = np.concatenate([ped, static])
    res = mot.evaluate_arrays({"s": gt}, {"s": _pred(gt)})["overall"]
    assert (res["FP"], res["FN"], res["MOTA"]) == (0, 0, 1.0)  # prediction on a static person removed
    zero = _gt_rows(frames=1, ids=(3,), conf=0)  # conf 0: ignored, a miss there is no FN
    assert mot.evaluate_arrays({"s": np.concatenate([ped, zero])}, {"s": _pred(ped)})["overall"]["FN"] == 0
    mot15 = _gt_rows(frames=1, ids=(1, 2), cls=-1)  # MOT15: no classes, every box counts
    assert mot.evaluate_arrays({"s": mot15}, {"s": _pred(mot15)[:1]}, benchmark="MOT15")["overall"]["FN"] == 1


# ---------------------------------------------------------------- MOTS (MOTS20)
def _obj(frame, oid, y, x, h=10, w=10, shape=(40, 60), cls=2):
    m = np.zeros(shape, np.uint8)
    m[y:y + h, x:x + w] = 1
    return (frame, oid, cls, mots.encode_mask(m))


def test_mots_perfect_partial_empty():
    gt = [_obj(f, 2001, 5, 5) for f in (1, 2)]
    assert mots.evaluate_arrays({"s": gt}, {"s": gt})["overall"] == approx(
        {"sMOTSA": 1.0, "MOTSA": 1.0, "IDF1": 1.0, "IDSW": 0})
    part = [_obj(f, 7, 5, 5, h=8) for f in (1, 2)]  # IoU 0.8 -> soft TP 0.8 each
    assert mots.evaluate_arrays({"s": gt}, {"s": part})["overall"] == approx(
        {"sMOTSA": 0.8, "MOTSA": 1.0, "IDF1": 1.0, "IDSW": 0})
    half = [_obj(f, 7, 5, 5, h=5) for f in (1, 2)]  # IoU exactly 0.5: a match (TrackEval: IoU >= 0.5)
    assert mots.evaluate_arrays({"s": gt}, {"s": half})["overall"] == approx(
        {"sMOTSA": 0.5, "MOTSA": 1.0, "IDF1": 1.0, "IDSW": 0})
    less = [_obj(f, 7, 5, 5, h=4) for f in (1, 2)]  # IoU 0.4: a miss and a false positive per frame
    assert mots.evaluate_arrays({"s": gt}, {"s": less})["overall"] == approx(
        {"sMOTSA": -1.0, "MOTSA": -1.0, "IDF1": 0.0, "IDSW": 0})
    assert mots.evaluate_arrays({"s": gt}, {})["overall"] == approx(
        {"sMOTSA": 0.0, "MOTSA": 0.0, "IDF1": 0.0, "IDSW": 0})
    assert mots.evaluate_arrays({"s": []}, {"s": gt})["overall"] == approx(
        {"sMOTSA": -2.0, "MOTSA": -2.0, "IDF1": 0.0, "IDSW": 0})
    assert mots.evaluate_arrays({}, {})["overall"]["sMOTSA"] == 0.0


def test_mots_identity_swap_and_ignore_region():
    gt = [_obj(f, 2001, 5, 5) for f in (1, 2)] + [_obj(f, 2002, 5, 30) for f in (1, 2)]
    pred = [_obj(1, 1, 5, 5), _obj(1, 2, 5, 30), _obj(2, 2, 5, 5), _obj(2, 1, 5, 30)]
    # 4 TP, IDSW 2 -> MOTSA (4 - 0 - 2)/4; identity: each track keeps 1 of 2 frames -> IDF1 2*2/8
    assert mots.evaluate_arrays({"s": gt}, {"s": pred})["overall"] == approx(
        {"sMOTSA": 0.5, "MOTSA": 0.5, "IDF1": 0.5, "IDSW": 2})
    ign = [_obj(1, 10000, 20, 0, h=20, w=60, cls=10)]
    base = [_obj(1, 2001, 5, 5)]
    inside = [_obj(1, 2001, 5, 5), _obj(1, 3, 22, 10)]  # unmatched, fully inside the ignore region
    assert mots.evaluate_arrays({"s": base + ign}, {"s": inside})["overall"]["MOTSA"] == 1.0
    straddle = [_obj(1, 2001, 5, 5), _obj(1, 3, 15, 10)]  # exactly half inside: still a FP (> 0.5)
    assert mots.evaluate_arrays({"s": base + ign}, {"s": straddle})["overall"]["MOTSA"] == 0.0
    other = [_obj(1, 2001, 5, 5), _obj(1, 1005, 22, 40, cls=1)]  # class 1 predictions are not evaluated
    assert mots.evaluate_arrays({"s": base}, {"s": other})["overall"]["MOTSA"] == 1.0


# ---------------------------------------------------------------- Pose (JHMDB PCK)
def _skeleton(T=3, w=30.0, h=40.0):
    # 15 joints in a w x h box (integer coordinates): normaliser 0.6 * hypot(w, h) = 30 for 30 x 40
    base = np.array([[0.0, 0.0], [w, h]] + [[w / 2, h / 2]] * 13)
    return np.stack([base + 5 * t for t in range(T)])


def test_pose_normaliser_and_inclusive_threshold():
    gt = _skeleton()
    assert pose.pck(gt, gt) == {"PCK@0.1": 1.0, "PCK@0.2": 1.0}
    for dx, expect in ((3.0, (1.0, 1.0)), (3.1, (0.0, 1.0)), (6.1, (0.0, 0.0))):
        pred = gt + [dx, 0.0]
        pred[0] = -100  # first frame not scored
        r = pose.pck(gt, pred)
        assert (r["PCK@0.1"], r["PCK@0.2"]) == approx(expect), dx


def test_pose_pooled_per_joint_mean_invisible_and_empty():
    a, b = _skeleton(T=3), _skeleton(T=2)
    pa, pb = a.copy(), b.copy()
    pb[1, 0] += 100  # joint 0 wrong in b's only scored frame
    res = pose.evaluate_arrays({"a": a, "b": b}, {"a": pa, "b": pb})
    # joint 0 pooled over 3 scored frames: 2/3; other 14 joints 1 -> (14 + 2/3) / 15
    assert res["overall"]["PCK@0.1"] == approx((14 + 2 / 3) / 15)
    assert res["per_sequence"]["b"]["PCK@0.2"] == approx(14 / 15)
    hidden = a.copy()
    hidden[1:, 3] = np.nan  # invisible joints are not scored (and leave the mean over joints)
    wrong = a.copy()
    wrong[:, 3] += 100
    assert pose.pck(hidden, wrong)["PCK@0.1"] == 1.0
    assert pose.evaluate_arrays({"a": a}, {})["overall"] == {"PCK@0.1": 0.0, "PCK@0.2": 0.0}
    assert pose.evaluate_arrays({"e": np.zeros((0, 15, 2))}, {})["overall"] == {"PCK@0.1": 0.0, "PCK@0.2": 0.0}


# ---------------------------------------------------------------- report
def test_report_json_and_table(tmp_path):
    gt = _gt_rows()
    res = mot.evaluate_arrays({"MOT17-02": gt}, {"MOT17-02": _pred(gt)})
    path = report.write_metrics_json(tmp_path, "mot", res, model="m", dataset="mot17", fps=12.5, machine="test")
    rec = json.loads(path.read_text())
    assert set(rec) == {"task", "model", "dataset", "overall", "per_sequence", "fps", "machine"}
    assert set(rec["overall"]) == set(METRIC_KEYS["mot"]) and isinstance(rec["overall"]["FP"], int)
    table = report.format_table("mot", res)
    assert "100.0" in table and "overall" in table and "MOT17-02" in table


# ---------------------------------------------------------------- on disk: readers + CLI
def _tiny_layouts(root):
    """One sequence per task in the contract's layouts, with perfect predictions under root/run/<task>."""
    import scipy.io
    from PIL import Image

    from unitrack.data import writers

    def img(path, h=24, w=32):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(path)

    run = root / "run"
    boxes = np.array([[2.0, 3, 8, 6], [3, 3, 8, 6], [4, 4, 8, 6]])
    for t in range(3):
        img(root / "otb" / "Toy" / "img" / f"{t + 1:04d}.jpg")
    writers.write_otb(root / "otb" / "Toy" / "groundtruth_rect.txt", boxes)
    writers.write_otb(run / "sot" / "Toy.txt", boxes)

    d = root / "davis"
    (d / "ImageSets" / "2017").mkdir(parents=True)
    (d / "ImageSets" / "2017" / "val.txt").write_text("toy\n")
    for t in range(4):
        img(d / "JPEGImages" / "480p" / "toy" / f"{t:05d}.jpg")
        m = _square((24, 32), 2 + t, 2, s=6) + _square((24, 32), 12, 20, s=5, label=2)
        writers.write_davis_png(d / "Annotations" / "480p" / "toy" / f"{t:05d}.png", m)
        writers.write_davis_png(run / "vos" / "toy" / f"{t:05d}.png", m)

    for task, name in (("mot", "mot17"), ("mots", "mots20")):
        s = root / name / "train" / "TOY-01"
        s.mkdir(parents=True)
        (s / "seqinfo.ini").write_text("[Sequence]\nname=TOY-01\nimDir=img1\nframeRate=30\nseqLength=3\n"
                                       "imWidth=32\nimHeight=24\nimExt=.jpg\n")
        (s / "gt").mkdir()
        f = np.repeat(np.arange(3), 2)
        ids = np.tile([1, 2], 3)
        if task == "mot":
            b = np.array([[1.0 + t, 2, 6, 10] if i == 1 else [16.0, 4 + t, 6, 10] for t, i in zip(f, ids)])
            writers.write_mot(s / "gt" / "gt.txt", f, ids, b, cls=np.ones(6), vis=np.ones(6))
            writers.write_mot(run / "mot" / "TOY-01.txt", f, ids, b)
        else:
            masks = [(_square((24, 32), 2, 1 + t, s=6) if i == 1 else _square((24, 32), 12, 16, s=5)).astype(bool)
                     for t, i in zip(f, ids)]
            writers.write_mots(s / "gt" / "gt.txt", f, 2000 + ids, np.full(6, 2), masks=masks)
            writers.write_mots(run / "mots" / "TOY-01.txt", f, 2000 + ids, np.full(6, 2), masks=masks)

    j = root / "jhmdb" / "joint_positions" / "walk" / "toy"
    j.mkdir(parents=True)
    joints = _skeleton(T=3)
    scipy.io.savemat(j / "joint_positions.mat", {"pos_img": (joints + 1).transpose(2, 1, 0)})
    writers.write_pose_json(run / "pose" / "toy.json", joints)
    return run


PERFECT = {"sot": {"success_auc": 20 / 21, "precision_20": 1.0},
           "vos": {"J_mean": 1.0, "F_mean": 1.0, "JF_mean": 1.0},
           "mot": {"MOTA": 1.0, "IDF1": 1.0, "HOTA": 1.0, "IDSW": 0, "FP": 0, "FN": 0},
           "mots": {"sMOTSA": 1.0, "MOTSA": 1.0, "IDF1": 1.0, "IDSW": 0},
           "pose": {"PCK@0.1": 1.0, "PCK@0.2": 1.0}}
ROOTS = {"sot": "otb", "vos": "davis", "mot": "mot17", "mots": "mots20", "pose": "jhmdb"}


def test_evaluate_on_disk_and_cli(tmp_path, capsys):
    import unitrack.metrics as M
    from unitrack.cli import main

    run = _tiny_layouts(tmp_path)
    for task, root in ROOTS.items():
        res = M.evaluate(task, tmp_path / root, run / task)
        assert res["overall"] == approx(PERFECT[task]), task
        assert len(res["per_sequence"]) == 1
        # an empty prediction folder scores, without a crash
        empty = tmp_path / "empty" / task
        empty.mkdir(parents=True)
        with warnings.catch_warnings(record=True) as caught:  # vos warns; the others print one warning: line
            warnings.simplefilter("always")
            M.evaluate(task, tmp_path / root, empty)
        said = capsys.readouterr().err + " ".join(str(w.message) for w in caught)
        assert "no prediction file" in said, task
    assert main(["metrics", "--task", "mot", "--gt", str(tmp_path / "mot17"), "--pred", str(run / "mot")]) == 0
    rec = json.loads((run / "metrics.json").read_text())
    assert rec["task"] == "mot" and rec["overall"]["IDSW"] == 0 and rec["dataset"] == "mot17"
    assert "100.0" in capsys.readouterr().out
    assert main(["metrics", "--task", "sot", "--gt", str(tmp_path / "otb"), "--pred", str(tmp_path / "nope")]) == 2


def test_vos_crop_equals_full_frame():
    rng = np.random.default_rng(1)
    gt = np.zeros((6, 60, 80), np.uint8)
    pred = np.zeros_like(gt)
    for t in range(6):
        for k in (1, 2):
            y, x = rng.integers(0, 50), rng.integers(0, 70)  # touching the frame edges sometimes
            gt[t, y:y + rng.integers(3, 15), x:x + rng.integers(3, 15)] = k
            y, x = rng.integers(0, 50), rng.integers(0, 70)
            pred[t, y:y + rng.integers(3, 15), x:x + rng.integers(3, 15)] = k
    gt[2, 0:5, 0:80] = vos.VOID
    J, F = vos.sequence_scores(gt, pred)
    for col, t in enumerate(range(1, 5)):
        void = gt[t] == vos.VOID
        for k in (1, 2):
            assert J[k - 1, col] == approx(vos.jaccard(gt[t] == k, pred[t] == k, void))
            assert F[k - 1, col] == approx(vos.f_boundary(gt[t] == k, pred[t] == k, void))


# ---------------------------------------------------------------- against TrackEval's own MOTChallenge pipelines
def _trackeval_run(dataset, metrics):
    import contextlib
    import io

    import trackeval

    cfg = {"PRINT_CONFIG": False, "PRINT_RESULTS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
           "PLOT_CURVES": False, "TIME_PROGRESS": False, "USE_PARALLEL": False}
    with contextlib.redirect_stdout(io.StringIO()):
        res, _ = trackeval.Evaluator(cfg).evaluate([dataset], metrics)
    return next(iter(res.values()))["t"]["COMBINED_SEQ"]["pedestrian"]


def _seqinfo(path, n, h=1080, w=1920):
    path.mkdir(parents=True, exist_ok=True)
    (path / "seqinfo.ini").write_text(f"[Sequence]\nname={path.name}\nimDir=img1\nframeRate=30\nseqLength={n}\n"
                                      f"imWidth={w}\nimHeight={h}\nimExt=.jpg\n")


def test_mot_equals_trackeval_motchallenge(tmp_path):
    import trackeval

    from unitrack.data import writers

    rng = np.random.default_rng(3)
    n, gt, pred, nid = 60, [], [], 1000
    start, pos, vel = rng.integers(1, 40, 12), rng.uniform([0, 0], [900, 500], (12, 2)), rng.normal(0, 3, (12, 2))
    for f in range(1, n + 1):
        alive = [k for k in range(12) if start[k] <= f < start[k] + 30]
        swap = rng.random() < 0.15 and len(alive) > 1
        a, b = rng.choice(alive, 2, replace=False) if swap else (-1, -1)
        for k in alive:
            x, y = pos[k] + vel[k] * (f - start[k])
            gt.append([f, k + 1, x, y, 40, 90, 0 if k == 5 else 1, 7 if k == 3 else (2 if k == 8 else 1), 1])
            if rng.random() < 0.9:
                j = b if k == a else a if k == b else k
                pred.append([f, j + 1, x + rng.normal(0, 6), y + rng.normal(0, 6), 40, 90])
        nid += 1
        pred.append([f, nid, *rng.uniform([0, 0], [900, 500]), 40, 90])
    gt, pred = np.array(gt), np.array(pred)
    seq = tmp_path / "gt" / "train" / "MOT17-SYN"
    _seqinfo(seq, n)
    writers.write_mot(seq / "gt" / "gt.txt", gt[:, 0] - 1, gt[:, 1], gt[:, 2:6] - [1, 1, 0, 0], gt[:, 6], gt[:, 7], gt[:, 8])
    trk = tmp_path / "trk" / "t" / "data"
    writers.write_mot(trk / "MOT17-SYN.txt", pred[:, 0] - 1, pred[:, 1], pred[:, 2:6] - [1, 1, 0, 0])
    ours = mot.evaluate(tmp_path / "gt", trk)["overall"]
    ds = trackeval.datasets.MotChallenge2DBox({"GT_FOLDER": str(seq.parent), "TRACKERS_FOLDER": str(tmp_path / "trk"),
                                              "SKIP_SPLIT_FOL": True, "SEQ_INFO": {"MOT17-SYN": n},
                                              "PRINT_CONFIG": False})
    cfg = {"PRINT_CONFIG": False}
    r = _trackeval_run(ds, [trackeval.metrics.HOTA(cfg), trackeval.metrics.CLEAR(cfg), trackeval.metrics.Identity(cfg)])
    assert ours["IDSW"] > 0 and ours["FP"] > 0 and ours["FN"] > 0
    assert ours == approx({"MOTA": r["CLEAR"]["MOTA"], "IDF1": r["Identity"]["IDF1"], "HOTA": np.mean(r["HOTA"]["HOTA"]),
                           "IDSW": r["CLEAR"]["IDSW"], "FP": r["CLEAR"]["CLR_FP"], "FN": r["CLEAR"]["CLR_FN"]})


def test_mots_equals_trackeval_motschallenge(tmp_path):
    import trackeval

    from unitrack.data import writers

    rng = np.random.default_rng(4)
    n, H, W = 30, 60, 120
    gt_rows, pred_rows = [], []
    for f in range(n):
        taken = np.zeros((H, W), bool)
        for k in range(4):
            y, x = 5 + 12 * k, int(5 + 2.5 * f + 3 * k) % 90
            m = np.zeros((H, W), bool)
            m[y:y + 10, x:x + 12] = True
            m &= ~taken
            taken |= m
            gt_rows.append((f, 2001 + k, 2, m))
            if rng.random() < 0.85:
                shift = int(rng.integers(-4, 5))  # |shift| 4 gives IoU exactly 0.5: TrackEval matches it (mots_tools would not)
                p = np.roll(m, shift, axis=1)
                pid = 1 + (k if not (f > 15 and k < 2) else 1 - k)  # identity swap of tracks 0 and 1
                pred_rows.append((f, 2000 + pid, 2, p))
        ign = np.zeros((H, W), bool)
        ign[52:60, 0:60] = True
        gt_rows.append((f, 10000, 10, ign & ~taken))
        fp = np.zeros((H, W), bool)
        fp[53:59, int(rng.integers(0, 100)):][:, :12] = True  # sometimes inside the ignore region
        pred_rows.append((f, 2050, 2, fp & ~np.any([p[3] for p in pred_rows if p[0] == f], axis=0)))
    seq = tmp_path / "gt" / "train" / "MOTS20-SYN"
    _seqinfo(seq, n, H, W)
    for rows, path in ((gt_rows, seq / "gt" / "gt.txt"), (pred_rows, tmp_path / "trk" / "t" / "data" / "MOTS20-SYN.txt")):
        rows = [r for r in rows if r[3].any()]
        writers.write_mots(path, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], masks=[r[3] for r in rows])
    ours = mots.evaluate(tmp_path / "gt", tmp_path / "trk" / "t" / "data")["overall"]
    ds = trackeval.datasets.MOTSChallenge({"GT_FOLDER": str(seq.parent), "TRACKERS_FOLDER": str(tmp_path / "trk"),
                                           "SKIP_SPLIT_FOL": True, "SEQ_INFO": {"MOTS20-SYN": n}, "PRINT_CONFIG": False})
    cfg = {"PRINT_CONFIG": False}
    r = _trackeval_run(ds, [trackeval.metrics.CLEAR(cfg), trackeval.metrics.Identity(cfg)])
    assert ours["IDSW"] > 0
    assert ours == approx({"sMOTSA": r["CLEAR"]["sMOTA"], "MOTSA": r["CLEAR"]["MOTA"], "IDF1": r["Identity"]["IDF1"],
                           "IDSW": r["CLEAR"]["IDSW"]})


# ---------------------------------------------------------------- the synthetic benchmark: ground truth as predictions
def test_synthetic_benchmark_ground_truth_scores_perfect(tmp_path):
    import shutil

    import unitrack.metrics as M
    from unitrack.data import davis, jhmdb, otb, writers
    from unitrack.data import mot as motd
    from unitrack.data import mots as motsd
    from unitrack.data.synth import ensure_benchmark

    roots = {task: ensure_benchmark(task) for task in ROOTS}
    run = tmp_path / "run"
    for name in otb.list_sequences(roots["sot"]):
        writers.write_otb(run / "sot" / f"{name}.txt", otb.load_sequence(roots["sot"], name).boxes)
    for name in davis.list_sequences(roots["vos"]):
        shutil.copytree(roots["vos"] / "Annotations" / "480p" / name, run / "vos" / name)
    for name in motd.list_sequences(roots["mot"]):
        g = motd.load_sequence(roots["mot"], name).gt
        g = g.select((g.conf != 0) & ((g.cls == 1) | (g.cls == -1)))
        writers.write_mot(run / "mot" / f"{name}.txt", g.frame, g.ids, g.boxes)
    for name in motsd.list_sequences(roots["mots"]):
        g = motsd.load_sequence(roots["mots"], name).gt
        keep = np.flatnonzero(g.class_id == 2)
        writers.write_mots(run / "mots" / f"{name}.txt", g.frame[keep], g.obj_id[keep], g.class_id[keep],
                           rles=[g.rles[i] for i in keep])
    for name in jhmdb.list_sequences(roots["pose"]):
        writers.write_pose_json(run / "pose" / f"{name.split('/')[1]}.json", jhmdb.load_sequence(roots["pose"], name).joints)
    for task, root in roots.items():
        res = M.evaluate(task, root, run / task)
        assert res["overall"] == approx(PERFECT[task]), task
        assert len(res["per_sequence"]) >= 1


def test_bad_input_is_one_clear_error():
    gt = _gt_rows(frames=1, ids=(1,))
    dup = np.concatenate([_pred(gt), _pred(gt)])
    with pytest.raises(ValueError, match="same ID more than once.*frame: 1"):
        mot.evaluate_arrays({"s": gt}, {"s": dup})
    with pytest.raises(ValueError, match="prediction shape"):
        vos.sequence_scores(np.zeros((3, 4, 4), np.uint8), np.zeros((3, 4, 5), np.uint8))
    rec = report.build_record("sot", {"overall": {"success_auc": float("nan")}, "per_sequence": {}}, machine="m")
    assert rec["overall"]["success_auc"] is None
