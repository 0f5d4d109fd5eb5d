"""Real benchmark layouts as published: DAVIS-2016, OTB-2015's irregular sequences, VOT polygons.

Small trees built by hand from the formats' own documentation, with hand-computed answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytest import approx

from unitrack.data import davis, otb, writers
from unitrack.metrics import sot, vos
from videossl.errors import InputError

H, W = 20, 30


# ---------------------------------------------------------------- DAVIS-2016
def _square(r0=5, c0=5, size=10, value=255) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[r0:r0 + size, c0:c0 + size] = value
    return m


def _davis2016(root: Path, masks: dict[str, list[np.ndarray]], split: str = "train") -> Path:
    """The original DAVIS-2016 layout: greyscale 0/255 PNGs, ImageSets/480p/<split>.txt of path pairs."""
    lines = []
    for seq, ms in masks.items():
        (root / "JPEGImages" / "480p" / seq).mkdir(parents=True)
        (root / "Annotations" / "480p" / seq).mkdir(parents=True)
        for t, m in enumerate(ms):
            Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(root / "JPEGImages" / "480p" / seq / f"{t:05d}.jpg")
            Image.fromarray(m, mode="L").save(root / "Annotations" / "480p" / seq / f"{t:05d}.png")
            lines.append(f"/JPEGImages/480p/{seq}/{t:05d}.jpg /Annotations/480p/{seq}/{t:05d}.png")
    (root / "ImageSets" / "480p").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "480p" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def _predictions(run: Path, seq: str, masks: list[np.ndarray]) -> None:
    for t, m in enumerate(masks):
        writers.write_davis_png(run / seq / f"{t:05d}.png", m)


def test_davis2016_layout_detected_listed_and_one_object(tmp_path):
    root = _davis2016(tmp_path / "d16", {"bear": [_square()] * 3, "car": [_square(value=128)] * 2})
    assert davis.detect_format(root) == "davis2016"
    assert davis.list_sequences(root, "train") == ["bear", "car"]
    with pytest.raises(InputError, match=r"480p/val.txt: missing DAVIS-2016 split list \(lists here: train;"):
        davis.list_sequences(root)  # val is the default split
    seq = davis.load_sequence(root, "car")
    assert seq.dataset_format == "davis2016" and seq.object_ids == [1]
    assert set(np.unique(seq.first_mask())) == {0, 1}  # 128 (any non-zero) is the object; 255 is not void
    assert int(seq.load_mask(1).sum()) == 100
    with pytest.raises(InputError, match="unknown DAVIS dataset format"):
        davis.detect_format(root, "davis2018")
    (root / "ImageSets" / "480p" / "train.txt").write_text(
        "/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png\n\nbear/00001.jpg x y\n")
    with pytest.raises(InputError, match=r"train.txt:3: expected '/JPEGImages"):
        davis.list_sequences(root, "train")


def test_davis2016_scores_official_protocol(tmp_path, capsys):
    gt = [_square()] * 4
    gt[2] = _square(value=128)  # any non-zero value is the object
    root = _davis2016(tmp_path / "d16", {"bear": gt}, split="val")
    run = tmp_path / "run"
    # frame 0 and 3 are not scored (wrong on purpose); frame 1 empty: J = 0, F = 0 (no predicted boundary:
    # P = 1, R = 0); frame 2 exact but written with id 2 — in DAVIS-2016 any non-zero is the object: J = F = 1
    _predictions(run, "bear", [np.zeros((H, W), np.uint8), np.zeros((H, W), np.uint8),
                               (_square() > 0).astype(np.uint8) * 2, np.zeros((H, W), np.uint8)])
    res = vos.evaluate(root, run)
    assert res["overall"] == approx({"J_mean": 0.5, "F_mean": 0.5, "JF_mean": 0.5})
    assert capsys.readouterr().err == ""
    # the same masks in the 2017 layout (indexed, id 1) give the same figures
    r17 = tmp_path / "d17"
    for sub in ("JPEGImages", "Annotations"):
        (r17 / sub / "480p" / "bear").mkdir(parents=True)
    for t, m in enumerate(gt):
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(r17 / "JPEGImages" / "480p" / "bear" / f"{t:05d}.jpg")
        writers.write_davis_png(r17 / "Annotations" / "480p" / "bear" / f"{t:05d}.png", (m > 0).astype(np.uint8))
    (r17 / "ImageSets" / "2017").mkdir(parents=True)
    (r17 / "ImageSets" / "2017" / "val.txt").write_text("bear\n")
    run17 = tmp_path / "run17"
    _predictions(run17, "bear", [np.zeros((H, W), np.uint8)] * 2 + [(_square() > 0).astype(np.uint8)] * 2)
    assert vos.evaluate(r17, run17)["overall"] == approx(res["overall"])


def test_davis2016_protocol_on_a_2017_root(tmp_path):
    """``dataset_format='davis2016'`` on the 2017 release: ImageSets/2016 names, objects merged into one."""
    root = tmp_path / "d17"
    two = _square(c0=2, value=1)
    two[5:15, 16:26] = 2
    for sub in ("JPEGImages", "Annotations"):
        (root / sub / "480p" / "dogs").mkdir(parents=True)
    for t in range(3):
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(root / "JPEGImages" / "480p" / "dogs" / f"{t:05d}.jpg")
        writers.write_davis_png(root / "Annotations" / "480p" / "dogs" / f"{t:05d}.png", two)
    for year in ("2016", "2017"):
        (root / "ImageSets" / year).mkdir(parents=True)
        (root / "ImageSets" / year / "val.txt").write_text("dogs\n")
    run = tmp_path / "run"
    _predictions(run, "dogs", [(two > 0).astype(np.uint8)] * 3)  # both dogs, labelled 1
    assert davis.detect_format(root) == "davis2017"
    # 2017: object 1 J = 100/200, object 2 J = 0 -> 0.25; 2016: one object, exact -> 1
    assert vos.evaluate(root, run)["overall"]["J_mean"] == approx(0.25)
    assert vos.evaluate(root, run, dataset_format="davis2016")["overall"]["J_mean"] == approx(1.0)
    assert davis.list_sequences(root, dataset_format="davis2016") == ["dogs"]


def test_missing_vos_prediction_png_is_one_warning(tmp_path, capsys):
    root = _davis2016(tmp_path / "d16", {"bear": [_square()] * 5}, split="val")
    run = tmp_path / "run"
    _predictions(run, "bear", [_square(value=1)] * 5)
    for t in (0, 2, 3, 4):  # 0 and 4 are not scored: only 2 and 3 are missing frames that count
        (run / "bear" / f"{t:05d}.png").unlink()
    res = vos.evaluate(root, run)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {run / 'bear' / '00002.png'}: missing prediction (and 1 more")
    assert "scored as background" in err[0]
    assert res["overall"]["J_mean"] == approx(1 / 3)  # frames 1, 2, 3 scored: 1, 0, 0


def test_unitrack_eval_runs_on_a_davis2016_root(tmp_path):
    from unitrack.cli import main

    root = _davis2016(tmp_path / "d16", {"bear": [_square()] * 4}, split="val")
    run = tmp_path / "run"
    assert main(["eval", "--task", "vos", "--data", str(root), "--model", "tiny-resnet", "--device", "cpu",
                 "--out", str(run), "--opt", "baseline=copy-first"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["overall"] == approx({"J_mean": 1.0, "F_mean": 1.0, "JF_mean": 1.0})


def test_unitrack_eval_on_a_davis2016_train_only_root_with_sequences(tmp_path, capsys):
    """DAVIS-2016 as often downloaded (train.txt only): the error says how to go on, --sequences runs it."""
    from unitrack.cli import main

    root = _davis2016(tmp_path / "d16", {"bear": [_square()] * 3}, split="train")
    args = ["eval", "--task", "vos", "--data", str(root), "--model", "tiny-resnet", "--device", "cpu",
            "--opt", "baseline=copy-first"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 2
    assert "name the sequences with --sequences" in capsys.readouterr().err
    assert main(args + ["--out", str(tmp_path / "b"), "--sequences", "bear"]) == 0
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert m["overall"]["JF_mean"] == approx(1.0)


# ---------------------------------------------------------------- OTB-2015 as published
def _otb_seq(root: Path, folder: str, frames: range, gts: dict[str, str], digits: int = 4) -> Path:
    img = root / folder / "img"
    img.mkdir(parents=True)
    for k in frames:
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img / f"{k:0{digits}d}.jpg")
    for name, text in gts.items():
        (root / folder / name).write_text(text)
    return root


def _rows(n: int, box=(2, 2, 3, 3)) -> str:
    return "".join(",".join(map(str, box)) + "\n" for _ in range(n))


def test_otb_table_ranges(tmp_path, capsys):
    root = _otb_seq(tmp_path, "Football1", range(1, 82), {"groundtruth_rect.txt": _rows(74)})
    seq = otb.load_sequence(root, "Football1")  # 81 images, annotated 1-74 as the OTB table says: no warning
    assert len(seq) == 74 and seq.frames[-1].name == "0074.jpg" and capsys.readouterr().err == ""
    (root / "Football1" / "groundtruth_rect.txt").write_text(_rows(81))
    assert len(otb.load_sequence(root, "Football1")) == 74
    assert "81 boxes but the OTB-100 table annotates frames 1-74 (74)" in capsys.readouterr().err
    _otb_seq(tmp_path, "BlurCar3", range(3, 6), {"groundtruth_rect.txt": _rows(3)})
    seq = otb.load_sequence(root, "BlurCar3")
    assert [p.name for p in seq.frames] == ["0003.jpg", "0004.jpg", "0005.jpg"]
    err = capsys.readouterr().err
    assert "3 boxes for the 357 frames 3-359 of the OTB-100 table; frames 6-359 are not scored" in err
    _otb_seq(tmp_path, "Board", range(1, 3), {"groundtruth_rect.txt": _rows(698)}, digits=5)
    with pytest.raises(InputError, match=r"Board/img/00003.jpg: missing frame"):
        otb.load_sequence(root, "Board")
    assert otb.OTB100["David"] == otb.OTBEntry("David", "David", 300, 770)
    assert otb.OTB100["BlurCar1"].first == 247 and otb.OTB100["BlurCar1"].last == 988 and len(otb.OTB100) == 100


def test_otb_two_target_sequences(tmp_path):
    _otb_seq(tmp_path, "Jogging", range(1, 4), {"groundtruth_rect.1.txt": _rows(3), "groundtruth_rect.2.txt":
                                                 _rows(3, (5, 5, 2, 2))})
    _otb_seq(tmp_path, "Human4", range(1, 3), {"groundtruth_rect.1.txt": _rows(2), "groundtruth_rect.2.txt": _rows(2)})
    _otb_seq(tmp_path, "Pair", range(1, 3), {"groundtruth_rect.1.txt": _rows(2), "groundtruth_rect.2.txt": _rows(2)})
    assert otb.list_sequences(tmp_path) == ["Human4-2", "Jogging-1", "Jogging-2", "Pair-1", "Pair-2"]
    for alias in ("Jogging-2", "Jogging.2", "Jogging_2"):
        seq = otb.load_sequence(tmp_path, alias)
        assert seq.name == "Jogging-2" and seq.gt_path.name == "groundtruth_rect.2.txt"
        np.testing.assert_allclose(seq.boxes[0], [4, 4, 2, 2])  # 1-based on disk, 0-based in memory
    assert otb.load_sequence(tmp_path, "Pair-1").gt_path.name == "groundtruth_rect.1.txt"


def test_otb_mixed_separators_and_short_ground_truth(tmp_path, capsys):
    _otb_seq(tmp_path, "Mine", range(1, 6), {"groundtruth_rect.txt": "1,2\t3 4\n5, 6,\t7  8,\n 9\t10\t11\t12\n"})
    seq = otb.load_sequence(tmp_path, "Mine")
    np.testing.assert_allclose(seq.boxes, [[0, 1, 3, 4], [4, 5, 7, 8], [8, 9, 11, 12]])
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: {tmp_path / 'Mine' / 'groundtruth_rect.txt'}: 3 boxes for 5 frames in "
                   f"{tmp_path / 'Mine' / 'img'}; the last 2 frames are not scored"]


def test_otb_nan_ground_truth_warns_and_scores_as_the_otb_toolkit(tmp_path, capsys):
    _otb_seq(tmp_path, "Gone", range(1, 5), {"groundtruth_rect.txt": "2,2,3,3\n\n2,2,3,3\nNaN,NaN,NaN,NaN\n2,2,3,3\n"})
    seq = otb.load_sequence(tmp_path, "Gone")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {seq.gt_path}:4: ground-truth row is NaN")
    pred = np.tile(seq.boxes[0], (4, 1))
    # OTB: frame 3 fails every IoU threshold but is a hit at every distance; GOT-10k: fails both
    assert sot.sot_metrics(pred, seq.boxes) == approx({"success_auc": 3 * 20 / 21 / 4, "precision_20": 1.0})
    assert sot.sot_metrics(pred, seq.boxes, protocol="got10k") == approx(
        {"success_auc": 3 * 20 / 21 / 4, "precision_20": 0.75})
    # OTB's rule is "all four 1-based values > 0": a box at x = 0 (1-based) is invalid ground truth too
    gt = np.array([[1, 1, 4, 4], [-1, 1, 4, 4]], float)
    assert sot.sot_metrics(np.zeros((2, 4)), gt)["precision_20"] == 1.0
    assert sot.valid_gt(gt).tolist() == [True, False]


def test_sot_nan_and_empty_boxes_carried_forward_as_the_otb_toolkit():
    gt = np.tile([0.0, 0.0, 10.0, 10.0], (4, 1))
    pred = gt.copy()
    pred[2] = np.nan  # all NaN: the previous box
    pred[3] = [50, 50, 0, 10]  # w <= 0: the previous box (already replaced)
    assert sot.sot_metrics(pred, gt) == approx({"success_auc": 20 / 21, "precision_20": 1.0})
    assert sot.sot_metrics(pred, gt, protocol="got10k") == approx({"success_auc": 20 / 21 / 2, "precision_20": 0.5})
    partial = gt.copy()
    partial[1, 0] = np.nan  # one NaN value with a positive size: not replaced, a failure in both
    assert sot.sot_metrics(partial, gt)["precision_20"] == approx(0.75)
    with pytest.raises(ValueError, match="unknown SOT protocol"):
        sot.sot_metrics(pred, gt, protocol="vot")


def test_short_and_long_sot_prediction_files_warn(tmp_path, capsys):
    _otb_seq(tmp_path / "gt", "Run", range(1, 5), {"groundtruth_rect.txt": _rows(4, (1, 1, 10, 10))})
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "Run.txt").write_text(_rows(2, (1, 1, 10, 10)))
    res = sot.evaluate(tmp_path / "gt", pred)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: {pred / 'Run.txt'}: 2 boxes for 4 ground-truth frames; frames 3-4 score as failures "
                   "(as OTB's benchmark code pads them)"]
    assert res["overall"] == approx({"success_auc": 20 / 21 / 2, "precision_20": 0.5})
    (pred / "Run.txt").write_text(_rows(6, (1, 1, 10, 10)))
    assert sot.evaluate(tmp_path / "gt", pred)["overall"] == approx({"success_auc": 20 / 21, "precision_20": 1.0})
    assert "6 boxes for 4 ground-truth frames; the last 2 are not scored" in capsys.readouterr().err


# ---------------------------------------------------------------- VOT
def test_polygon_to_box_conventions():
    square = [[0, 0, 10, 0, 10, 10, 0, 10]]
    diamond = [[5, 0, 10, 5, 5, 10, 0, 5]]
    np.testing.assert_allclose(otb.polygon_to_box(diamond), [[0, 0, 10, 10]])  # VOT toolkit: min/max
    np.testing.assert_allclose(otb.polygon_to_box(square, "area"), [[-0.5, -0.5, 11, 11]])  # pysot / GOT-10k
    w = np.sqrt(0.5) * 10 + 1  # the diamond's area is half its bounds'
    np.testing.assert_allclose(otb.polygon_to_box(diamond, "area"), [[5 - w / 2, 5 - w / 2, w, w]])


@pytest.mark.parametrize("sub", ["color", ""])
def test_vot_sequence_polygons_read_zero_based(tmp_path, capsys, sub):
    seq_dir = tmp_path / "vot" / "ball"
    img = seq_dir / sub if sub else seq_dir
    img.mkdir(parents=True)
    for k in range(1, 5):
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img / f"{k:08d}.jpg")
    (seq_dir / "groundtruth.txt").write_text("5,0,10,5,5,10,0,5\n1.5,2,4,5\n0,0,4,0,4,4,0,4\n")
    assert otb.list_sequences(tmp_path / "vot") == ["ball"]
    seq = otb.load_sequence(tmp_path / "vot", "ball")
    np.testing.assert_allclose(seq.boxes, [[0, 0, 10, 10], [1.5, 2, 4, 5], [0, 0, 4, 4]])
    assert len(seq) == 3 and seq.frames[0].name == "00000001.jpg"
    assert "3 regions for 4 frames" in capsys.readouterr().err
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\nm1,2,3\n")
    with pytest.raises(InputError, match=r"groundtruth.txt:2: VOT mask regions are not supported"):
        otb.load_sequence(tmp_path / "vot", "ball")
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4,5\n")
    with pytest.raises(InputError, match=r"groundtruth.txt:1: expected 4 numbers or an even number"):
        otb.load_sequence(tmp_path / "vot", "ball")


def test_a_single_otb_sequence_folder_is_a_root(tmp_path):
    """A one-sequence download (``Crossing/img`` + ``groundtruth_rect.txt``) given as the root itself."""
    _otb_seq(tmp_path, "Crossing", range(1, 4), {"groundtruth_rect.txt": "3\t4\t5\t6\n" * 3})
    assert otb.list_sequences(tmp_path / "Crossing") == ["Crossing"]
    seq = otb.load_sequence(tmp_path / "Crossing", "Crossing")
    assert len(seq) == 3 and seq.frame_dir == tmp_path / "Crossing" / "img"
    _otb_seq(tmp_path, "Jogging", range(1, 3), {"groundtruth_rect.1.txt": _rows(2), "groundtruth_rect.2.txt": _rows(2)})
    assert otb.list_sequences(tmp_path / "Jogging") == ["Jogging-1", "Jogging-2"]
    assert otb.load_sequence(tmp_path / "Jogging", "Jogging.2").gt_path == tmp_path / "Jogging" / "groundtruth_rect.2.txt"


def test_otb_writer_round_trips_lost_target_rows(tmp_path):
    """A lost target (NaN row) is written as the OTB toolkit writes it and read back as NaN, not a crash."""
    boxes = np.array([[1.5, 2.0, 3.0, 4.0], [np.nan] * 4, [0.0, 0.0, 10.25, 5.0]])
    path = tmp_path / "seq.txt"
    writers.write_otb(path, boxes)
    assert path.read_text().splitlines() == ["2.5,3,3,4", "NaN,NaN,NaN,NaN", "1,1,10.25,5"]
    np.testing.assert_array_equal(otb.read_boxes(path), boxes)
