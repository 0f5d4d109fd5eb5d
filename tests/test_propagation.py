"""Propagation core (vos/pose) and the DCF (sot): known answers on synthetic features and images.

Features here are built by hand (random textures that move by known amounts) so every expected
answer is exact; the heads' file handling runs on tiny DAVIS layouts written in a tmp dir with a
fixed, model-free "pixel" encoder (average pooling + a fixed random projection).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unitrack.heads.propagation import (LabelPropagator, PropagationConfig, dense_propagate_reference, l2n,
                                        propagate_frame)


def _texture(c, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(c, h, w, generator=g)


def _iou(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.mark.parametrize("radius,tile,h,w", [(3.5, 4, 13, 18), (5.0, 8, 48, 20), (12.0, 8, 30, 41)])
def test_local_window_equals_dense_masked(radius, tile, h, w):
    """Same features, same labels: the tiled local computation = UniTrack's dense-then-mask one."""
    torch.manual_seed(0)
    cfg = PropagationConfig(radius=radius, topk=10, tile=tile)
    keys = l2n(torch.randn(5, 16, h, w))
    q = l2n(torch.randn(16, h, w))
    lbl = torch.rand(5, 3, h, w)
    ours = propagate_frame(q, keys[0], lbl[0], keys[1:], lbl[1:], cfg)
    ref = dense_propagate_reference(q, keys, lbl, 1, cfg)
    assert torch.allclose(ours, ref, atol=1e-5)
    # short-term memory only (no long-term frame)
    ours = propagate_frame(q, None, None, keys[1:3], lbl[1:3], cfg)
    ref = dense_propagate_reference(q, keys[1:3], lbl[1:3], 0, cfg)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_default_geometry_equals_dense_reference():
    """UniTrack's setting (radius 12 > tile, top-k 10) on a map large enough for the grouped first-frame
    candidates, with image borders on every side, a partly filled ring and several objects: the same
    soft labels as the dense-then-mask reference."""
    from unitrack.heads.propagation import _LocalGeometry

    torch.manual_seed(1)
    h, w, c = 50, 45, 32
    cfg = PropagationConfig()
    keys = l2n(torch.randn(6, c, h, w))
    lbl = torch.softmax(3 * torch.randn(6, 4, h, w), dim=1)
    geom = _LocalGeometry(h, w, cfg.radius, cfg.tile, "cpu")
    ring = geom.pad_keys(keys[1:])  # 5 slots, the first 3 in use
    for q in l2n(torch.randn(2, c, h, w)):
        ours = propagate_frame(q, keys[0], lbl[0], ring, lbl[1:4], cfg, geom, padded=True)
        ref = dense_propagate_reference(q, keys[:4], lbl[:4], 1, cfg)
        assert (ours - ref).abs().max() <= 1e-5
    # every real affinity negative: an unmasked zero-padded key (outside the image) would win
    shift = torch.zeros(c, 1, 1)
    shift[0] = 4.0
    pos, neg = l2n(torch.randn(6, c, h, w) + shift), l2n(torch.randn(c, h, w) - shift)
    ours = propagate_frame(neg, pos[0], lbl[0], geom.pad_keys(pos[1:]), lbl[1:4], cfg, geom, padded=True)
    assert (ours - dense_propagate_reference(neg, pos[:4], lbl[:4], 1, cfg)).abs().max() <= 1e-5
    # a query equal to a memory frame: its own positions are exact maxima (ties with nothing else)
    ours = propagate_frame(keys[2], keys[0], lbl[0], ring, lbl[1:4], cfg, geom, padded=True)
    assert (ours - dense_propagate_reference(keys[2], keys[:4], lbl[:4], 1, cfg)).abs().max() <= 1e-5
    # tile rows shared out to worker threads (CPU, >1 intra-op thread) or computed in one loop: bit for bit
    old_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        split = propagate_frame(neg, pos[0], lbl[0], geom.pad_keys(pos[1:]), lbl[1:4], cfg, geom, padded=True)
        torch.set_num_threads(1)
        serial = propagate_frame(neg, pos[0], lbl[0], geom.pad_keys(pos[1:]), lbl[1:4], cfg, geom, padded=True)
    finally:
        torch.set_num_threads(old_threads)
    assert torch.equal(split, serial)


def _run(frames, first_labels, cfg=None):
    prop = LabelPropagator(cfg or PropagationConfig())
    prop.init(frames[0], first_labels)
    return [first_labels] + [prop.step(f) for f in frames[1:]]


def test_known_translation_lands_in_the_right_place():
    """A textured scene panning by (2, 3) cells per frame: the square's labels follow exactly."""
    big = _texture(32, 80, 100, 1)
    h, w, T, (dy, dx) = 40, 50, 6, (2, 3)
    frames = [big[:, 20 - dy * t: 20 - dy * t + h, 30 - dx * t: 30 - dx * t + w] for t in range(T)]
    mask0 = torch.zeros(h, w, dtype=torch.bool)
    mask0[10:20, 12:24] = True
    lbl = torch.stack([(~mask0).float(), mask0.float()])
    preds = _run(frames, lbl)
    for t in range(1, T):
        want = torch.zeros(h, w, dtype=torch.bool)
        want[10 + dy * t: 20 + dy * t, 12 + dx * t: 24 + dx * t] = True
        got = preds[t].argmax(0) == 1
        seen = (slice(dy * t, None), slice(dx * t, None))  # content that was in frame 0 (new borders have no match)
        assert torch.equal(got[seen], want[seen]), t


def test_crossing_objects_keep_their_labels():
    """Two textured objects swap sides, overlapping midway; each label stays on its own object."""
    c, h, w, T, s = 32, 30, 60, 13, 8
    bg, ta, tb = _texture(c, h, w, 2), _texture(c, s, s, 3), _texture(c, s, s, 4)
    frames, truth = [], []
    for t in range(T):
        f = bg.clone()
        xa, xb = 4 + 4 * t, 48 - 4 * t  # A goes right, B goes left
        ya, yb = 8, 12  # rows overlap by 4: they really cross
        f[:, ya:ya + s, xa:xa + s] = ta
        f[:, yb:yb + s, xb:xb + s] = tb  # B drawn over A
        m = np.zeros((h, w), np.int64)
        m[ya:ya + s, xa:xa + s] = 1
        m[yb:yb + s, xb:xb + s] = 2
        frames.append(f)
        truth.append(m)
    lbl = F.one_hot(torch.from_numpy(truth[0]), 3).permute(2, 0, 1).float()
    preds = _run(frames, lbl)
    for t in (T - 2, T - 1):  # after the crossing
        got = preds[t].argmax(0).numpy()
        assert _iou(got == 1, truth[t] == 1) > 0.7
        assert _iou(got == 2, truth[t] == 2) > 0.7


def test_memory_is_a_fixed_ring_and_sizes_are_checked():
    cfg = PropagationConfig(n_context=3)
    prop = LabelPropagator(cfg)
    f = l2n(torch.randn(8, 12, 12))
    prop.init(f, torch.ones(1, 12, 12))
    ring = prop.mem_keys.data_ptr(), prop.mem_keys.shape
    for _ in range(7):
        out = prop.step(f)
    assert (prop.mem_keys.data_ptr(), prop.mem_keys.shape) == ring and prop.count == 3
    assert torch.allclose(out, torch.ones_like(out))  # a single (background) channel stays 1
    with pytest.raises(ValueError, match="differs"):
        prop.step(torch.randn(8, 12, 13))
    with pytest.raises(ValueError, match="differ in size"):
        LabelPropagator().init(f, torch.ones(2, 6, 6))
    with pytest.raises(RuntimeError, match="init"):
        LabelPropagator().step(f)


# ----------------------------------------------------------------------------- heads on disk


class PixelModel:
    """Deterministic stand-in encoder: a fixed random 8×8 stride-8 patch projection to 32 channels."""

    mean, std, stride = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 8

    def __init__(self):
        self.w = torch.randn(32, 3, 8, 8, generator=torch.Generator().manual_seed(0))

    def encode_frames(self, x):
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % 8, 0, -h % 8))
        return F.conv2d(x, self.w, stride=8)


class _Job:
    def __init__(self, root, seq, out, model_name="pixel", options=None):
        self.root, self.seq, self.out, self.device = root, seq, out, "cpu"
        self.model_name, self.render, self.options = model_name, None, options or {}

    @property
    def model(self):
        return PixelModel()


def _davis(tmp_path, masks_first, n_frames=3, frame_hw=(64, 96), mask_hw=None):
    import cv2

    from unitrack.data.writers import write_davis_png

    root = tmp_path / "davis"
    fdir, adir = root / "JPEGImages" / "480p" / "s", root / "Annotations" / "480p" / "s"
    fdir.mkdir(parents=True)
    adir.mkdir(parents=True)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("s\n")
    rng = np.random.default_rng(0)
    for t in range(n_frames):
        cv2.imwrite(str(fdir / f"{t:05d}.jpg"), rng.integers(0, 255, (*frame_hw, 3), dtype=np.uint8))
    mask = np.zeros(mask_hw or frame_hw, np.uint8)
    mask[: masks_first.shape[0], : masks_first.shape[1]] = masks_first
    write_davis_png(adir / "00000.png", mask)
    return root


def test_vos_head_edge_cases(tmp_path, capsys):
    from unitrack.heads import vos
    from unitrack.data.davis import read_mask
    from videossl.errors import InputError

    # empty first-frame mask: every frame written as background, with one warning line
    root = _davis(tmp_path / "a", np.zeros((1, 1), np.uint8))
    out = vos.prediction_path(tmp_path / "run_a", "s")
    assert vos.run_sequence(_Job(root, "s", out))["frames"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png", "00002.png"]
    assert all(read_mask(p).max() == 0 for p in out.iterdir())
    assert "no object" in capsys.readouterr().err
    # a one-frame sequence: the given mask is the prediction
    obj = np.zeros((20, 20), np.uint8)
    obj[4:12, 5:15] = 2
    root = _davis(tmp_path / "b", obj, n_frames=1)
    out = vos.prediction_path(tmp_path / "run_b", "s")
    vos.run_sequence(_Job(root, "s", out))
    assert [p.name for p in out.iterdir()] == ["00000.png"]
    assert (read_mask(out / "00000.png")[:20, :20] == obj).all()
    # mask and frame of different sizes: a clear error naming the mask
    root = _davis(tmp_path / "c", obj, mask_hw=(64, 80))
    with pytest.raises(InputError, match="00000.png.*64x80"):
        vos.run_sequence(_Job(root, "s", vos.prediction_path(tmp_path / "run_c", "s")))
    assert not (tmp_path / "run_c" / "s").exists()


def test_vos_head_follows_a_moving_object_and_beats_copy_first(tmp_path):
    import cv2

    from unitrack.heads import vos
    from unitrack.data.davis import read_mask

    root = _davis(tmp_path, np.zeros((1, 1), np.uint8), n_frames=5, frame_hw=(96, 128))
    rng = np.random.default_rng(1)
    bg = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    obj = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    fdir = root / "JPEGImages" / "480p" / "s"
    truth = []
    for t in range(5):
        f = bg.copy()
        f[32:64, 16 + 16 * t: 48 + 16 * t] = obj
        cv2.imwrite(str(fdir / f"{t:05d}.jpg"), f[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
        m = np.zeros((96, 128), np.uint8)
        m[32:64, 16 + 16 * t: 48 + 16 * t] = 1
        truth.append(m)
    from unitrack.data.writers import write_davis_png

    write_davis_png(root / "Annotations" / "480p" / "s" / "00000.png", truth[0])
    ious = {}
    for name in ("pixel", vos.BASELINE):
        out = vos.prediction_path(tmp_path / name, "s")
        vos.run_sequence(_Job(root, "s", out, model_name=name))
        ious[name] = _iou(read_mask(out / "00004.png") == 1, truth[4] == 1)
    assert ious["pixel"] > 0.6 > ious[vos.BASELINE]


def test_pose_heatmaps_round_trip():
    from unitrack.heads.pose import decode_joints, joint_heatmaps

    pts = np.array([[3.0, 4.0], [10.0, 7.0], [20.0, 30.0]])
    maps = joint_heatmaps(pts, (40, 40))
    assert maps.shape == (4, 40, 40)
    assert torch.all(maps[0][maps[1:].sum(0) > 0] == 0) and maps[0].max() == 1
    # top-3 weighted mean (UniTrack's decoding): the centre and two tied neighbours, biased by < 0.15 cell
    np.testing.assert_allclose(decode_joints(maps), pts, atol=0.15)


def test_dcf_recovers_a_known_shift():
    from unitrack.heads.sot import DCFConfig, DCFTracker

    rng = np.random.default_rng(0)
    import cv2

    big = cv2.GaussianBlur(rng.random((400, 480)).astype(np.float32), (0, 0), 3)
    big = (big - big.mean()) / big.std()
    img = lambda ox, oy: torch.from_numpy(np.stack([big[oy:oy + 240, ox:ox + 320]] * 3))
    model = PixelModel()
    trk = DCFTracker(model.encode_frames, DCFConfig(crop_size=264))
    box = np.array([140.0, 100.0, 40.0, 32.0])
    trk.init(img(80, 80), box)
    # the scene moves by (-12, +8) px: the target appears 12 px right, 8 px up... i.e. content shift
    got = trk.track(img(68, 88))
    np.testing.assert_allclose(got[:2] + got[2:] / 2, box[:2] + box[2:] / 2 + [12, -8], atol=3.0)
    with pytest.raises(ValueError, match="positive"):
        trk.init(img(80, 80), [1, 1, 0, 5])
