"""The track life cycle of UniTrack's association heads (JDE / ByteTrack lineage), apart from model and I/O.

A track is *tentative* when born (except on the first frame), *confirmed* once matched again,
*lost* when a frame passes without a match, and *removed* after ``track_buffer`` frames lost
(the re-identification buffer: a lost track can still be re-found by appearance) or, when
tentative, as soon as it misses once. Each frame runs three matching stages:

1. appearance (+ Kalman gating) between confirmed/lost tracks and detections, threshold 0.7;
2. IoU between the still-unmatched *tracked* tracks and detections, threshold 0.5;
3. IoU between tentative tracks and the remaining detections, threshold 0.7 (confirm or remove);
then unmatched detections with a score above ``det_thresh`` start new tracks, and tracked/lost
duplicates (IoU > 0.85) are resolved in favour of the older track.

The tracker sees only :class:`Detections` (boxes, scores, optional embeddings and masks), so the
same code serves boxes (MOT) and masks (MOTS: IoU stages on mask IoU) and any appearance model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from unitrack.heads.association import matching
from unitrack.heads.association.kalman import KalmanFilter, tlwh_to_xyah, xyah_to_tlwh

TENTATIVE, CONFIRMED, LOST, REMOVED = "tentative", "confirmed", "lost", "removed"


@dataclass
class TrackerConfig:
    """UniTrack's published MOT setting (``REFERENCE_SETTINGS.md``); every threshold is an option."""

    first_thresh: float = 0.7  # stage 1: fused appearance/motion cost ceiling
    iou_thresh: float = 0.5  # stage 2: IoU cost ceiling (1 - IoU)
    confirm_iou_thresh: float = 0.7  # stage 3: tentative tracks
    dup_iou_thresh: float = 0.15  # tracked/lost pairs closer than this IoU cost are duplicates
    track_buffer: int = 30  # frames a lost track stays re-identifiable (at 30 fps)
    frame_rate: float = 30.0
    det_thresh: float = 0.5  # detections below this score are ignored (UniTrack's conf_thres)
    motion_lambda: float = 0.98  # weight of the appearance cost against the Mahalanobis distance
    motion_gated: bool = True  # forbid pairs beyond chi2_0.95(4) = 9.4877
    use_appearance: bool = True  # False: stage 1 uses IoU of the Kalman prediction (motion only)
    appearance: str = "recons"  # "recons" (RoI maps, UniTrack) or "cosine" (pooled, EMA-smoothed)
    smooth_alpha: float = 0.9  # EMA of the pooled embedding used by the cosine cost
    map_alpha: float = 0.7  # EMA of the RoI map used by the recons cost; 0 = the last observation only
    min_box_area: float = 200.0  # output filter (pedestrian benchmarks); 0 disables
    max_aspect: float | None = 1.6  # output filter: drop w/h above this (pedestrians); None disables
    # -- where UniTrack's code and the tuned variant differ (``--opt preset=unitrack|tuned``, options.PRESETS) --
    # "pair": each track-detection pair normalised on its own (tuned; only gated pairs computed); "all":
    # UniTrack's one softmax over the cells of all detections / all tracks (matching.recons_cost_all)
    recons_norm: str = "pair"
    centre_features: bool = True  # subtract each frame's per-channel mean before pooling (UniTrack: no)
    roi_aligned: bool = True  # RoIAlign aligned=True, 2 samples per bin; False: torchvision's legacy
    #                           defaults (aligned=False, adaptive sampling) as UniTrack calls it
    dup_tentative: bool = False  # duplicate removal also looks at tentative tracks (UniTrack: yes)
    confirm_new: bool = False  # new tracks confirmed at once, no second match needed (UniTrack's MOTS)
    mask_cells: int | None = None  # MOTS embedding: None = 4x10 masked grid; N = the feature cells under the
    #                                 mask, rescaled to at most ~N cells (UniTrack's max_mask_area 200)
    det_dup_iou: float | None = None  # drop an observation overlapping an earlier one above this box IoU
    #                                    (UniTrack's MOTS: 0.7); None keeps all
    # MOT output: a confirmed track missed for up to this many frames is still written, at its Kalman prediction
    # (DeepSORT's deep_sort_app writes 1; tuned); 0 writes only the tracks matched in the frame (UniTrack). On 12
    # synthetic sequences 1 took MOTA 75.7 -> 83.5, HOTA 65.9 -> 72.0 at 5 -> 9 FP (eval/results/mot.md). MOTS
    # writes masks, which a prediction does not have: not read there.
    output_gap: int = 1
    # Stage 1 against identity switches (off by default; eval/results/own-video.md): ``ambiguity_margin`` keeps a
    # pair only when it is the best of its track and of its detection by at least this fused cost (a ratio test:
    # two walkers in similar clothes cost nearly the same, and a tracked track then goes to the IoU stage);
    # ``max_speed`` (box heights per second) refuses a detection farther from the track's last observed centre
    # than half a box height plus that speed times the time since (a lost track's Kalman gate keeps growing).
    ambiguity_margin: float = 0.0
    max_speed: float | None = None

    def replace(self, **kw) -> "TrackerConfig":
        return dataclasses.replace(self, **kw)


@dataclass
class Detections:
    """One frame's observations. ``tlwh [M, 4]`` pixels, ``scores [M]``; ``maps [M, C, h, w]`` RoI maps
    (or ``[M, C, 1, 1]`` pooled vectors) for appearance; ``masks`` COCO RLEs for MOTS; ``cells [M]`` the
    number of valid cells of each map when they vary (``[M, C, P, 1]``, zero beyond the count)."""

    tlwh: np.ndarray
    scores: np.ndarray
    maps: torch.Tensor | None = None
    masks: list | None = None
    cells: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tlwh)

    def subset(self, idx) -> "Detections":
        idx = np.asarray(idx, dtype=int)
        return Detections(self.tlwh[idx], self.scores[idx],
                          None if self.maps is None else self.maps[torch.from_numpy(idx)],
                          None if self.masks is None else [self.masks[i] for i in idx],
                          None if self.cells is None else np.asarray(self.cells)[idx])


class Track:
    """One identity: Kalman state, last observation, appearance memory, life-cycle state."""

    def __init__(self, track_id: int, mean, cov, det: Detections, i: int, frame: int, confirmed: bool, alpha: float,
                 map_alpha: float = 0.0):
        self.track_id, self.mean, self.cov = track_id, mean, cov
        self.state = CONFIRMED if confirmed else TENTATIVE
        self.start_frame = self.frame = frame
        self.alpha, self.map_alpha = alpha, map_alpha
        self.maps = None if det.maps is None else det.maps[i]
        self.cells = None if det.cells is None else int(det.cells[i])
        self.smooth = None if self.maps is None else _mean_cell(self.maps[None], self.cells)[0]
        self.tlwh_obs, self.score = det.tlwh[i].copy(), float(det.scores[i])
        self.mask = None if det.masks is None else det.masks[i]

    def observe(self, mean, cov, det: Detections, i: int, frame: int, maps: torch.Tensor | None = None,
                vec: torch.Tensor | None = None) -> None:
        """Take detection ``i`` of ``det``; ``maps`` / ``vec`` are the new appearance memory and pooled vector
        when the caller has computed them for many tracks at once (:func:`blend_memory`)."""
        self.mean, self.cov, self.frame = mean, cov, frame
        self.tlwh_obs, self.score = det.tlwh[i].copy(), float(det.scores[i])
        if det.maps is not None:
            if maps is None:
                (maps,), (vec,) = blend_memory([self], det.maps[i:i + 1],
                                               None if det.cells is None else det.cells[i:i + 1])
            self.maps = maps
            self.cells = None if det.cells is None else int(det.cells[i])
            self.smooth = vec if self.smooth is None else self.alpha * self.smooth + (1 - self.alpha) * vec
        if det.masks is not None:
            self.mask = det.masks[i]
        self.state = CONFIRMED

    @property
    def tlwh(self) -> np.ndarray:
        """The Kalman estimate as a box (after ``update`` this is the filtered observation)."""
        return xyah_to_tlwh(self.mean[:4])[0]

    @property
    def tlbr(self) -> np.ndarray:
        b = self.tlwh
        return np.concatenate([b[:2], b[:2] + b[2:]])


def _mean_cell(maps: torch.Tensor, cells) -> torch.Tensor:
    """``[K, C, ...]`` -> ``[K, C]``: the mean over valid cells (all, or the first ``cells[k]``)."""
    x = maps.flatten(2)
    if cells is None:
        return x.mean(2)
    n = torch.as_tensor(np.asarray(cells, dtype=np.float32).reshape(-1), dtype=x.dtype).clamp_min(1)
    return x.sum(2) / n[:, None]


def stack_maps(maps: list[torch.Tensor]) -> torch.Tensor:
    """Maps of possibly different cell counts ``[C, P_k, 1]`` -> ``[K, C, max P, 1]`` zero-padded."""
    p = max(int(m.shape[1]) for m in maps)
    if all(m.shape[1] == p for m in maps):
        return torch.stack(maps)
    return torch.stack([F.pad(m, (0, 0, 0, p - m.shape[1])) for m in maps])


def blend_memory(tracks: list[Track], new: torch.Tensor, cells=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each track's RoI-map memory after observing ``new [K, C, h, w]`` (one map per track), and the new
    maps' pooled vectors ``[K, C]``, computed for all tracks in one go.

    The memory is an EMA renormalised per cell (``map_alpha``; 0 keeps the last map, as UniTrack). An
    averaged memory outlasts one partly occluded or misaligned observation: on 12 synthetic sequences,
    0.7 gave 25 identity switches where the last map alone gave 32, 0.9 gave 31."""
    vec = _mean_cell(new, cells)
    # maps of another shape (MOTS cell lists) cannot be averaged: the new one replaces them, as in UniTrack
    alpha = [0.0 if t.maps is None or cells is not None or t.maps.shape != new.shape[1:] else t.map_alpha
             for t in tracks]
    if max(alpha) <= 0:
        return new, vec
    old = torch.stack([new[k] if a <= 0 else t.maps for k, (t, a) in enumerate(zip(tracks, alpha))])
    a = torch.tensor(alpha, dtype=new.dtype, device=new.device).view(-1, 1, 1, 1)
    mixed = F.normalize(a * old + (1 - a) * new, dim=1)
    return torch.where(a > 0, mixed, new), vec


def _tlbr(tlwh: np.ndarray) -> np.ndarray:
    tlwh = np.asarray(tlwh, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], 1)


class AssociationTracker:
    """Feed :meth:`update` one :class:`Detections` per frame; it returns the confirmed, tracked tracks."""

    def __init__(self, config: TrackerConfig | None = None):
        self.cfg = config or TrackerConfig()
        self.kf = KalmanFilter()
        self.tracks: list[Track] = []  # tentative, confirmed and lost; removed ones are dropped
        self.frame = 0
        self._next_id = 1
        self.max_time_lost = max(1, int(round(self.cfg.frame_rate / 30.0 * self.cfg.track_buffer)))

    # -- costs ---------------------------------------------------------------------------
    def _geometry_cost(self, tracks: list[Track], det: Detections) -> np.ndarray:
        """1 - IoU: mask IoU against each track's last mask when both sides have masks, else boxes."""
        if det.masks is not None and all(t.mask is not None for t in tracks):
            return matching.mask_iou_cost([t.mask for t in tracks], det.masks)
        boxes = np.stack([t.tlbr for t in tracks]) if tracks else np.zeros((0, 4))
        return matching.iou_cost(boxes, _tlbr(det.tlwh))

    def _first_cost(self, tracks: list[Track], det: Detections) -> np.ndarray:
        if not tracks or not len(det):
            return np.zeros((len(tracks), len(det)))
        mean = np.stack([t.mean for t in tracks])
        cov = np.stack([t.cov for t in tracks])
        det_xyah = tlwh_to_xyah(det.tlwh)
        maha = self.kf.gating_distance(mean, cov, det_xyah)
        inside = maha <= matching.CHI2INV95[4] if self.cfg.motion_gated else np.ones_like(maha, bool)
        if self.cfg.use_appearance and det.maps is not None and all(t.maps is not None for t in tracks):
            if self.cfg.appearance == "cosine":
                cost = matching.embedding_cost(torch.stack([t.smooth for t in tracks]), _mean_cell(det.maps, det.cells))
            elif self.cfg.recons_norm == "all":  # UniTrack: every pair, then gated
                cells = None if det.cells is None else [t.cells for t in tracks]
                cost = matching.recons_cost_all(stack_maps([t.maps for t in tracks]), det.maps, cells, det.cells)
            else:
                cost = matching.recons_cost(torch.stack([t.maps for t in tracks]), det.maps, pairs=inside)
        else:
            cost = self._geometry_cost(tracks, det)
        fused = self.cfg.motion_lambda * cost + (1 - self.cfg.motion_lambda) * maha
        if self.cfg.max_speed is not None:
            inside &= self._within_reach(tracks, det)
        return matching.refuse_ambiguous(np.where(inside, fused, np.inf), self.cfg.ambiguity_margin)

    def _within_reach(self, tracks: list[Track], det: Detections) -> np.ndarray:
        """``[tracks, dets]``: the detection's centre within ``0.5 + max_speed * seconds since the track's last
        observation`` box heights (the last observed height) of that observation's centre."""
        obs = np.stack([t.tlwh_obs for t in tracks])
        dt = np.array([max(1, self.frame - t.frame) for t in tracks]) / self.cfg.frame_rate
        reach = obs[:, 3] * (0.5 + self.cfg.max_speed * dt)
        c_t = obs[:, :2] + obs[:, 2:] / 2
        c_d = det.tlwh[:, :2] + det.tlwh[:, 2:] / 2
        return np.linalg.norm(c_t[:, None] - c_d[None], axis=2) <= reach[:, None]

    # -- one frame -----------------------------------------------------------------------
    def update(self, det: Detections) -> list[Track]:
        """Advance one frame; returns the confirmed tracks matched in this frame.

        Runs on one intra-op thread: every tensor here is small, and waking a thread pool costs more
        than the work (see ``matching.threads``)."""
        with matching.threads(1):
            return self._update(det)

    def _update(self, det: Detections) -> list[Track]:
        cfg = self.cfg
        self.frame += 1
        keep = np.nonzero(np.asarray(det.scores) >= cfg.det_thresh)[0] if len(det) else np.zeros(0, int)
        det = det.subset(keep)
        if cfg.det_dup_iou is not None and len(det):  # UniTrack's MOTS drops near-identical observations first
            det = det.subset(matching.remove_duplicated_boxes(_tlbr(det.tlwh), cfg.det_dup_iou))

        tentative = [t for t in self.tracks if t.state == TENTATIVE]
        pool = [t for t in self.tracks if t.state in (CONFIRMED, LOST)]
        was_lost = {id(t) for t in pool if t.state == LOST}
        if pool:  # predict; a lost track's height velocity is zeroed as in JDE
            mean = np.stack([t.mean for t in pool])
            mean[[i for i, t in enumerate(pool) if t.state == LOST], 7] = 0
            mean, cov = self.kf.predict(mean, np.stack([t.cov for t in pool]))
            for t, m, c in zip(pool, mean, cov):
                t.mean, t.cov = m, c

        matched: list[tuple[Track, int]] = []
        # Stage 1: appearance fused with motion.
        m1, u_trk, u_det = matching.linear_assignment(self._first_cost(pool, det), cfg.first_thresh)
        matched += [(pool[a], b) for a, b in m1]
        # Stage 2: IoU for tracks that were being tracked until last frame.
        rest = [pool[a] for a in u_trk if id(pool[a]) not in was_lost]
        det2 = det.subset(u_det)
        m2, u2_trk, u2_det = matching.linear_assignment(self._geometry_cost(rest, det2), cfg.iou_thresh)
        matched += [(rest[a], u_det[b]) for a, b in m2]
        u_det = u_det[u2_det]
        # Stage 3: tentative tracks need a tight IoU match to be confirmed.
        det3 = det.subset(u_det)
        m3, u3_trk, u3_det = matching.linear_assignment(self._geometry_cost(tentative, det3), cfg.confirm_iou_thresh)
        matched += [(tentative[a], u_det[b]) for a, b in m3]
        u_det = u_det[u3_det]

        if matched:  # one batched Kalman update for all matched tracks
            rows = [b for _, b in matched]
            mean, cov = self.kf.update(np.stack([t.mean for t, _ in matched]), np.stack([t.cov for t, _ in matched]),
                                       tlwh_to_xyah(det.tlwh[rows]))
            maps = vecs = [None] * len(matched)
            if det.maps is not None:
                maps, vecs = blend_memory([t for t, _ in matched], det.maps[torch.as_tensor(rows)],
                                          None if det.cells is None else det.cells[rows])
            for (t, b), m, c, mp, v in zip(matched, mean, cov, maps, vecs):
                t.observe(m, c, det, b, self.frame, mp, v)
        matched_ids = {id(t) for t, _ in matched}
        for t in tentative:
            if id(t) not in matched_ids:
                t.state = REMOVED
        for t in pool:
            if id(t) not in matched_ids:
                t.state = LOST
                if self.frame - t.frame > self.max_time_lost:
                    t.state = REMOVED

        if len(u_det):  # new tracks; the first frame's are confirmed at once (nothing to confirm against), and
            # all of them with confirm_new (UniTrack's MOTS)
            mean, cov = self.kf.initiate(tlwh_to_xyah(det.tlwh[u_det]))
            for b, m, c in zip(u_det, mean, cov):
                self.tracks.append(Track(self._next_id, m, c, det, b, self.frame, self.frame == 1 or cfg.confirm_new,
                                         cfg.smooth_alpha,
                                         cfg.map_alpha))
                self._next_id += 1

        self.tracks = [t for t in self.tracks if t.state != REMOVED]
        self._remove_duplicates()
        return [t for t in self.tracks if t.state == CONFIRMED and t.frame == self.frame]

    def _remove_duplicates(self) -> None:
        """A tracked and a lost track on the same box: keep the one tracked longer (JDE's rule). With
        ``dup_tentative`` (UniTrack) the tracked side includes tentative tracks: a newborn track on a lost
        track's box is dropped instead of starting a second identity there."""
        states = (CONFIRMED, TENTATIVE) if self.cfg.dup_tentative else (CONFIRMED,)
        tracked = [t for t in self.tracks if t.state in states]
        lost = [t for t in self.tracks if t.state == LOST]
        if not tracked or not lost:
            return
        cost = matching.iou_cost(np.stack([t.tlbr for t in tracked]), np.stack([t.tlbr for t in lost]))
        drop = set()
        for p, q in zip(*np.nonzero(cost < self.cfg.dup_iou_thresh)):
            a, b = tracked[p], lost[q]
            drop.add(id(b) if (a.frame - a.start_frame) > (b.frame - b.start_frame) else id(a))
        self.tracks = [t for t in self.tracks if id(t) not in drop]

    def coasting(self, frames: int) -> list[Track]:
        """Tracks lost for 1 to ``frames`` frames (confirmed before, not matched in this frame): their ``tlwh`` is
        the Kalman prediction for this frame. A missed detection then costs no box, at the price of a false
        positive where the object really left."""
        return [t for t in self.tracks if t.state == LOST and 0 < self.frame - t.frame <= frames]

    def output_filter(self, tlwh: np.ndarray) -> bool:
        """UniTrack's output rule: drop tiny boxes and (for pedestrians) boxes wider than tall x 1.6."""
        w, h = float(tlwh[2]), float(tlwh[3])
        if w * h <= self.cfg.min_box_area:
            return False
        return self.cfg.max_aspect is None or h <= 0 or w / h <= self.cfg.max_aspect
