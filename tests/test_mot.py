"""MOT/MOTS association heads: Kalman numbers by hand, matching, life cycle, crossing, bad input, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unitrack.heads.association import matching
from unitrack.heads.association.kalman import CHI2INV95, KalmanFilter, tlwh_to_xyah, xyah_to_tlwh
from unitrack.heads.association.tracker import (CONFIRMED, LOST, TENTATIVE, AssociationTracker, Detections,
                                                TrackerConfig)

OPEN = TrackerConfig(min_box_area=0, max_aspect=None)


# -- Kalman filter ---------------------------------------------------------------------------
def test_kalman_initiate_predict_update_by_hand():
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[100.0, 200.0, 0.5, 100.0]]))
    # std: position 2 * h / 20 = 10, velocity 10 * h / 160 = 6.25, aspect 1e-2 / 1e-5
    assert np.allclose(np.sqrt(np.diag(cov[0])), [10, 10, 1e-2, 10, 6.25, 6.25, 1e-5, 6.25])
    mean, cov = kf.predict(mean, cov)
    # P_xx = 100 + 6.25^2 (velocity) + 5^2 (process noise h / 20) = 164.0625
    assert cov[0, 0, 0] == pytest.approx(164.0625)
    assert cov[0, 0, 4] == pytest.approx(39.0625)
    mean, cov = kf.update(mean, cov, np.array([[102.0, 200.0, 0.5, 100.0]]))
    # S = 164.0625 + 25 (measurement noise), gain 164.0625 / 189.0625 on x, 39.0625 / 189.0625 on vx
    assert mean[0, 0] == pytest.approx(100 + 2 * 164.0625 / 189.0625)
    assert mean[0, 4] == pytest.approx(2 * 39.0625 / 189.0625)
    assert cov[0, 0, 0] == pytest.approx(164.0625 - 164.0625**2 / 189.0625)


def test_kalman_vectorised_and_gating():
    kf = KalmanFilter()
    z = np.array([[100.0, 200.0, 0.5, 100.0], [400.0, 300.0, 0.4, 50.0]])
    m, c = kf.predict(*kf.initiate(z))
    m1, c1 = kf.predict(*kf.initiate(z[1:]))
    assert np.allclose(m[1], m1[0]) and np.allclose(c[1], c1[0])  # rows independent
    d = kf.gating_distance(m[:1], c[:1], np.array([[110.0, 200.0, 0.5, 100.0]]))
    assert d[0, 0] == pytest.approx(100 / 189.0625)  # only x differs by 10
    assert CHI2INV95[4] == pytest.approx(9.4877)
    assert np.allclose(xyah_to_tlwh(tlwh_to_xyah([[10, 20, 30, 60]])), [[10, 20, 30, 60]])


# -- matching --------------------------------------------------------------------------------
def test_linear_assignment_hand_case():
    cost = np.array([[0.1, 0.9], [0.2, 0.3], [0.9, np.inf]])
    m, ur, uc = matching.linear_assignment(cost, 0.5)
    assert sorted(map(tuple, m.tolist())) == [(0, 0), (1, 1)]
    assert ur.tolist() == [2] and uc.tolist() == []
    m, ur, uc = matching.linear_assignment(np.zeros((0, 3)), 0.5)
    assert len(m) == 0 and uc.tolist() == [0, 1, 2]


def test_iou_and_mask_iou():
    iou = matching.box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30], [3, 3, 3, 3]])
    assert np.allclose(iou, [[50 / 150, 0, 0]])
    from pycocotools import mask as mu

    a = np.zeros((20, 20), np.uint8, order="F"); a[:10, :10] = 1
    b = np.zeros((20, 20), np.uint8, order="F"); b[5:15, :10] = 1
    cost = matching.mask_iou_cost([mu.encode(a)], [mu.encode(b), mu.encode(a)])
    assert np.allclose(cost, [[1 - 50 / 150, 0]])


def test_recons_cost_equals_the_explicit_reconstruction():
    """The Gram-matrix form gives the costs of building both reconstructions explicitly (UniTrack's
    formula, per pair), dead (all-zero) cells included."""
    g = torch.Generator().manual_seed(3)
    tm, dm = torch.randn(4, 16, 2, 3, generator=g), torch.randn(5, 16, 2, 3, generator=g)
    tm[1, :, 0, 1] = 0
    dm[2] = tm[0] + 0.2 * torch.randn(16, 2, 3, generator=g)
    expected = np.ones((4, 5))
    for i in range(4):
        for j in range(5):
            t = F.normalize(tm[i].flatten(1), dim=0).T  # [P, C] unit cells
            d = F.normalize(dm[j].flatten(1), dim=0).T
            aff = 100.0 * t @ d.T
            rec_t, rec_d = aff.softmax(1) @ d, aff.softmax(0).T @ t
            cos = lambda x, y: float(F.normalize(x.flatten(), dim=0) @ F.normalize(y.flatten(), dim=0))  # noqa: E731
            expected[i, j] = 1 - 0.5 * (cos(rec_t, t) + cos(rec_d, d))
    assert np.allclose(matching.recons_cost(tm, dm), np.clip(expected, 0, 1), atol=1e-5)
    assert matching.recons_cost(tm, dm)[0, 2] < 0.1  # a noisy copy is close


def test_recons_cost_identity_and_gating():
    g = torch.Generator().manual_seed(0)
    maps = F.normalize(torch.randn(3, 8, 4, 10, generator=g), dim=1)
    cost = matching.recons_cost(maps, maps)
    assert np.allclose(np.diag(cost), 0, atol=1e-4) and (cost[~np.eye(3, dtype=bool)] > 0.2).all()
    pairs = np.eye(3, dtype=bool)
    assert np.allclose(matching.recons_cost(maps, maps, pairs=pairs)[~pairs], 1.0)
    kf = KalmanFilter()
    m, c = kf.initiate(np.array([[100.0, 200.0, 0.5, 100.0]]))
    fused = matching.fuse_motion(kf, np.array([[0.1, 0.1]]), m, c, np.array([[100, 200, .5, 100], [900, 200, .5, 100]]))
    assert fused[0, 0] == pytest.approx(0.98 * 0.1) and np.isinf(fused[0, 1])


# -- state machine ---------------------------------------------------------------------------
def _det(boxes, maps=None):
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return Detections(b, np.full(len(b), 0.9), maps)


def test_life_cycle_transitions():
    tr = AssociationTracker(OPEN.replace(track_buffer=3))
    out = tr.update(_det([[10, 10, 40, 100]]))
    assert [t.state for t in out] == [CONFIRMED]  # frame 1: confirmed at once
    tr.update(_det([[12, 10, 40, 100], [300, 10, 40, 100]]))
    states = {t.track_id: t.state for t in tr.tracks}
    assert states == {1: CONFIRMED, 2: TENTATIVE}
    tr.update(_det([[14, 10, 40, 100]]))  # the tentative one misses once: removed
    assert {t.track_id: t.state for t in tr.tracks} == {1: CONFIRMED}
    for _ in range(3):
        assert tr.update(_det([])) == []
        assert tr.tracks[0].state == LOST
    tr.update(_det([]))  # past the buffer of 3 frames: removed
    assert tr.tracks == []


def test_lost_track_reidentified_within_buffer():
    tr = AssociationTracker(OPEN)
    for k in range(5):
        tr.update(_det([[10 + 2 * k, 10, 40, 100]]))
    for _ in range(5):
        tr.update(_det([]))
    out = tr.update(_det([[30, 10, 40, 100]]))
    assert [t.track_id for t in out] == [1]


def _crossing_scene(T=30, reverse_at=12, seed=0):
    """Two look-alike-in-motion objects meet, overlap and turn back: motion alone swaps them."""
    g = torch.Generator().manual_seed(seed)
    protos = F.normalize(torch.randn(2, 16, 4, 10, generator=g), dim=1)
    xs, v = np.array([100.0, 300.0]), np.array([8.0, -8.0])
    for t in range(T):
        if t == reverse_at:
            v = -v
        maps = F.normalize(protos + 0.1 * torch.randn(2, 16, 4, 10, generator=g), dim=1)
        yield np.array([[xs[0], 200, 40, 100], [xs[1], 200, 40, 100]]), maps
        xs = xs + v


def _identities(cfg):
    tr, seen = AssociationTracker(cfg), {0: set(), 1: set()}
    for boxes, maps in _crossing_scene():
        for t in tr.update(_det(boxes, maps)):
            seen[int(np.argmin(np.abs(boxes[:, 0] - t.tlwh[0])))].add(t.track_id)
    return seen


@pytest.mark.parametrize("appearance", ["recons", "cosine"])
def test_appearance_keeps_identities_through_crossing(appearance):
    assert _identities(OPEN.replace(appearance=appearance)) == {0: {1}, 1: {2}}
    motion = _identities(OPEN.replace(use_appearance=False))
    assert motion[0] != {1} or motion[1] != {2}  # the case is hard for motion alone


def test_empty_and_missing_detections():
    from unitrack.heads.mot import clean_detections

    tr = AssociationTracker(OPEN)
    assert tr.update(_det([])) == [] and tr.update(_det(np.zeros((0, 4)))) == []
    dets = {1: np.array([[-50, -50, 20, 20, 0.9], [10, 10, 0, 30, 0.9], [630, 10, 50, 50, 0.9]]),
            7: np.array([[1, 1, 5, 5, 0.9]]), 2: np.zeros((0, 5))}
    clean, notes = clean_detections(dets, num_frames=3, image_hw=(480, 640))
    assert list(clean) == [1] and np.allclose(clean[1], [[630, 10, 50, 50, 0.9]])  # kept unclipped
    assert len(notes) == 2 and "frame 8 of 3" in notes[0]  # 0-based key 7 = file frame 8


# -- the eval runner on a hand-made MOTChallenge layout ------------------------------------------
def _write_mot_root(root, n=12, size=(96, 128), seqs=("SEQ-01", "SEQ-02")):
    """Two coloured boxes crossing the frame, with gt.txt and slightly jittered det.txt (1-based files)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    H, W = size
    for s in seqs:
        d = root / "train" / s
        for sub in ("img1", "gt", "det"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "seqinfo.ini").write_text(f"[Sequence]\nname={s}\nimDir=img1\nframeRate=30\nseqLength={n}\n"
                                       f"imWidth={W}\nimHeight={H}\nimExt=.jpg\n")
        gt, det = [], []
        for f in range(n):
            img = np.full((H, W, 3), 80, np.uint8)
            for k, (x, col) in enumerate([(8 + 4 * f, (230, 40, 40)), (100 - 4 * f, (40, 230, 40))]):
                img[30:70, x:x + 20] = col
                gt.append(f"{f + 1},{k + 1},{x + 1},31,20,40,1,1,1")
                det.append(f"{f + 1},-1,{x + 1 + rng.normal(0, 0.5):.2f},31,20,40,0.9,-1,-1,-1")
            Image.fromarray(img).save(d / "img1" / f"{f + 1:06d}.jpg")
        (d / "gt" / "gt.txt").write_text("\n".join(gt) + "\n")
        (d / "det" / "det.txt").write_text("\n".join(det) + "\n")
    return root


MOTION_ONLY = {"tracker": {"use_appearance": False, "min_box_area": 0}}


def test_eval_runner_motion_only_resume_and_bad_input(tmp_path, capsys):
    from unitrack.eval import evaluate_task
    from videossl.errors import InputError

    root = _write_mot_root(tmp_path / "mot")
    run = tmp_path / "run"
    m = evaluate_task("mot", root, out=run, options=MOTION_ONLY, progress=False)
    assert m["overall"]["MOTA"] == pytest.approx(1.0) and m["overall"]["IDSW"] == 0
    saved = json.loads((run / "metrics.json").read_text())
    assert set(saved) >= {"task", "model", "dataset", "overall", "per_sequence", "fps", "machine"}
    first = (run / "mot" / "SEQ-01.txt").read_text()
    assert first.splitlines()[0].endswith(",-1,-1,-1")

    # resume: a finished sequence is not re-run (its file is left byte for byte)
    (run / "mot" / "SEQ-02.txt").unlink()
    evaluate_task("mot", root, out=run, options=MOTION_ONLY, progress=False)
    assert (run / "mot" / "SEQ-01.txt").read_text() == first and (run / "mot" / "SEQ-02.txt").exists()

    # an empty detection file is tracked through (no tracks) with one notice; a detection on a frame past
    # seqLength is dropped with one warning naming its line (the README's promise), the sequence still scored
    (root / "train" / "SEQ-01" / "det" / "det.txt").write_text("")
    det2 = root / "train" / "SEQ-02" / "det" / "det.txt"
    good = det2.read_text()
    det2.write_text(good + "99,-1,1,1,10,10,0.9,-1,-1,-1\n")
    run2 = tmp_path / "run2"
    m2 = evaluate_task("mot", root, out=run2, options=MOTION_ONLY, progress=False)
    err = capsys.readouterr().err
    assert "SEQ-01/det/det.txt: no detections (empty file)" in err
    assert "SEQ-02/det/det.txt:25: detection in frame 99, past seqLength 12; 1 such row(s) dropped" in err
    assert (run2 / "mot" / "SEQ-01.txt").read_text() == ""
    assert m2["per_sequence"]["SEQ-01"]["FN"] == 24 and m2["per_sequence"]["SEQ-02"]["MOTA"] == pytest.approx(1.0)
    # a NaN detection: dropped, the warning names the line and says NaN
    det2.write_text(good.replace("\n", "\nnan,-1,1,1,10,10,0.9,-1,-1,-1\n", 1).replace("nan,-1,1", "3,-1,nan", 1))
    run3 = tmp_path / "run3"
    evaluate_task("mot", root, out=run3, options=MOTION_ONLY, progress=False)
    assert "SEQ-02/det/det.txt:2: NaN in a detection; 1 such row(s) dropped" in capsys.readouterr().err
    # a malformed line is one InputError line, and the other sequence is still written and scored
    det2.write_text(good + "3,-1,abc,1,10,10,0.9,-1,-1,-1\n")
    run4 = tmp_path / "run4"
    with pytest.raises(InputError, match="1 sequence"):
        evaluate_task("mot", root, out=run4, options=MOTION_ONLY, progress=False)
    assert "det.txt:25: not a number" in capsys.readouterr().err
    assert (run4 / "mot" / "SEQ-01.txt").read_text() == ""
    assert not (run4 / "mot" / "SEQ-02.txt").exists()
    assert json.loads((run4 / "metrics.json").read_text())["per_sequence"]["SEQ-01"]["FN"] == 24


def _write_mots_root(root, n=10, size=(64, 96)):
    """One MOTS20 sequence: two overlapping rectangles (overlap resolved in the gt), pedestrians (class 2)."""
    from PIL import Image

    from unitrack.data.writers import write_mots

    H, W = size
    d = root / "train" / "MOTS-01"
    (d / "img1").mkdir(parents=True)
    (d / "seqinfo.ini").write_text(f"[Sequence]\nname=MOTS-01\nimDir=img1\nframeRate=30\nseqLength={n}\n"
                                   f"imWidth={W}\nimHeight={H}\nimExt=.jpg\n")
    frames, ids, masks = [], [], []
    for f in range(n):
        img = np.full((H, W, 3), 60, np.uint8)
        taken = np.zeros((H, W), bool)
        for k, x in enumerate([5 + 3 * f, 60 - 2 * f]):
            m = np.zeros((H, W), bool)
            m[10:50, x:x + 16] = True
            m &= ~taken
            taken |= m
            img[m] = (200, 50, 50) if k == 0 else (50, 50, 200)
            frames.append(f), ids.append(2001 + k), masks.append(m)
        Image.fromarray(img).save(d / "img1" / f"{f + 1:06d}.jpg")
    write_mots(d / "gt" / "gt.txt", np.array(frames), np.array(ids), np.full(len(ids), 2), masks=masks)
    return root


def test_mots_runner_motion_only_disjoint_masks(tmp_path):
    from pycocotools import mask as mu

    from unitrack.data.mots import read_mots_txt
    from unitrack.eval import evaluate_task

    root = _write_mots_root(tmp_path / "mots")
    m = evaluate_task("mots", root, out=tmp_path / "run", options={"tracker": {"use_appearance": False}},
                      progress=False)
    assert m["overall"]["IDSW"] == 0 and m["overall"]["sMOTSA"] > 0.9
    pred = read_mots_txt(tmp_path / "run" / "mots" / "MOTS-01.txt")
    for f in np.unique(pred.frame):
        r = pred.at(f).rles
        assert all(mu.area(mu.merge([a, b], intersect=True)) == 0 for i, a in enumerate(r) for b in r[i + 1:])


# -- end to end through the CLI with a tiny random model ----------------------------------------
def test_cli_eval_mot_end_to_end_tiny_resnet(tmp_path, capsys):
    """``unitrack eval --task mot --model tiny-resnet --render`` on a tiny MOTChallenge layout (12 frames)."""
    from unitrack.cli import main

    root = _write_mot_root(tmp_path / "mot")
    run = tmp_path / "run"
    argv = ["eval", "--task", "mot", "--data", str(root), "--model", "tiny-resnet", "--out", str(run),
            "--device", "cpu", "--render"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "MOTA" in out and "overall" in out
    m = json.loads((run / "metrics.json").read_text())
    assert m["task"] == "mot" and m["model"] == "tiny-resnet" and m["fps"] > 0
    assert set(m["overall"]) >= {"MOTA", "IDF1", "HOTA", "IDSW", "FP", "FN"}
    assert m["overall"]["IDF1"] > 0.5 and isinstance(m["overall"]["IDSW"], int)
    seqs = sorted(p.stem for p in (run / "mot").glob("*.txt"))
    assert seqs == sorted(m["per_sequence"]) == ["SEQ-01", "SEQ-02"]
    assert all((run / "render" / "mot" / f"{s}.mp4").stat().st_size > 0 for s in seqs)
    assert m["time_split_s"]["features"] > 0
    assert main(argv) == 0  # re-run: everything resumed, nothing recomputed, same metrics
    assert json.loads((run / "metrics.json").read_text())["overall"] == m["overall"]


def test_eval_default_synthetic_benchmark(tmp_path, monkeypatch):
    """No data given: the cached synthetic benchmark is generated on first use (here in a tmp cache)."""
    from unitrack.eval import evaluate_task

    monkeypatch.setenv("UNITRACK_CACHE", str(tmp_path / "cache"))
    for task, keys in (("mot", {"MOTA", "IDF1", "HOTA"}), ("mots", {"sMOTSA", "MOTSA", "IDF1", "IDSW"})):
        m = evaluate_task(task, None, out=tmp_path / "run" / task, options={"tracker": {"use_appearance": False}},
                          sequences=["SYNTH-01"], progress=False)
        assert m["dataset"] == f"synthetic-{task}" and set(m["overall"]) >= keys
        assert m["overall"]["IDF1"] > 0.5


# -- appearance: centring and the track's map memory --------------------------------------------
class _OffsetModel(torch.nn.Module):
    """Features = a large constant every position shares + a small per-colour signal (weak backbones look
    like this): without centring every pair of boxes looks alike."""

    mean, std, stride = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 8

    def encode_frames(self, x):
        small = F.avg_pool2d(x, 8)  # [N, 3, h, w] colour at stride 8
        return torch.cat([small, torch.full_like(small[:, :1], 20.0).expand(-1, 5, -1, -1)], 1)


def test_centred_features_separate_identities():
    from unitrack.heads.embed import Embedder

    img = np.full((1, 64, 96, 3), 100, np.uint8)
    img[0, 8:56, 8:32] = (200, 60, 60)  # red person
    img[0, 8:56, 56:80] = (60, 60, 200)  # blue person
    boxes = [np.array([[8, 8, 32, 56], [56, 8, 80, 56]], np.float32)]
    costs = {}
    for centre in (False, True):
        emb = Embedder(_OffsetModel(), "cpu", centre=centre)
        maps = emb.pool_boxes(emb.features(img), boxes, (64, 96))[0]
        costs[centre] = matching.recons_cost(maps, maps)
    assert costs[False][0, 1] < 0.05  # raw: different people cost almost nothing
    assert costs[True][0, 1] > 0.5 and costs[True][0, 0] < 0.01  # centred: they are far apart, self is 0


def test_track_map_memory_is_an_ema():
    cfg = OPEN.replace(map_alpha=0.7)
    tr = AssociationTracker(cfg)
    a = F.normalize(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1), dim=1)
    b = F.normalize(torch.tensor([0.0, 1.0]).view(1, 2, 1, 1), dim=1)
    box = np.array([[10.0, 10.0, 20.0, 40.0]])
    tr.update(Detections(box, np.array([0.9]), a))
    tr.update(Detections(box, np.array([0.9]), b))
    m = tr.tracks[0].maps.flatten()
    assert torch.allclose(m, F.normalize(torch.tensor([0.7, 0.3]), dim=0))  # 0.7 old + 0.3 new, unit length


def test_output_gap_writes_a_missed_frame_at_the_kalman_prediction():
    from unitrack.heads import mot

    class Blank:  # motion only: no pixel is read
        height, width = 200, 300

        def __len__(self):
            return 6

    dets = {f: np.array([[10.0 + 10 * f, 50.0, 20.0, 50.0, 0.9]]) for f in (0, 1, 2, 3, 5)}  # frame 4 missed
    cfg = OPEN.replace(use_appearance=False, output_gap=0)
    assert [r[0] for r in mot.track_boxes(Blank(), dets, None, cfg)] == [0, 1, 2, 3, 5]  # UniTrack: matched only
    gap = mot.track_boxes(Blank(), dets, None, cfg.replace(output_gap=1))
    assert [r[0] for r in gap] == [0, 1, 2, 3, 4, 5] and len({r[1] for r in gap}) == 1
    # frame 4's box is the Kalman prediction from frames 0-3
    tr = AssociationTracker(cfg)
    for f in range(4):
        tr.update(Detections(dets[f][:, :4], dets[f][:, 4]))
    mean, _ = KalmanFilter().predict(tr.tracks[0].mean[None], tr.tracks[0].cov[None])
    np.testing.assert_allclose(gap[4][2:6], xyah_to_tlwh(mean[0, :4])[0], atol=1e-9)
    # an object gone for good is written for output_gap frames, then no more
    gone = mot.track_boxes(Blank(), {f: dets[f] for f in (0, 1, 2)}, None, cfg.replace(output_gap=2))
    assert [r[0] for r in gone] == [0, 1, 2, 3, 4]


def test_refuse_ambiguous_keeps_clear_winners_only():
    inf = np.inf
    c = np.array([[0.20, 0.25, inf],   # row 0's best is 0.05 from its runner-up: refused at margin 0.1
                  [0.60, inf, 0.30],   # row 1's best, 0.3 at column 2, is 0.3 clear of its row and column
                  [inf, 0.24, inf]])   # column 1: 0.24 is 0.01 from row 0's 0.25: refused
    out = matching.refuse_ambiguous(c, 0.1)
    assert np.isfinite(out).sum() == 1 and out[1, 2] == 0.30
    assert np.isfinite(matching.refuse_ambiguous(c, 0.01)).sum() == 3  # each row's best, 0.01 clear or more
    np.testing.assert_array_equal(matching.refuse_ambiguous(c, 0.0), c)


def test_max_speed_keeps_a_lost_track_from_jumping_to_a_look_alike():
    maps = F.normalize(torch.ones(1, 8, 4, 10), dim=1)  # one appearance: only motion can tell
    cfg = OPEN.replace(motion_gated=False, motion_lambda=1.0)

    def last_ids(c):
        tr = AssociationTracker(c)
        for k in range(3):
            tr.update(_det([[10 + 2 * k, 10, 40, 100]], maps))
        tr.update(_det([]))
        return [t.track_id for t in tr.update(_det([[400, 10, 40, 100]], maps))]  # 390 px away 2 frames later

    assert last_ids(cfg) == [1]  # appearance alone re-finds it there
    assert last_ids(cfg.replace(max_speed=3.0)) == []  # 100 px x (0.5 + 3 x 2/30) = 70 px reach: a new track
