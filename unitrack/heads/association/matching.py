"""Association costs and the linear assignment shared by the MOT and MOTS heads.

All costs are ``[tracks, detections]`` numpy arrays in ``[0, 1]`` (lower is better, ``inf`` = forbidden):
- geometry: ``iou_cost`` on boxes, ``mask_iou_cost`` on COCO RLEs (pycocotools);
- appearance: ``embedding_cost`` (cosine on pooled vectors) and ``recons_cost``, UniTrack's
  reconstruction similarity on RoIAlign maps, which tolerates part misalignment that a single
  averaged vector blurs away;
- ``recons_cost_all`` is the same similarity exactly as UniTrack computes it (``preset=unitrack``): one
  softmax over the cells of *all* detections (and of all tracks), so a pair's cost depends on the rest;
- ``remove_duplicated_boxes`` is UniTrack's greedy removal of near-identical observations (MOTS);
- ``fuse_motion`` mixes an appearance cost with the Kalman gating distance as UniTrack does
  (``lambda * cost + (1 - lambda) * maha``, gated at chi2_0.95(4)).
``linear_assignment`` is the Hungarian step with a cost ceiling (``lap.lapjv`` when present, else scipy).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from unitrack.heads.association.kalman import CHI2INV95, KalmanFilter

try:  # lap's Jonker-Volgenant is several times faster than scipy for the square-ish matrices here
    import lap as _lap
except ImportError:  # pragma: no cover - scipy is the fallback, same results
    _lap = None


def linear_assignment(cost: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching keeping only pairs with ``cost <= thresh``.

    Returns ``(matches [K, 2] of (row, col), unmatched_rows, unmatched_cols)``.
    """
    cost = np.asarray(cost, dtype=np.float64)
    rows, cols = cost.shape if cost.ndim == 2 else (0, 0)
    if cost.size == 0:
        return np.empty((0, 2), dtype=int), np.arange(rows), np.arange(cols)
    c = np.where(np.isfinite(cost), cost, thresh + 1e5)  # inf breaks both solvers; any value > thresh is "never"
    if _lap is not None:
        _, x, _ = _lap.lapjv(c, extend_cost=True, cost_limit=thresh)
        r = np.nonzero(x >= 0)[0]
        matches = np.stack([r, x[r]], axis=1).astype(int) if len(r) else np.empty((0, 2), dtype=int)
    else:
        from scipy.optimize import linear_sum_assignment

        r, k = linear_sum_assignment(c)
        keep = c[r, k] <= thresh
        matches = np.stack([r[keep], k[keep]], axis=1).astype(int)
    if len(matches):
        matches = matches[cost[matches[:, 0], matches[:, 1]] <= thresh]
    unmatched_r = np.setdiff1d(np.arange(rows), matches[:, 0])
    unmatched_c = np.setdiff1d(np.arange(cols), matches[:, 1])
    return matches, unmatched_r, unmatched_c


def refuse_ambiguous(cost: np.ndarray, margin: float) -> np.ndarray:
    """``cost`` with every pair forbidden (``inf``) unless it is the cheapest of its row and of its column and
    every other allowed pair of that row and that column costs at least ``margin`` more. ``margin <= 0``: as is."""
    cost = np.asarray(cost, dtype=np.float64)
    if margin <= 0 or cost.size == 0:
        return cost
    out = np.full_like(cost, np.inf)
    for i, row in enumerate(cost):
        j = int(np.argmin(row))
        if not np.isfinite(row[j]):
            continue
        others = np.concatenate([np.delete(row, j), np.delete(cost[:, j], i)])
        if not len(others) or others.min() >= row[j] + margin:
            out[i, j] = row[j]
    return out


def box_iou(a_tlbr: np.ndarray, b_tlbr: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``[N, 4]`` and ``[M, 4]`` boxes (x1, y1, x2, y2); degenerate boxes give 0."""
    a = np.asarray(a_tlbr, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_tlbr, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def iou_cost(a_tlbr: np.ndarray, b_tlbr: np.ndarray) -> np.ndarray:
    return 1.0 - box_iou(a_tlbr, b_tlbr)


def mask_iou_cost(a_rles: list, b_rles: list) -> np.ndarray:
    """``1 - IoU`` between two lists of COCO RLE dicts (pycocotools, no decoding to pixels)."""
    if len(a_rles) == 0 or len(b_rles) == 0:
        return np.ones((len(a_rles), len(b_rles)))
    from pycocotools import mask as mask_utils

    iou = mask_utils.iou(list(a_rles), list(b_rles), [0] * len(b_rles))
    return 1.0 - np.asarray(iou, dtype=np.float64).reshape(len(a_rles), len(b_rles))


def embedding_cost(track_emb: torch.Tensor, det_emb: torch.Tensor) -> np.ndarray:
    """``1 - cos`` between pooled vectors ``[N, C]`` and ``[M, C]`` (clipped to ``[0, 1]``)."""
    if len(track_emb) == 0 or len(det_emb) == 0:
        return np.zeros((len(track_emb), len(det_emb)))
    with threads(1):
        t = F.normalize(track_emb.float().flatten(1), dim=1)
        d = F.normalize(det_emb.float().flatten(1), dim=1)
        return np.clip(1.0 - (t @ d.T).cpu().numpy().astype(np.float64), 0.0, 1.0)


@contextlib.contextmanager
def threads(n: int):
    """Run small tensor work on ``n`` intra-op threads: waking a thread pool costs more than the work
    (a 4x40x40 bmm + softmax: 7.7 ms on 2 threads of a busy 2-core machine, 0.01 ms on one)."""
    old = torch.get_num_threads()
    if n >= old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def recons_cost(track_maps: torch.Tensor, det_maps: torch.Tensor, pairs: np.ndarray | None = None,
                temperature: float = 100.0, chunk: int = 1024) -> np.ndarray:
    """UniTrack's reconstruction similarity between RoI maps ``[N, C, h, w]`` and ``[M, C, h, w]``.

    With unit cells ``t_p`` (track) and ``d_q`` (detection) and their cosines ``s_pq``, each track cell is
    rebuilt from the detection's cells, ``rec_t[p] = sum_q softmax_q(100 s)_pq d_q``, and vice versa
    (softmax over ``p``); ``cost = 1 - (cos(rec_t, t) + cos(rec_d, d)) / 2`` with the cosines taken over
    whole maps. Two departures from UniTrack's one dense ``[N*hw, M*hw]`` softmax, both for speed and
    stability on CPU:
    - each pair is normalised over its own cells, so a pair's cost does not depend on which other
      detections are in the frame;
    - only the pairs in ``pairs`` (bool ``[N, M]``, e.g. those inside the Kalman gate) are computed,
      the rest cost 1. All pairs at 300 x 300 boxes of 4x10 cells would be ~100 GFLOP per frame;
      the gated pairs are a few per track.
    The reconstructions are never formed (see ``_recons_pairs``): per pair only the ``[hw, hw]`` cosine
    matrix needs the channels.
    """
    n, m = len(track_maps), len(det_maps)
    out = np.ones((n, m))
    if n == 0 or m == 0:
        return out
    ii, jj = np.nonzero(np.ones((n, m), bool) if pairs is None else pairs)
    if len(ii) == 0:
        return out
    t = F.normalize(track_maps.float().flatten(2), dim=1).transpose(1, 2).contiguous()  # [N, P, C] unit cells
    d = F.normalize(det_maps.float().flatten(2), dim=1).transpose(1, 2).contiguous()  # [M, Q, C]
    small = len(ii) * t.shape[1] * d.shape[1] * t.shape[2] < 5e7  # under ~0.1 GFLOP: one thread is faster
    with threads(1 if small else torch.get_num_threads()):
        _recons_pairs(t, d, torch.from_numpy(ii), torch.from_numpy(jj), ii, jj, out, temperature, chunk)
    return np.clip(out, 0.0, 1.0)


def _recons_pairs(t, d, ti_all, dj_all, ii, jj, out, temperature, chunk) -> None:
    """The costs of the pairs ``(ti_all[k], dj_all[k])`` into ``out``, from cosines and Gram matrices only.

    ``<rec_t, t> = sum_pq a_pq s_pq`` and ``|rec_t|^2 = sum_p (a G_d a^T)_pp`` with ``a = softmax_q(100 s)``
    and ``G_d = d d^T`` the detection's cell Gram matrix (once per detection), likewise for ``rec_d``:
    the ``[P, C]`` reconstructions, 2 of the 3 channel-sized products per pair and their gathers are not
    needed (358 -> 60 ms at 300 boxes with 256 channels on one CPU thread, same costs to 1e-6).
    """
    gram_t, gram_d = torch.bmm(t, t.transpose(1, 2)), torch.bmm(d, d.transpose(1, 2))  # [N, P, P], [M, Q, Q]
    norm_t, norm_d = t.flatten(1).norm(dim=1), d.flatten(1).norm(dim=1)  # whole-map norms (sqrt of live cells)
    for s in range(0, len(ii), chunk):
        ti, dj = ti_all[s:s + chunk], dj_all[s:s + chunk]
        # index_select, not t[ti]: advanced indexing is ~3x slower for these row gathers on CPU
        cos = torch.bmm(t.index_select(0, ti), d.index_select(0, dj).transpose(1, 2))  # [K, P, Q]
        a = (cos * temperature).softmax(-1)  # track cell p from detection cells
        b = (cos * temperature).softmax(-2).transpose(1, 2).contiguous()  # [K, Q, P]: detection cell q from track cells
        dot_t, dot_d = (a * cos).sum((1, 2)), (b * cos.transpose(1, 2)).sum((1, 2))
        len_t = (torch.bmm(a, gram_d.index_select(0, dj)) * a).sum((1, 2)).clamp_min(0).sqrt().clamp_min(1e-12)
        len_d = (torch.bmm(b, gram_t.index_select(0, ti)) * b).sum((1, 2)).clamp_min(0).sqrt().clamp_min(1e-12)
        cos_td = dot_t / (len_t * norm_t[ti].clamp_min(1e-12))
        cos_dt = dot_d / (len_d * norm_d[dj].clamp_min(1e-12))
        out[ii[s:s + chunk], jj[s:s + chunk]] = (1.0 - 0.5 * (cos_td + cos_dt)).cpu().numpy()


def _cells(maps: torch.Tensor, cells) -> torch.Tensor:
    """``[N, C, ...]`` -> ``[N, C, P]`` cut to the largest valid cell count (maps are zero beyond their count)."""
    x = maps.float().flatten(2)
    return x if cells is None or len(cells) == 0 else x[:, :, :max(1, int(np.max(cells)))]


def recons_cost_all(track_maps: torch.Tensor, det_maps: torch.Tensor, track_cells=None, det_cells=None,
                    temperature: float = 100.0, chunk: int = 64) -> np.ndarray:
    """UniTrack's reconstruction cost (``reconsdot_distance``) over every pair at once, ``[N, M]``.

    Cells are L2-normalised, ``A = t·dᵀ`` over all track cells × all detection cells; a track cell is
    rebuilt from the detection cells with ``softmax(100 A)`` taken over the cells of *all* detections and
    then sliced to one detection (not renormalised per pair), a detection cell likewise with the softmax over
    all track cells; ``cost = 1 − ½(cos(rec_t, t) + cos(rec_d, d))``, cosines over whole maps. Maps with a
    variable number of cells (MOTS) are zero-padded up to the largest ``track_cells`` / ``det_cells`` of
    their side, as UniTrack pads them (padding cells enter its softmax with affinity 0).
    Computed from the cosines and per-map Gram matrices (the ``[tracks, cells, dets, C]`` reconstructions
    are never formed), ``chunk`` tracks at a time.
    """
    n, m = len(track_maps), len(det_maps)
    if n == 0 or m == 0:
        return np.zeros((n, m))
    t = F.normalize(_cells(track_maps, track_cells), dim=1).transpose(1, 2)  # [N, P, C]
    d = F.normalize(_cells(det_maps, det_cells), dim=1).transpose(1, 2)  # [M, Q, C]
    p, q = t.shape[1], d.shape[1]
    s = (t.reshape(n * p, -1) @ d.reshape(m * q, -1).T)  # [NP, MQ] cosines
    logit = temperature * s
    lse_col = torch.logsumexp(logit, dim=0, keepdim=True)  # softmax over all track cells (UniTrack dim 0)
    gram_t, gram_d = t @ t.transpose(1, 2), d @ d.transpose(1, 2)  # [N, P, P], [M, Q, Q]
    norm_t = t.flatten(1).norm(dim=1).clamp_min(1e-12)  # whole-map norms
    norm_d = d.flatten(1).norm(dim=1).clamp_min(1e-12)
    out = np.empty((n, m))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        lg = logit[a * p:b * p]
        a_td = torch.softmax(lg, dim=1).view(b - a, p, m, q)  # over all detection cells
        a_dt = torch.exp(lg - lse_col).view(b - a, p, m, q)  # over all track cells
        sc = s[a * p:b * p].view(b - a, p, m, q)
        dot_t = (a_td * sc).sum((1, 3))  # <rec_t, t>  [n', M]
        len_t = torch.einsum("npmq,mqr,npmr->nm", a_td, gram_d, a_td).clamp_min(0).sqrt().clamp_min(1e-12)
        dot_d = (a_dt * sc).sum((1, 3))  # <rec_d, d>
        len_d = torch.einsum("npmq,nps,nsmq->nm", a_dt, gram_t[a:b], a_dt).clamp_min(0).sqrt().clamp_min(1e-12)
        cos_td = dot_t / (len_t * norm_t[a:b, None])
        cos_dt = dot_d / (len_d * norm_d[None])
        out[a:b] = (1.0 - 0.5 * (cos_td + cos_dt)).cpu().numpy()
    return out


def remove_duplicated_boxes(tlbr: np.ndarray, iou_thresh: float = 0.7) -> np.ndarray:
    """Indices kept by UniTrack's ``remove_duplicated_box`` (MOTS): rows in order; a row still kept
    discards every later *or earlier* row whose IoU with it exceeds ``iou_thresh``."""
    tlbr = np.asarray(tlbr, dtype=np.float64).reshape(-1, 4)
    iou = box_iou(tlbr, tlbr)
    np.fill_diagonal(iou, 0.0)
    keep = np.ones(len(tlbr), bool)
    for r in range(len(tlbr)):
        if keep[r]:
            keep[iou[r] > iou_thresh] = False
    return np.nonzero(keep)[0]


def fuse_motion(kf: KalmanFilter, cost: np.ndarray, mean: np.ndarray, cov: np.ndarray, det_xyah: np.ndarray,
                lambda_: float = 0.98, gate: bool = True, only_position: bool = False) -> np.ndarray:
    """Appearance cost fused with the Kalman gating distance (UniTrack / JDE ``fuse_motion``).

    Pairs whose squared Mahalanobis distance exceeds the chi-square 95% quantile become ``inf``.
    """
    if cost.size == 0:
        return cost
    maha = kf.gating_distance(mean, cov, det_xyah, only_position)
    fused = lambda_ * cost + (1.0 - lambda_) * maha
    if gate:
        fused = np.where(maha > CHI2INV95[2 if only_position else 4], np.inf, fused)
    return fused
