"""Appearance embeddings of boxes and masks from one dense forward per frame.

The model runs once per frame (batched over frames), never on per-box crops: at 300 detections
per frame a crop per box would cost 300 forwards. Every box of every frame in a batch is then
pooled by a single ``torchvision.ops.roi_align`` call into a small map (4 x 10 cells, UniTrack's
``feat_size``), and every mask by masked average pooling over the same grid: the mask is resized
to the feature map, and each grid bin averages the features under the mask (RoIAlign of
``feature * mask`` divided by RoIAlign of ``mask``), so boxes and masks give embeddings of one
shape and the same association costs apply to both. Cells are L2-normalised along channels.

Feature maps are *centred* first (each channel's mean over the frame subtracted, ``centre=True``):
convolutional and ViT features share a large component common to every position, so un-centred
cells of two different people have cosine ~0.95 and UniTrack's reconstruction cost lands in
[0, 0.05] for every pair, too small against the motion term to decide anything. Measured on the
synthetic MOT benchmark's ground-truth boxes 5 frames apart (``tiny-resnet``): same-identity /
different-identity median cost 0.010 / 0.051 raw, 0.067 / 0.40 centred; over 12 sequences
(seeds 0-5) identity switches fall from 60 to 32 (motion only: 41). See ``eval/results/mot.md``.
An empty mask (or a mask that vanishes at feature resolution) gets a zero map: cosine 0 against
everything, so it can only be matched by geometry, never by appearance.

UniTrack's own settings (``--opt preset=unitrack``, see ``TrackerConfig``): no centring, torchvision's
legacy RoIAlign (``aligned=False``, adaptive sampling), and for masks :meth:`Embedder.pool_mask_cells`
(every feature cell under the mask, the masked feature map rescaled to at most ~200 cells), where UniTrack
gives an empty mask a random embedding and this gives it a zero one (reproducible).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

ROI_SIZE = (4, 10)  # UniTrack's feat_size, passed to roi_align as (rows, cols)


def working_size(height: int, width: int, max_size: tuple[int, int] = (608, 1088), multiple: int = 8) -> tuple[int, int]:
    """The model input size for a ``height x width`` video: aspect kept, fitted inside ``max_size``
    (UniTrack's 1088x608 letterbox), never enlarged, rounded to the model stride."""
    s = min(1.0, max_size[0] / height, max_size[1] / width)
    return (max(multiple, int(round(height * s / multiple)) * multiple),
            max(multiple, int(round(width * s / multiple)) * multiple))


class Embedder:
    """Dense features of frame batches, then RoI / mask pooling in image-pixel coordinates."""

    def __init__(self, model, device: str | torch.device = "cpu", max_size: tuple[int, int] = (608, 1088),
                 roi_size: tuple[int, int] = ROI_SIZE, centre: bool = True, roi_aligned: bool = True):
        self.model = model
        self.centre = centre
        self.roi_aligned = roi_aligned
        self.device = torch.device(device)
        self.max_size = max_size
        self.roi_size = tuple(roi_size)
        self.stride = int(getattr(model, "stride", 8))

    def configured(self, cfg) -> "Embedder":
        """This embedder with a tracker config's embedding settings (``centre_features``, ``roi_aligned``):
        a shallow copy when they differ, so the config is the one place these are set."""
        want = (bool(getattr(cfg, "centre_features", self.centre)), bool(getattr(cfg, "roi_aligned", self.roi_aligned)))
        if want == (self.centre, self.roi_aligned):
            return self
        import copy

        out = copy.copy(self)
        out.centre, out.roi_aligned = want
        return out

    @torch.no_grad()
    def features(self, frames: np.ndarray) -> torch.Tensor:
        """``uint8 [N, H, W, 3]`` RGB frames -> dense features ``[N, C, h, w]`` (one forward), centred per
        frame and channel unless ``centre=False``."""
        from videossl.io.transforms import to_tensor_normalized

        n, h, w = frames.shape[:3]
        size = working_size(h, w, self.max_size, self.stride)
        x = to_tensor_normalized(frames, self.model.mean, self.model.std, size=size).to(self.device)
        from videossl.utils import autocast_for

        with autocast_for(self.device):
            feats = self.model.encode_frames(x).float()
        if self.centre:  # remove the component every position shares (see the module doc)
            feats = feats - feats.mean((2, 3), keepdim=True)
        return feats

    @staticmethod
    def _rois(boxes_per_frame: Sequence[np.ndarray], image_hw: tuple[int, int], feat_hw: tuple[int, int]) -> torch.Tensor:
        """``[K, 5]`` (frame index, x1, y1, x2, y2) in feature cells, boxes clipped to the image.

        A box outside the image or of zero size is clipped/kept as a (near-)degenerate box: it still
        gets an embedding (the features at its clipped location), so odd input is tracked through.
        """
        sy, sx = feat_hw[0] / image_hw[0], feat_hw[1] / image_hw[1]
        rows = []
        for i, b in enumerate(boxes_per_frame):
            b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
            if not len(b):
                continue
            x1 = np.clip(b[:, 0], 0, image_hw[1]) * sx
            y1 = np.clip(b[:, 1], 0, image_hw[0]) * sy
            x2 = np.clip(b[:, 2], 0, image_hw[1]) * sx
            y2 = np.clip(b[:, 3], 0, image_hw[0]) * sy
            rows.append(np.stack([np.full_like(x1, i), x1, y1, np.maximum(x2, x1), np.maximum(y2, y1)], 1))
        if not rows:
            return torch.zeros((0, 5))
        return torch.from_numpy(np.concatenate(rows))

    @torch.no_grad()
    def pool_boxes(self, feats: torch.Tensor, boxes_per_frame: Sequence[np.ndarray], image_hw: tuple[int, int]) -> list[torch.Tensor]:
        """RoIAlign maps ``[M_i, C, 4, 10]`` (cells L2-normalised) for each frame's tlbr boxes, one call."""
        counts = [len(np.asarray(b).reshape(-1, 4)) for b in boxes_per_frame]
        rois = self._rois(boxes_per_frame, image_hw, feats.shape[-2:]).to(feats)
        if len(rois) == 0:
            return [feats.new_zeros((0, feats.shape[1], *self.roi_size)).cpu() for _ in counts]
        if self.roi_aligned:
            maps = roi_align(feats, rois, self.roi_size, spatial_scale=1.0, sampling_ratio=2, aligned=True)
        else:  # UniTrack calls ops.roi_align(feat, boxes, feat_size) with the defaults
            maps = roi_align(feats, rois, self.roi_size)
        return list(F.normalize(maps, dim=1).cpu().split(counts))

    @torch.no_grad()
    def pool_mask_cells(self, feats: torch.Tensor, masks_per_frame: Sequence[np.ndarray], image_hw: tuple[int, int],
                        max_cells: int = 200) -> list[tuple[torch.Tensor, np.ndarray]]:
        """UniTrack's MOTS embedding: per mask, the feature cells under it, ``([M_i, C, P, 1], cells [M_i])``.

        The mask is resized to the feature map (nearest), the features multiplied by it; a mask covering more
        than ``max_cells`` cells has both rescaled by ``sqrt(max_cells / area)`` (features bilinear, mask
        nearest), and the cells where the rescaled mask is >= 0.5 are the embedding (``tracker/mot/mask.py``).
        Maps are zero-padded to the frame's largest count; an empty mask has 0 cells (a zero map).
        """
        out = []
        fh, fw = feats.shape[-2:]
        c = feats.shape[1]
        for i, masks in enumerate(masks_per_frame):
            masks = np.asarray(masks).reshape(-1, *image_hw)
            if len(masks) == 0:
                out.append((feats.new_zeros((0, c, 1, 1)).cpu(), np.zeros(0, np.int64)))
                continue
            small = F.interpolate(torch.from_numpy(masks.astype(np.float32))[:, None].to(feats), size=(fh, fw),
                                  mode="nearest")  # [M, 1, h, w]
            embs = []
            for ob in small:
                scale = float(ob.sum())
                if scale <= 0:
                    embs.append(feats.new_zeros((c, 0)))
                    continue
                obfeat = ob[None] * feats[i:i + 1]
                f = math.sqrt(max_cells / scale) if scale > max_cells else 1.0
                if f != 1.0:
                    obfeat = F.interpolate(obfeat, scale_factor=f, mode="bilinear")
                    ob = F.interpolate(ob[None], scale_factor=f, mode="nearest")[0]
                embs.append(obfeat[0][:, ob[0] >= 0.5])
            cells = np.array([e.shape[1] for e in embs], np.int64)
            maps = feats.new_zeros((len(embs), c, max(1, int(cells.max())), 1))
            for k, e in enumerate(embs):
                maps[k, :, :e.shape[1], 0] = e
            out.append((F.normalize(maps, dim=1).cpu(), cells))
        return out

    @torch.no_grad()
    def pool_masks(self, feats: torch.Tensor, masks_per_frame: Sequence[np.ndarray], image_hw: tuple[int, int]) -> list[torch.Tensor]:
        """Masked average pooling on the 4 x 10 grid of each mask's bounding box (``[M_i, C, 4, 10]``).

        ``masks_per_frame[i]``: bool/uint8 ``[M_i, H, W]`` at image resolution. Grid bins the mask does
        not reach take the mask's overall average, so every cell is defined.
        """
        out = []
        fh, fw = feats.shape[-2:]
        c = feats.shape[1]
        for i, masks in enumerate(masks_per_frame):
            masks = np.asarray(masks).reshape(-1, *image_hw)
            m = len(masks)
            if m == 0:
                out.append(feats.new_zeros((0, c, *self.roi_size)).cpu())
                continue
            # area-average resize keeps thin masks alive better than nearest at stride 8
            small = F.interpolate(torch.from_numpy(masks.astype(np.float32))[:, None], size=(fh, fw), mode="area")
            small = small.to(feats)[:, 0]  # [M, h, w] coverage in [0, 1]
            area = small.flatten(1).sum(1)
            ys, xs = torch.arange(fh, device=feats.device), torch.arange(fw, device=feats.device)
            on = small > 0
            maps = feats.new_zeros((m, c, *self.roi_size))  # empty masks keep the zero map
            for k in range(m):  # per mask, only its bounding box of cells is weighted and pooled
                if area[k] <= 0:
                    continue
                r, q = ys[on[k].any(1)], xs[on[k].any(0)]
                y1, y2, x1, x2 = int(r.min()), int(r.max()) + 1, int(q.min()), int(q.max()) + 1
                cov = small[k, y1:y2, x1:x2][None, None]  # [1, 1, h', w']
                weighted = feats[i:i + 1, :, y1:y2, x1:x2] * cov
                roi = torch.tensor([[0.0, 0.0, 0.0, x2 - x1, y2 - y1]], device=feats.device, dtype=feats.dtype)
                num = roi_align(weighted, roi, self.roi_size, 1.0, 2, aligned=True)[0]
                den = roi_align(cov, roi, self.roi_size, 1.0, 2, aligned=True)[0]
                mean_all = weighted.flatten(2).sum(2)[0] / area[k]  # [C]: bins the mask misses
                maps[k] = torch.where(den > 1e-6, num / den.clamp_min(1e-6), mean_all[:, None, None])
            out.append(F.normalize(maps, dim=1).cpu())
        return out


def pooled(maps: torch.Tensor) -> torch.Tensor:
    """A single L2-normalised vector per RoI map ``[M, C, h, w] -> [M, C]``."""
    return F.normalize(maps.flatten(2).mean(2), dim=1)
