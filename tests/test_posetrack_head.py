"""PoseTrack head: identities through a crossing and a bounce, UniTrack's skeleton mask, the CLI round trip
(data synth -> eval -> metrics -> track) and one-line errors for a bad keypoints file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unitrack.cli import main
from unitrack.data.posetrack import KEYPOINTS
from unitrack.heads.posetrack import PoseTrackConfig, person_box, skeleton_mask, track_people

pytestmark = pytest.mark.usefixtures("one_thread")
MODEL = "tiny-resnet"
# a standing figure around its centre: 15 visible keypoints (the ears are never annotated in PoseTrack)
_OFFSETS = {"nose": (0, -42), "head_bottom": (0, -34), "head_top": (0, -54), "left_shoulder": (10, -30),
            "right_shoulder": (-10, -30), "left_elbow": (14, -12), "right_elbow": (-14, -12),
            "left_wrist": (16, 4), "right_wrist": (-16, 4), "left_hip": (7, 6), "right_hip": (-7, 6),
            "left_knee": (8, 28), "right_knee": (-8, 28), "left_ankle": (8, 50), "right_ankle": (-8, 50)}


def figure(cx: float, cy: float) -> np.ndarray:
    kp = np.zeros((17, 3))
    for name, (dx, dy) in _OFFSETS.items():
        kp[KEYPOINTS.index(name)] = (cx + dx, cy + dy, 1)
    return kp


class _Clip:
    """In-memory frames (uint8 [T, H, W, 3]) as the sequence object ``SequenceFrames`` reads."""

    def __init__(self, frames):
        self.frames, self.frame_dir = frames, Path("in-memory")
        self.height, self.width, self.fps = frames.shape[1], frames.shape[2], 30.0

    def __len__(self):
        return len(self.frames)

    def load_frames(self, indices):
        return self.frames[list(indices)]


def Frames(frames):
    from unitrack.heads.mot import SequenceFrames

    return SequenceFrames(_Clip(frames))


def two_people(xa, xb, order_seed=0):
    """Frame -> the two persons' keypoints in a shuffled order, and which index is person A."""
    rng = np.random.default_rng(order_seed)
    people, a_index = {}, {}
    for t, (a, b) in enumerate(zip(xa, xb)):
        flip = bool(rng.integers(2))
        people[t] = [figure(b, 112), figure(a, 100)] if flip else [figure(a, 100), figure(b, 112)]
        a_index[t] = int(flip)
    return people, a_index


def identities(result, a_index):
    """Per frame the track id of person A and of person B."""
    ids = []
    for t in sorted(result):
        by_index = dict(result[t])
        ids.append((by_index.get(a_index[t]), by_index.get(1 - a_index[t])))
    return ids


def test_motion_keeps_identities_through_a_crossing():
    """A walks right, B left, their boxes cover each other at frame 6: the Kalman prediction carries both
    through; every person is output in every frame with one id each, whatever their order in the input."""
    xa, xb = np.linspace(40, 280, 13), np.linspace(280, 40, 13)
    people, a_index = two_people(xa, xb)
    reader = Frames(np.zeros((13, 200, 320, 3), np.uint8))
    result = track_people(reader, people, None, PoseTrackConfig(use_appearance=False))
    ids = identities(result, a_index)
    assert ids == [ids[0]] * 13 and ids[0][0] != ids[0][1] and None not in ids[0]


def _bounce_video(xa, xb):
    """A in red and B in blue (filled boxes under their skeletons) on grey."""
    frames = np.full((len(xa), 200, 320, 3), 128, np.uint8)
    for t, (a, b) in enumerate(zip(xa, xb)):
        for x, y, colour in ((a, 100, (220, 30, 30)), (b, 112, (30, 30, 220))):
            x0, y0, w, h = person_box(figure(x, y), 0.5).astype(int)
            frames[t, max(0, y0):y0 + h, max(0, x0):x0 + w] = colour
    return frames


def test_appearance_keeps_identities_where_motion_swaps_them():
    """A and B walk towards each other, meet and turn back: the constant-velocity prediction expects them to
    go on, so motion alone loses both at the turn (outside the Kalman gate), misses a frame and restarts them
    under new ids; the frozen model's appearance (red vs blue, random weights) keeps each id on its person."""
    from videossl.models import create_model

    from unitrack.heads.embed import Embedder

    go = np.linspace(60, 150, 7)
    xa = np.concatenate([go, go[-2::-1]])
    xb = np.concatenate([320 - go, (320 - go)[-2::-1]])
    people, a_index = two_people(xa, xb, order_seed=1)
    reader = Frames(_bounce_video(xa, xb))
    motion = identities(track_people(reader, people, None, PoseTrackConfig(use_appearance=False)), a_index)
    model = create_model(MODEL, pretrained="random").eval()
    seen = identities(track_people(reader, people, Embedder(model, "cpu"), PoseTrackConfig()), a_index)
    assert seen == [seen[0]] * len(xa) and None not in seen[0]
    assert motion[:7] == seen[:7] and motion[7] == (None, None) and not set(motion[-1]) & set(seen[0])


def _unitrack_skltn2mask(points: dict[int, tuple[int, int]], size) -> np.ndarray:
    """UniTrack's ``utils/mask.py:skltn2mask`` on its 2017 joint ids (poseval's 15)."""
    import cv2

    h, w = size
    mask = np.zeros((h, w))
    trunk = np.asarray([points[k] for k in np.array([3, 4, 10, 13, 9]) - 1 if k in points], "int32")
    if len(trunk) > 2:
        cv2.fillConvexPoly(mask, trunk, 1)
    xs, ys = [p[0] for p in points.values()], [p[1] for p in points.values()]
    width = np.max([int(np.max([max(xs) - min(xs), max(ys) - min(ys), 0]) / 20), 8])
    for a, b in [[10, 11], [11, 12], [9, 8], [8, 7], [10, 13], [9, 13], [13, 15], [10, 4], [4, 5], [5, 6],
                 [9, 3], [3, 2], [2, 1]]:
        if a - 1 in points and b - 1 in points:
            cv2.line(mask, points[a - 1], points[b - 1], color=1, thickness=width)
    return mask


def test_skeleton_mask_is_unitracks():
    from unitrack.metrics.posetrack import JOINT_FROM_KEYPOINT

    kp = figure(150.7, 90.2) * [2.5, 2.5, 1]  # a large figure: lines wider than the 8 px minimum
    kp[KEYPOINTS.index("left_knee")] = 0  # an unannotated joint: its limbs are not drawn
    pts = {j: (int(kp[k, 0]), int(kp[k, 1])) for j, k in enumerate(JOINT_FROM_KEYPOINT) if kp[k, 2] > 0}
    ours = skeleton_mask(kp, (400, 500))
    assert ours.sum() > 0 and np.array_equal(ours, _unitrack_skltn2mask(pts, (400, 500)).astype(np.uint8))


def test_unitrack_preset():
    from unitrack.heads.options import config_from_options

    cfg = config_from_options(PoseTrackConfig, {"preset": "unitrack"}, "posetrack")
    assert (cfg.pooling, cfg.mask_cells, cfg.box_margin, cfg.track_buffer, cfg.motion_lambda, cfg.motion_gated,
            cfg.dup_iou_thresh, cfg.confirm_iou_thresh, cfg.confirm_new, cfg.recons_norm) == \
           ("skeleton", 400, 0.5, 6, 0.9999, False, 0.2, 0.6, True, "all")


@pytest.fixture(scope="module")
def tiny_posetrack(tmp_path_factory):
    """One short, small synthetic PoseTrack sequence written by ``unitrack data synth``."""
    from unitrack.data.synth import posetrack as synth

    out = tmp_path_factory.mktemp("pt")
    mp = pytest.MonkeyPatch()
    mp.setattr(synth, "SIZE", (320, 200, 8, 1))
    try:
        assert main(["data", "synth", "--out", str(out), "--tasks", "posetrack"]) == 0
    finally:
        mp.undo()
    return out / "posetrack18"


def test_eval_metrics_track_round_trip(tiny_posetrack, tmp_path, capsys):
    from unitrack.data.posetrack import load_sequence
    from unitrack.metrics.posetrack import evaluate_sequences

    root = tiny_posetrack
    run = tmp_path / "run"
    assert main(["eval", "--task", "posetrack", "--data", str(root), "--model", MODEL, "--pretrained", "random",
                 "--out", str(run), "--device", "cpu", "--no-progress", "--render"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["overall"]) >= {"MOTA", "MOTP", "IDF1", "IDSW", "mAP", "IDF1_person", "HOTA_person"}
    # the ground truth's own keypoints: every person written is a real one, at its place
    assert m["overall"]["MOTP"] == pytest.approx(1.0, abs=1e-3) and m["overall"]["Precision"] == pytest.approx(1.0)
    assert (run / "render" / "posetrack" / "000001_synth.mp4").stat().st_size > 0
    capsys.readouterr()
    assert main(["metrics", "--task", "posetrack", "--gt", str(root), "--pred", str(run / "posetrack"),
                 "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["overall"] == m["overall"]
    # unitrack track on the frame folder with the ground truth's file as the keypoints: same tracker, same figures
    gt_json = root / "annotations" / "val" / "000001_synth.json"
    out = tmp_path / "track"
    assert main(["track", str(root / "images" / "val" / "000001_synth"), "--task", "posetrack", "--keypoints",
                 str(gt_json), "--model", MODEL, "--pretrained", "random", "--out", str(out), "--no-progress"]) == 0
    assert (out / "000001_synth.mp4").stat().st_size > 0
    gt = load_sequence(gt_json, root)
    pred = load_sequence(out / "000001_synth.json", root)
    o = evaluate_sequences({"s": gt}, {"s": pred})["overall"]
    assert o["MOTP"] == pytest.approx(1.0, abs=1e-3) and o["mAP"] == pytest.approx(m["overall"]["mAP"])
    assert o["Recall"] == pytest.approx(m["overall"]["Recall"])


def test_eval_tracks_the_poses_in_obs_when_present(tiny_posetrack, tmp_path, capsys):
    """``ROOT/obs/<split>/<seq>.json`` (a pose estimator's output) replaces the oracle poses; its track ids are
    ignored. Here the file is the ground truth with every id set to 7: the tracker still separates the people."""
    import shutil

    root = tmp_path / "pt"
    shutil.copytree(tiny_posetrack, root)
    d = json.loads((root / "annotations" / "val" / "000001_synth.json").read_text())
    for a in d["annotations"]:
        a["track_id"] = 7
    (root / "obs" / "val").mkdir(parents=True)
    (root / "obs" / "val" / "000001_synth.json").write_text(json.dumps(d))
    assert main(["eval", "--task", "posetrack", "--data", str(root), "--model", MODEL, "--out", str(tmp_path / "run"),
                 "--device", "cpu", "--no-progress", "--opt", "use_appearance=false"]) == 0
    assert "absent" not in capsys.readouterr().err
    pred = json.loads((tmp_path / "run" / "posetrack" / "000001_synth.json").read_text())
    assert len({a["track_id"] for a in pred["annotations"]}) > 1


@pytest.mark.parametrize("content, message", [
    ("{not json", "malformed JSON"),
    ('{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "keypoints": [1, 2]}]}',
     r"annotations\[0\]: 'keypoints' must be 51 numbers"),
    ('{"frames": []}', "no 'images' list"),
    (json.dumps({"images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(50)]}),
     "lists 50 images, the video has 8 frames"),
])
def test_bad_keypoints_file_is_one_line(tiny_posetrack, tmp_path, capsys, content, message):
    import re

    bad = tmp_path / "kp.json"
    bad.write_text(content)
    rc = main(["track", str(tiny_posetrack / "images" / "val" / "000001_synth"), "--task", "posetrack",
               "--keypoints", str(bad), "--model", MODEL, "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(bad) in err[0] and re.search(message, err[0]), err
    assert not (tmp_path / "out").exists()


def test_keypoints_flag_belongs_to_posetrack(tiny_posetrack, tmp_path, capsys):
    rc = main(["track", str(tiny_posetrack / "images" / "val" / "000001_synth"), "--task", "sot", "--box", "1,1,5,5",
               "--keypoints", "x.json", "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--keypoints applies to --task posetrack only" in err[0]
    rc = main(["track", str(tiny_posetrack / "images" / "val" / "000001_synth"), "--task", "posetrack",
               "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 2 and "--task posetrack needs --keypoints" in capsys.readouterr().err


def test_synth_preview_draws_each_person_in_its_colour(tiny_posetrack, tmp_path):
    import cv2

    from unitrack.data.synth.preview import write_previews
    from unitrack.viz import color_for

    (path,) = write_previews({"posetrack": tiny_posetrack}, tmp_path)
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    gt = json.loads((tiny_posetrack / "annotations" / "val" / "000001_synth.json").read_text())
    t = len(gt["images"]) // 2
    ids = {a["track_id"] for a in gt["annotations"] if a["image_id"] == gt["images"][t]["id"]}
    assert ids and all((img == color_for(i + 1)).all(-1).sum() > 20 for i in ids)
