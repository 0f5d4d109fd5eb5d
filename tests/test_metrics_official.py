"""MOT metrics against the official code: real MOT15 files (motmetrics' TUD data) and TrackEval's own
pipeline on MOT17-style edge cases; bad MOT input is one line naming file:line."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pytest import approx

from unitrack.data import mot as motdata
from unitrack.metrics import mot
from videossl.errors import InputError

# TrackEval 1.3 (MotChallenge2DBox, BENCHMARK='MOT15', HOTA + CLEAR + Identity) on motmetrics' TUD files,
# seqinfo as MOT15's: 640x480, TUD-Stadtmitte 179 frames, TUD-Campus 71 frames.
OFFICIAL_TUD = {
    "TUD-Stadtmitte": {"MOTA": 0.5640138408304498, "IDF1": 0.6446194225721785, "HOTA": 0.3978490169927877,
                       "IDSW": 7, "FP": 45, "FN": 452},
    "TUD-Campus": {"MOTA": 0.5264623955431755, "IDF1": 0.5576592082616179, "HOTA": 0.3913974378451139,
                   "IDSW": 7, "FP": 13, "FN": 150},
}
OFFICIAL_TUD_COMBINED = {"MOTA": 0.5551155115511551, "IDF1": 0.6242960579243765, "HOTA": 0.3999570912884786,
                         "IDSW": 14, "FP": 58, "FN": 602}
TUD_FRAMES = {"TUD-Stadtmitte": 179, "TUD-Campus": 71}


def _seqinfo(path: Path, n: int, w: int = 1920, h: int = 1080, fps: int = 30) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "seqinfo.ini").write_text(f"[Sequence]\nname={path.name}\nimDir=img1\nframeRate={fps}\nseqLength={n}\n"
                                      f"imWidth={w}\nimHeight={h}\nimExt=.jpg\n")


def _tud_layout(root: Path) -> Path:
    """``root/train/<SEQ>/{gt/gt.txt, seqinfo.ini}`` and ``root/../pred/<SEQ>.txt`` from motmetrics' package data."""
    import motmetrics

    data = Path(motmetrics.__file__).parent / "data"
    pred = root.parent / "pred" / "mot"
    pred.mkdir(parents=True, exist_ok=True)
    for name, n in TUD_FRAMES.items():
        seq = root / "train" / name
        _seqinfo(seq, n, 640, 480, 25)
        (seq / "gt").mkdir()
        shutil.copy(data / name / "gt.txt", seq / "gt" / "gt.txt")
        shutil.copy(data / name / "test.txt", pred / f"{name}.txt")
    return pred


@pytest.mark.parametrize("folder", ["MOT15", "tud"])  # benchmark from the folder name, or from gt.txt's 10 fields
def test_tud_mot15_equals_trackeval_official(tmp_path, folder, capsys):
    from unitrack.cli import main

    root = tmp_path / folder
    pred = _tud_layout(root)
    assert motdata.sequence_benchmark(root, "TUD-Stadtmitte", root / "train" / "TUD-Stadtmitte" / "gt" / "gt.txt") == "MOT15"
    assert main(["metrics", "--task", "mot", "--gt", str(root), "--pred", str(pred)]) == 0
    rec = json.loads((pred.parent / "metrics.json").read_text())
    for name, figs in OFFICIAL_TUD.items():
        assert rec["per_sequence"][name] == approx(figs, abs=1e-12), name
    assert rec["overall"] == approx(OFFICIAL_TUD_COMBINED, abs=1e-12)
    assert "56.4" in capsys.readouterr().out


def test_tud_world_coordinates_are_not_classes(tmp_path):
    """TUD-Stadtmitte's columns 8-10 are world x, y, z (4.4852, 5.5016, 0): read as MOT15, never as a class."""
    root = tmp_path / "tud"
    _tud_layout(root)
    gt = root / "train" / "TUD-Stadtmitte" / "gt" / "gt.txt"
    rows = motdata.read_mot_txt(gt, 179, "MOT15")
    assert (rows.cls == -1).all() and len(rows) == len(gt.read_text().splitlines())
    assert (motdata.read_mot_txt(gt, 179).cls == -1).all()  # 10 fields: MOT15's layout without being told
    # forced MOT17 rules: one line saying why, naming the file and the line
    with pytest.raises(InputError, match=r"TUD-Stadtmitte/gt/gt\.txt:6: class 16 in column 8 is not a MOTChallenge class"):
        mot.evaluate(root, tmp_path / "pred" / "mot", ["TUD-Stadtmitte"], benchmark="MOT17")


def test_benchmark_detection():
    assert motdata.benchmark_in_names("MOT17-02-FRCNN") == "MOT17"
    assert motdata.benchmark_in_names("MOT20-05") == "MOT20"
    assert motdata.benchmark_in_names("2DMOT2015") == "MOT15"
    assert motdata.benchmark_in_names("mot15") == "MOT15"
    assert motdata.benchmark_in_names("mots20", "TUD-Campus", "MOT170") is None
    assert motdata.sequence_benchmark("/data/MOT15", "MOT17-02") == "MOT17"  # the sequence name wins


# ------------------------------------------------------------------ TrackEval's own pipeline, case by case
def _trackeval(gt_dir: Path, trk_root: Path, seqs: dict[str, int], benchmark: str) -> dict:
    import trackeval

    cfg = {"PRINT_CONFIG": False, "PRINT_RESULTS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
           "PLOT_CURVES": False, "TIME_PROGRESS": False, "USE_PARALLEL": False}
    ds = trackeval.datasets.MotChallenge2DBox({"GT_FOLDER": str(gt_dir), "TRACKERS_FOLDER": str(trk_root),
                                              "SKIP_SPLIT_FOL": True, "SEQ_INFO": dict(seqs), "BENCHMARK": benchmark,
                                              "PRINT_CONFIG": False})
    m = {"PRINT_CONFIG": False}
    with contextlib.redirect_stdout(io.StringIO()):
        res, _ = trackeval.Evaluator(cfg).evaluate(
            [ds], [trackeval.metrics.HOTA(m), trackeval.metrics.CLEAR(m), trackeval.metrics.Identity(m)])
    out = {}
    for seq, r in res["MotChallenge2DBox"]["t"].items():
        r = r["pedestrian"]
        out[seq] = {"MOTA": r["CLEAR"]["MOTA"], "IDF1": r["Identity"]["IDF1"], "HOTA": float(np.mean(r["HOTA"]["HOTA"])),
                    "IDSW": int(r["CLEAR"]["IDSW"]), "FP": int(r["CLEAR"]["CLR_FP"]), "FN": int(r["CLEAR"]["CLR_FN"])}
    return out


def _lines(rows) -> str:
    return "".join(",".join(f"{v:g}" for v in r) + "\n" for r in rows)


def _crossing(rng, n=40, tracks=8, swap_p=0.15, miss_p=0.15):
    """People crossing each other, with identity swaps, fragmented tracks and false positives."""
    gt, pred, nid = [], [], 500
    start, pos = rng.integers(1, n // 2, tracks), rng.uniform([50, 50], [600, 300], (tracks, 2))
    vel = rng.normal(0, 6, (tracks, 2))
    perm = np.arange(tracks)
    for f in range(1, n + 1):
        if rng.random() < swap_p:
            a, b = rng.choice(tracks, 2, replace=False)
            perm[[a, b]] = perm[[b, a]]
        for k in range(tracks):
            if not start[k] <= f < start[k] + n // 2:
                continue
            x, y = pos[k] + vel[k] * (f - start[k])
            gt.append([f, k + 1, x, y, 40, 90, 1, 1, 1])
            if rng.random() > miss_p:
                pred.append([f, perm[k] + 1, x + rng.normal(0, 7), y + rng.normal(0, 7), 40, 90, 1, -1, -1, -1])
        nid += 1
        pred.append([f, nid, *rng.uniform([0, 0], [640, 400]), 40, 90, 1, -1, -1, -1])
    return gt, pred, n


def _cases(rng) -> dict[str, tuple[list, list, int]]:
    cases = {f"MOT17-{k:02d}-CROSS": _crossing(rng) for k in range(1, 4)}
    cases["MOT17-10-DENSE"] = _crossing(rng, n=30, tracks=20, swap_p=0.4, miss_p=0.3)
    # distractors (static person 7, person on vehicle 2, reflection 12, distractor 8), conf-0 rows, a
    # non-MOT vehicle (6: a plain non-pedestrian in MOT17, a distractor in MOT20), a fractional conf (0.6 -> 0)
    g, p = [], []
    for f in range(1, 6):
        for k, (cls, conf) in enumerate([(1, 1), (7, 1), (2, 1), (12, 1), (8, 1), (1, 0), (6, 1), (1, 0.6), (3, 0)]):
            g.append([f, k + 1, 60.0 * k, 10, 40, 80, conf, cls, 1])
            if (f + k) % 4:
                p.append([f, k + 1, 60.0 * k + 3, 12, 40, 80, 1, -1, -1, -1])
    cases["MOT17-11-RULES"] = (g, p, 5)
    cases["MOT20-01-RULES"] = (g, p, 5)
    # IoU exactly 0.5 (a match), just under (no match), a zero-area prediction, a box past the border,
    # identical predictions on one person (tie), a frame without ground truth, an id switch across a gap
    g = [[1, 1, 0, 0, 10, 10, 1, 1, 1], [2, 1, 0, 0, 10, 10, 1, 1, 1], [3, 1, 0, 0, 10, 10, 1, 1, 1],
         [5, 1, 0, 0, 10, 10, 1, 1, 1], [1, 2, 100, 0, 10, 10, 1, 1, 1], [2, 2, 100, 0, 10, 10, 1, 1, 1],
         [3, 2, 1915, 0, 20, 40, 1, 1, 1], [6, 3, 50, 50, 20, 20, 1, 1, 1], [7, 3, 50, 50, 20, 20, 1, 1, 1]]
    p = [[1, 1, 0, 0, 10, 5, 1], [2, 1, 0, 0, 10, 4.99, 1], [3, 1, 0, 0, 0, 10, 1], [5, 9, 0, 0, 10, 10, 1],
         [1, 2, 100, 0, 10, 10, 1], [1, 3, 100, 0, 10, 10, 1], [2, 3, 100, 0, 10, 10, 1], [3, 2, 1916, 1, 20, 40, 1],
         [4, 4, 10, 10, 10, 10, 1], [6, 5, 50, 50, 20, 20, 1], [7, 6, 51, 50, 20, 20, 1]]
    cases["MOT17-13-EDGES"] = (g, p, 8)
    cases["MOT17-02-EMPTY"] = ([[1, 1, 5, 5, 10, 10, 1, 1, 1]], [], 3)  # an empty prediction file
    return cases


def test_clear_identity_hota_equal_trackeval_on_every_case(tmp_path):
    cases = _cases(np.random.default_rng(7))
    for bench in ("MOT17", "MOT20"):
        chosen = {s: c for s, c in cases.items() if s.startswith(bench)}
        gt_root, trk = tmp_path / bench, tmp_path / f"trk-{bench}" / "t" / "data"
        trk.mkdir(parents=True)
        for seq, (g, p, n) in chosen.items():
            _seqinfo(gt_root / "train" / seq, n)
            (gt_root / "train" / seq / "gt").mkdir()
            (gt_root / "train" / seq / "gt" / "gt.txt").write_text(_lines(g))
            (trk / f"{seq}.txt").write_text(_lines(p))
        ours = mot.evaluate(gt_root, trk)
        ref = _trackeval(gt_root / "train", trk.parent.parent, {s: c[2] for s, c in chosen.items()}, bench)
        for seq in chosen:
            assert ours["per_sequence"][seq] == approx(ref[seq], abs=1e-12), seq
        assert ours["overall"] == approx(ref["COMBINED_SEQ"], abs=1e-12)
    # the cases exercise what they claim
    per = mot.evaluate(tmp_path / "MOT17", tmp_path / "trk-MOT17" / "t" / "data")["per_sequence"]
    assert sum(per[s]["IDSW"] for s in per) > 10 and per["MOT17-02-EMPTY"]["FN"] == 1
    rules17 = per["MOT17-11-RULES"]
    rules20 = mot.evaluate(tmp_path / "MOT20", tmp_path / "trk-MOT20" / "t" / "data")["per_sequence"]["MOT20-01-RULES"]
    assert rules20["FP"] < rules17["FP"]  # class 6 is a distractor in MOT20 only


# ------------------------------------------------------------------ bad MOT input: one line naming file:line
def _one_seq(tmp_path, gt_text, pred_text=None, n=3):
    root = tmp_path / "mot17"
    seq = root / "train" / "SEQ-01"
    _seqinfo(seq, n)
    (seq / "gt").mkdir()
    (seq / "gt" / "gt.txt").write_text(gt_text)
    pred = tmp_path / "run" / "mot"
    pred.mkdir(parents=True)
    if pred_text is not None:
        (pred / "SEQ-01.txt").write_text(pred_text)
    return root, pred


GT = "1,1,10,10,20,40,1,1,1\n2,1,11,10,20,40,1,1,1\n"


@pytest.mark.parametrize("gt_text, message", [
    ("1,1,10,10,20,40,1,1,1\n2,1,nan,10,20,40,1,1,1\n", r"gt\.txt:2: NaN in column 3 \(box x\)"),
    ("1,1,10,10,20,40,1,1,1\n2,1,10,10,20,NaN,1,1,1\n", r"gt\.txt:2: NaN in column 6 \(box height\)"),
    ("1,1,10,10,20,40,1,1,1\n\n2,1,10,10,20,inf,1,1,1\n", r"gt\.txt:3: inf in column 6"),
    ("1,1,10,10,20,40,1,nan,1\n", r"gt\.txt:1: NaN in column 8 \(class\)"),
    ("1,1,10,10,20,40,1,1,1\n1,1,30,10,20,40,1,1,1\n", r"gt\.txt:2: id 1 appears twice in frame 1 \(also on line 1\)"),
    ("4,1,10,10,20,40,1,1,1\n", r"gt\.txt:1: bad frame number 4 \(sequence has 3 frames\)"),
])
def test_bad_ground_truth_is_one_line(tmp_path, gt_text, message):
    root, pred = _one_seq(tmp_path, gt_text, GT)
    with pytest.raises(InputError, match=message):
        mot.evaluate(root, pred)


def test_bad_prediction_is_one_line(tmp_path):
    root, pred = _one_seq(tmp_path, GT, "1,1,10,10,20,40,1,-1,-1,-1\n2,3,nan,1,2,3,1,-1,-1,-1\n")
    with pytest.raises(InputError, match=r"SEQ-01\.txt:2: NaN in column 3"):
        mot.evaluate(root, pred)
    (pred / "SEQ-01.txt").write_text("1,1,10,10,20,40,1,2,-1,-1\n")
    with pytest.raises(InputError, match=r"SEQ-01\.txt:1: class 2 in column 8: MOTChallenge scores pedestrians only"):
        mot.evaluate(root, pred)


def test_missing_prediction_file_is_one_warning_line_and_scored_empty(tmp_path, capsys, recwarn):
    from unitrack.cli import main

    root, pred = _one_seq(tmp_path, GT)
    assert main(["metrics", "--task", "mot", "--gt", str(root), "--pred", str(pred)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: ") and "SEQ-01.txt: no prediction file; scored as an empty one" in err
    assert "UserWarning" not in err and len(recwarn) == 0
    rec = json.loads((pred.parent / "metrics.json").read_text())
    assert rec["overall"] == approx({"MOTA": 0.0, "IDF1": 0.0, "HOTA": 0.0, "IDSW": 0, "FP": 0, "FN": 2})


def test_detections_nan_past_length_and_empty_are_noted(tmp_path):
    """det.txt (the MOT head's input): NaN rows and rows past seqLength dropped with one line each naming
    the first line; an empty file tracked through with one notice."""
    from unitrack.heads.mot import detection_rows

    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,10,20,40,0.9\n2,-1,nan,10,20,40,0.9\n7,-1,1,1,5,5,0.9\n9,-1,1,1,5,5,0.9\n3,-1,5,5,9,9,nan\n")
    rows = motdata.read_mot_txt(det, 3, detections=True)
    kept, notes = detection_rows(rows, 3, det)
    assert kept.line.tolist() == [1]
    assert notes == [f"{det}:2: NaN in a detection; 2 such row(s) dropped",
                     f"{det}:3: detection in frame 7, past seqLength 3; 2 such row(s) dropped"]
    det.write_text("")
    kept, notes = detection_rows(motdata.read_mot_txt(det, 3, detections=True), 3, det)
    assert len(kept) == 0 and notes == [f"{det}: no detections (empty file); this sequence's predictions will be empty"]
    det.write_text("1,-1,10,10,20,40,0.9\n2,-1,nan,10,20,40,0.9\n")
    with pytest.raises(InputError, match=r"det\.txt:2: NaN in column 3"):  # not a detection reader: strict
        motdata.read_mot_txt(det, 3)
