"""SOT head speed structure: one forward per frame with UniTrack's exact order, the time split, the fast setting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitrack.heads.sot import FAST_OPTIONS, DCFConfig, DCFTracker, track_sequence
from videossl.models import create_model


# small forwards run ~10x faster on one thread than on two on a loaded 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("tiny-resnet")


def moving_blob(n=6, hw=(120, 160), side=20, step=(4, 2)):
    """Normalised ``[n, 3, H, W]`` frames: a textured square moving on a smooth background."""
    g = torch.Generator().manual_seed(0)
    H, W = hw
    bg = torch.nn.functional.interpolate(torch.rand(1, 3, H // 8, W // 8, generator=g), size=hw, mode="bilinear")[0]
    tex = torch.rand(3, side, side, generator=g) * 2 - 1
    frames, boxes = [], []
    for t in range(n):
        x, y = 40 + step[0] * t, 40 + step[1] * t
        f = bg.clone() - 0.5
        f[:, y:y + side, x:x + side] = tex
        frames.append(f)
        boxes.append([x, y, side, side])
    return torch.stack(frames), np.array(boxes, float)


class TwoForwardDCF(DCFTracker):
    """The reference order, unbatched: search crops forward, then the update crop's own forward."""

    def track(self, image):
        c = self.cfg
        windows = np.stack([self.size * f * (1 + c.padding) for f in self.scale_factors])
        x = self.encode(self._crop(image, self.pos, windows)) * self.cos_window
        xf = torch.fft.rfft2(x)
        response = torch.fft.irfft2((xf * self.zf.conj()[None]).sum(1) * self.alphaf, s=(self.s, self.s))
        peak, idx = response.flatten(1).max(1)
        best = int(np.argmax(peak.numpy() * self.scale_penalties))
        r, col = divmod(int(idx[best]), self.s)
        r, col = r - self.s if r > self.s / 2 else r, col - self.s if col > self.s / 2 else col
        self.pos = self.pos + np.array([col, r]) * windows[best] / self.s
        self.size = np.minimum(np.maximum(windows[best] / (1 + c.padding), self.min_sz), self.max_sz)
        z = self.encode(self._crop(image, self.pos, (self.size * (1 + c.padding))[None]))[0]
        self._update(z, c.interp_factor)
        return self.box


def run(tracker_cls, model, frames, box, cfg):
    calls = []

    def encode(x):
        calls.append(len(x))
        return model.encode_frames(x).float()

    tr = tracker_cls(encode, cfg)
    with torch.no_grad():
        tr.init(frames[0], box)
        boxes = [tr.track(f) for f in frames[1:]]
    return np.array(boxes), calls


@pytest.mark.parametrize("interp", [0.01, 0.5])
def test_one_forward_per_frame_matches_two_forward_order(model, interp):
    frames, gt = moving_blob()
    cfg = DCFConfig(crop_size=136, interp_factor=interp)
    ref, ref_calls = run(TwoForwardDCF, model, frames, gt[0], cfg)
    got, calls = run(DCFTracker, model, frames, gt[0], cfg)
    assert ref_calls == [1] + [3, 1] * (len(frames) - 1)
    assert calls == [1, 3] + [4] * (len(frames) - 2)  # update crop of t rides with the search crops of t+1
    np.testing.assert_allclose(got, ref, atol=1e-3)


def test_no_update_drops_the_update_crop(model):
    frames, gt = moving_blob(n=4)
    _, calls = run(DCFTracker, model, frames, gt[0], DCFConfig(crop_size=136, interp_factor=0.0))
    assert calls == [1, 3, 3, 3]


def test_fast_setting_is_a_smaller_crop():
    cfg = DCFConfig(**FAST_OPTIONS)
    assert cfg.crop_size < DCFConfig().crop_size and cfg.crop_size % 8 == 0
    assert DCFConfig().crop_size == 520  # the default stays UniTrack's published setting


class _Seq:
    def __init__(self, frames_uint8, box):
        self.frames = [f"{i:05d}.png" for i in range(len(frames_uint8))]
        self.frame_dir = "/nonexistent"
        self._f = frames_uint8
        self.boxes = box[None]
        self.gt_path = None

    def load_frames(self, idx):
        return self._f[list(idx)]


def test_time_split_separates_features_from_head(model):
    frames, gt = moving_blob(n=5)
    rgb = ((frames.permute(0, 2, 3, 1) + 1) * 120).clamp(0, 255).to(torch.uint8).numpy()
    t = {}
    seen = []
    boxes = track_sequence(_Seq(rgb, gt[0]), model, "cpu", DCFConfig(crop_size=264), timings=t,
                           on_frame=lambda i, f, b: seen.append(i))
    assert boxes.shape == (5, 4) and seen == list(range(5))
    assert t["features"] > 0 and t["tracking"] > 0
    assert t["tracking"] < t["features"]  # the head's own work is a fraction of the forward (measured 2-18 %)


def test_crop_samples_unitrack_crop_chw_grid():
    """Pixel u of an S-pixel crop samples x1 + u (x2 - x1) / (S - 1) (UniTrack's crop_chw): an 8-px window at
    S = 9 is the 9x9 image itself; a 16-px window has every other pixel in its middle and zeros outside."""
    img = torch.rand(3, 9, 9)
    tr = DCFTracker(None, DCFConfig(crop_size=9))
    crops = tr._crop(img, np.array([4.0, 4.0]), np.array([[8.0, 8.0], [16.0, 16.0]]))
    np.testing.assert_allclose(crops[0].numpy(), img.numpy(), atol=1e-6)
    np.testing.assert_allclose(crops[1, :, 2:7, 2:7].numpy(), img[:, ::2, ::2].numpy(), atol=1e-6)
    assert crops[1, :, :2].abs().max() == 0 and crops[1, :, :, 7:].abs().max() == 0
