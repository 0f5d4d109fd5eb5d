"""``--opt preset=unitrack`` reproduces UniTrack's formulas: each check writes the reference from UniTrack's code
(core/association/matching.py, tracker/mot/*.py, utils/box.py, test/test_vos.py, model/functional.py,
data/vos.py) on small tensors, independently of the implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unitrack.heads.association import matching
from unitrack.heads.association.tracker import AssociationTracker, Detections, TrackerConfig, stack_maps
from unitrack.heads.options import PRESETS, config_from_options, normalize_options
from videossl.errors import InputError


# -- options ---------------------------------------------------------------------------------------------
def test_preset_sets_a_group_explicit_values_override_and_it_is_recorded():
    opts = normalize_options("mot", {"preset": "unitrack", "map_alpha": "0.5"})
    assert opts["preset"] == "unitrack" and opts["recons_norm"] == "all" and opts["centre_features"] is False
    assert opts["map_alpha"] == 0.5  # the explicit value wins over the preset's 0
    assert normalize_options("mot", opts) == opts  # eval normalises, the head normalises again: same
    cfg = config_from_options(TrackerConfig, {"preset": "unitrack"}, "mots")
    assert (cfg.confirm_new, cfg.motion_gated, cfg.mask_cells, cfg.det_dup_iou, cfg.dup_tentative) == (True, False, 200, 0.7, True)
    tuned = config_from_options(TrackerConfig, {"preset": "tuned"}, "mot")
    assert tuned.recons_norm == "pair" and tuned.map_alpha == 0.7 and tuned.centre_features
    for task, presets in PRESETS.items():  # both presets name the same keys, so each is complete whatever the default
        assert set(presets["unitrack"]) == set(presets["tuned"]), task
    with pytest.raises(InputError, match="presets are unitrack, tuned"):
        normalize_options("vos", {"preset": "published"})
    with pytest.raises(InputError):
        normalize_options("sot", {"preset": "unitrack"})


def test_defaults_are_the_measured_default_preset():
    """No preset given: each task's config is its DEFAULT_PRESET's values (the winner in eval/results/mot.md,
    vos.md), whatever the dataclass says, and an explicit option still wins."""
    from unitrack.heads.options import DEFAULT_PRESET
    from unitrack.heads.propagation import PropagationConfig

    for task, cls in (("mot", TrackerConfig), ("mots", TrackerConfig), ("vos", PropagationConfig)):
        cfg = config_from_options(cls, {}, task)
        assert {k: getattr(cfg, k) for k in PRESETS[task]["tuned"]} == PRESETS[task][DEFAULT_PRESET[task]], task
    assert config_from_options(TrackerConfig, {"output_gap": "0"}, "mot").output_gap == 0


# -- MOT: reconstruction similarity ----------------------------------------------------------------------
def _unitrack_reconsdot(track_feats: list[torch.Tensor], det_feats: list[torch.Tensor], tmp: float = 100.0):
    """``reconsdot_distance`` + ``get_track_feat`` (zero padding to the largest cell count of each side)."""
    def pad(fs):
        out = torch.zeros(len(fs), fs[0].shape[0], max(f.shape[1] for f in fs))
        for i, f in enumerate(fs):
            out[i, :, :f.shape[1]] = f
        return out

    det = F.normalize(pad(det_feats), dim=1)
    trk = F.normalize(pad(track_feats), dim=1)
    ndet, ndim, nsd = det.shape
    ntrk, _, nst = trk.shape
    fdet = det.permute(0, 2, 1).reshape(-1, ndim)
    ftrk = trk.permute(0, 2, 1).reshape(-1, ndim)
    aff = ftrk @ fdet.T
    aff_td = F.softmax(tmp * aff, dim=1)
    aff_dt = F.softmax(tmp * aff, dim=0).T
    rec_t = torch.einsum("tds,dsm->tdm", aff_td.view(ntrk * nst, ndet, nsd), fdet.view(ndet, nsd, ndim))
    rec_d = torch.einsum("dts,tsm->dtm", aff_dt.reshape(ndet * nsd, ntrk, nst), ftrk.view(ntrk, nst, ndim))
    rec_t = F.normalize(rec_t.permute(0, 2, 1).reshape(ntrk, nst * ndim, ndet), dim=1)
    rec_d = F.normalize(rec_d.permute(0, 2, 1).reshape(ndet, nsd * ndim, ntrk), dim=1)
    dot_td = torch.einsum("tad,ta->td", rec_t, F.normalize(ftrk.reshape(ntrk, nst * ndim), dim=1))
    dot_dt = torch.einsum("dat,da->dt", rec_d, F.normalize(fdet.reshape(ndet, nsd * ndim), dim=1))
    return (1 - 0.5 * (dot_td + dot_dt.T)).numpy()


def _as_maps(feats: list[torch.Tensor]):
    """``[C, n_i]`` cell lists -> the tracker's padded ``[K, C, P, 1]`` maps and counts."""
    return stack_maps([f[:, :, None] for f in feats]), np.array([f.shape[1] for f in feats])


def test_recons_all_equals_unitrack_on_roi_maps_and_on_variable_mask_cells():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5, 8, 40, generator=g)
    trk = [base[i] + 0.3 * torch.randn(8, 40, generator=g) for i in range(4)]
    det = [base[i] + 0.3 * torch.randn(8, 40, generator=g) for i in (2, 0, 4, 1)]
    got = matching.recons_cost_all(torch.stack(trk).view(4, 8, 4, 10), torch.stack(det).view(4, 8, 4, 10))
    np.testing.assert_allclose(got, _unitrack_reconsdot(trk, det), atol=2e-5)
    # one softmax over all detections: a wrong pair costs less than 1 (the 0.70-0.73), unlike per-pair
    pair = matching.recons_cost(torch.stack(trk).view(4, 8, 4, 10), torch.stack(det).view(4, 8, 4, 10))
    assert not np.allclose(got, pair, atol=1e-3)
    # MOTS: a different number of cells per object, zero-padded as UniTrack pads them
    trk = [torch.randn(8, n, generator=g) for n in (7, 12, 3)]
    det = [torch.randn(8, n, generator=g) for n in (5, 12, 9, 1)]
    (tm, tc), (dm, dc) = _as_maps(trk), _as_maps(det)
    dm = F.pad(dm, (0, 0, 0, 4))  # a frame padded further than its largest count: cut back to 12
    np.testing.assert_allclose(matching.recons_cost_all(tm, dm, tc, dc), _unitrack_reconsdot(trk, det), atol=2e-5)


def test_remove_duplicated_boxes_is_unitracks_greedy_rule():
    import torchvision

    boxes = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [50, 50, 60, 70], [0, 1, 10, 21], [51, 50, 61, 70.0]])
    jac = torchvision.ops.box_iou(torch.from_numpy(boxes), torch.from_numpy(boxes)).float() - torch.eye(5)
    keep = np.ones(5, bool)
    for r, row in enumerate(jac):  # utils/box.py remove_duplicated_box
        if keep[r]:
            keep[torch.where(row > 0.7)[0].numpy()] = False
    np.testing.assert_array_equal(matching.remove_duplicated_boxes(boxes, 0.7), np.where(keep)[0])
    assert list(matching.remove_duplicated_boxes(boxes, 0.7)) == [0, 2]


# -- MOTS: embeddings, life cycle -----------------------------------------------------------------------
def test_mask_cell_embeddings_equal_unitracks_extract_emb():
    from unitrack.heads.embed import Embedder

    g = torch.Generator().manual_seed(1)
    feat = torch.randn(1, 6, 30, 40, generator=g)
    hw = (240, 320)
    masks = np.zeros((3, *hw), np.uint8)
    masks[0, 16:200, 40:200] = 1  # ~460 cells at stride 8: rescaled to ~200
    masks[1, 100:140, 250:290] = 1  # 25 cells: taken as they are
    # masks[2] empty
    maps, cells = Embedder(None).pool_mask_cells(feat, [masks], hw, max_cells=200)[0]
    obs = F.interpolate(torch.from_numpy(masks).float().unsqueeze(1), size=(30, 40), mode="nearest")
    for k, ob in enumerate(obs):  # tracker/mot/mask.py MaskAssociationTracker.extract_emb
        obfeat, scale = ob * feat, ob.sum()
        if scale == 0:
            assert cells[k] == 0 and maps[k].abs().sum() == 0  # here a zero embedding (UniTrack: random)
            continue
        sf = np.sqrt(200 / scale.item()) if scale > 200 else 1
        norm_obfeat = F.interpolate(obfeat, scale_factor=sf, mode="bilinear")
        norm_mask = F.interpolate(ob.unsqueeze(1), scale_factor=sf, mode="nearest")
        emb = F.normalize(norm_obfeat[:, :, norm_mask.squeeze(0).squeeze(0).ge(0.5)], dim=1)[0]
        assert cells[k] == emb.shape[1]
        torch.testing.assert_close(maps[k, :, :cells[k], 0], emb)
        assert maps[k, :, cells[k]:].abs().sum() == 0
    assert 150 < cells[0] <= 210 and cells[1] == 25


def _det(boxes, maps=None):
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return Detections(b, np.ones(len(b)), maps)


def test_confirm_new_outputs_a_track_on_its_first_frame():
    for confirm, expected in ((False, [1]), (True, [1, 2])):
        tr = AssociationTracker(TrackerConfig(use_appearance=False, confirm_new=confirm))
        tr.update(_det([[10, 10, 20, 50]]))
        out = tr.update(_det([[11, 10, 20, 50], [200, 10, 20, 50]]))  # a second object appears on frame 2
        assert sorted(t.track_id for t in out) == expected


def test_duplicate_removal_with_tentative_tracks_and_duplicate_observations():
    g = torch.Generator().manual_seed(2)
    a = F.normalize(torch.rand(1, 32, 4, 10, generator=g), dim=1)
    a, b = a * (torch.arange(32) < 16).view(1, -1, 1, 1), a * (torch.arange(32) >= 16).view(1, -1, 1, 1)  # orthogonal
    for dup_tentative, n_left in ((False, 2), (True, 1)):
        tr = AssociationTracker(TrackerConfig(dup_tentative=dup_tentative, recons_norm="all", map_alpha=0))
        tr.update(_det([[10, 10, 20, 50]], a))
        tr.update(_det(np.zeros((0, 4)), a[:0]))  # track 1 lost
        # same place, another appearance: stage 1 refuses it, a tentative track is born on the lost one's box
        tr.update(_det([[10, 10, 20, 50]], b))
        assert len(tr.tracks) == n_left  # UniTrack drops the newborn duplicate (it is younger)
    tr = AssociationTracker(TrackerConfig(use_appearance=False, det_dup_iou=0.7))
    out = tr.update(_det([[10, 10, 20, 50], [11, 10, 20, 50], [100, 10, 20, 50]]))
    assert len(out) == 2


def test_unitrack_embedder_settings_come_from_the_config():
    from unitrack.heads.embed import Embedder

    class Model:
        mean, std, stride = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 8

        def encode_frames(self, x):
            return x[:, :, ::8, ::8] + 5.0

    emb = Embedder(Model())
    cfg = config_from_options(TrackerConfig, {"preset": "unitrack"}, "mot")
    raw = emb.configured(cfg)
    assert (raw.centre, raw.roi_aligned) == (False, False) and (emb.centre, emb.roi_aligned) == (True, True)
    frames = np.random.default_rng(0).integers(0, 255, (1, 64, 64, 3), dtype=np.uint8)
    f_raw, f_centred = raw.features(frames), emb.features(frames)
    assert float(f_raw.mean()) > 4 and abs(float(f_centred.mean())) < 1e-4
    box = [np.array([[3.0, 5.0, 40.0, 60.0]])]
    from torchvision.ops import roi_align

    legacy = roi_align(f_raw, torch.tensor([[0, 3 / 8, 5 / 8, 40 / 8, 60 / 8]]), (4, 10))  # torchvision defaults
    torch.testing.assert_close(raw.pool_boxes(f_raw, box, (64, 64))[0], F.normalize(legacy, dim=1))


# -- VOS ------------------------------------------------------------------------------------------------
def _unitrack_vos(feats: torch.Tensor, lbl0: torch.Tensor, n_context: int, radius: float, temperature: float,
                  topk: int) -> list[torch.Tensor]:
    """test/test_vos.py + model/functional.py: the video padded with ``n_context`` copies of frame 0
    (data/vos.py make_paths), long memory [0], short memory the n_context previous padded frames; the
    radius mask (-1e10 where distance >= radius) on the short-term keys only; top-k over all, softmax."""
    n, c, h, w = feats.shape
    padded = torch.cat([feats[:1]] * n_context + [feats])
    lbls = torch.zeros(n + n_context, lbl0.shape[0], h, w)
    lbls[:n_context + 1] = lbl0  # padded frames carry the given labels; lbls[0, n_context:] *= 0, then t=0 = lbls[0]
    gx, gy = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    dist = ((gx.flatten()[:, None] - gx.flatten()[None]) ** 2 + (gy.flatten()[:, None] - gy.flatten()[None]) ** 2).float() ** 0.5
    mask = torch.where(dist < radius, 0.0, -1e10)  # [key, query]
    preds = []
    for t in range(1, n):
        idx = [0] + list(range(t, t + n_context))  # context_index_bank(n_context, [0], N)[t]
        keys = padded[idx].flatten(2)  # [T, C, hw]
        q = padded[t + n_context].flatten(1)
        a = torch.einsum("tck,cq->tkq", keys, q)
        a[1:] += mask
        a = a.reshape(-1, h * w) / temperature
        wts, ids = torch.topk(a, topk, dim=0)
        wts = F.softmax(wts, dim=0)
        ctx = lbls[idx].permute(1, 0, 2, 3).reshape(lbl0.shape[0], -1)
        pred = (ctx[:, ids] * wts[None]).sum(1).view(-1, h, w)
        lbls[t + n_context] = pred
        preds.append(pred)
    return preds


def test_vos_context_filled_with_frame_zero_equals_unitrack():
    from unitrack.heads.propagation import LabelPropagator, PropagationConfig

    g = torch.Generator().manual_seed(3)
    feats = F.normalize(torch.randn(7, 16, 12, 13, generator=g), dim=1)
    feats[1:] = F.normalize(feats[:1] + 0.6 * torch.randn(6, 16, 12, 13, generator=g), dim=1)  # a video-like drift
    lbl0 = torch.zeros(3, 12, 13)
    lbl0[0] = 1
    lbl0[0, 2:6, 3:8], lbl0[1, 2:6, 3:8] = 0, 1
    lbl0[0, 7:11, 6:12], lbl0[2, 7:11, 6:12] = 0, 1
    ref = _unitrack_vos(feats, lbl0, n_context=3, radius=4, temperature=0.05, topk=10)
    cfg = config_from_options(PropagationConfig, {"preset": "unitrack", "n_context": 3, "radius": 4}, "vos")
    for fill, exact in (("first", True), ("empty", False)):
        prop = LabelPropagator(PropagationConfig(**{**cfg.__dict__, "context_fill": fill}))
        prop.init(feats[0], lbl0)
        got = [prop.step(feats[t]) for t in range(1, 7)]
        close = all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, ref))
        assert close == exact, fill


def test_vos_first_frame_labels_bilinear_as_unitrack():
    from unitrack.heads.vos import first_frame_labels

    rng = np.random.default_rng(4)
    mask = np.zeros((32, 48), np.uint8)
    mask[4:20, 5:30] = 1
    mask[18:31, 20:47] = 3
    mask[rng.random(mask.shape) < 0.05] = 255  # void counts as background
    lbl, ids = first_frame_labels(mask, (4, 6), "bilinear")
    assert ids == [1, 3]
    onehot = np.stack([~np.isin(mask, ids), mask == 1, mask == 3]).astype(np.float32)
    # cv2.resize INTER_LINEAR at an exact factor 8: cell (i, j) samples source (8i + 3.5, 8j + 3.5), the mean of 2x2 pixels
    expected = onehot[:, 3::8][:, :4] * 0.25 + onehot[:, 4::8][:, :4] * 0.25
    expected = expected[:, :, 3::8][:, :, :6] + expected[:, :, 4::8][:, :, :6]
    np.testing.assert_allclose(lbl.numpy(), expected, atol=1e-6)
    area, _ = first_frame_labels(mask, (4, 6), "area")
    assert not np.allclose(area.numpy(), expected)
