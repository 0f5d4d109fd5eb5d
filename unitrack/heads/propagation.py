"""Label propagation on frozen dense features: the core shared by the VOS and pose heads.

UniTrack's recipe (``test/test_vos.py`` + ``model/functional.py`` of the reference code): each
position of the current frame attends to a memory of context frames — the first frame with its
given labels (long-term, *no* radius limit) and the ``n_context`` most recent frames with their
predicted soft labels (short-term, keys within a Euclidean radius ``d < radius`` feature cells).
Affinities are cosine similarities of L2-normalised features divided by a temperature; the top-k
are taken *jointly* over all context frames × positions, softmaxed, and the labels of those k
keys averaged with those weights. Propagation runs at feature stride; callers upsample.

Why this file is fast: UniTrack computes every query against every key of every context frame
(a dense ``(HW)²`` matrix per frame, ~63 G multiply-adds at 480p) and then adds a ``-1e10`` mask
outside the radius. Here the short-term frames are compared only inside the radius, tile by tile:
queries are grouped in ``tile × tile`` blocks, and each block is multiplied (one batched GEMM) with
the ``(tile + 2R)²`` key window that covers every key within the radius of any of its queries;
the radius mask is one constant ``[tile², (tile+2R)²]`` table (image borders are filled, not added).
Only the first frame keeps the dense product, as the reference does. Each part is cut down to
candidate groups of keys (the k groups with the largest maxima hold its k largest values) and one
``topk`` ranks the union: the joint top-k exactly, with the affinities bit for bit those of the
reference's GEMM (so even near-ties break the same way; exact ties may not). All objects share the
affinity: labels are a ``[K, h, w]`` channel stack, so ten objects cost one affinity and a
ten-channel gather. On CPU the tile rows of a frame are shared out to single-threaded workers (one per
intra-op thread): the per-row work is small ops that an intra-op pool splits poorly.

Memory is a fixed ring buffer of ``n_context`` frames on the device, so it never grows with the
sequence. Empty ring slots (the first ``n_context`` frames) are left out (``context_fill="empty"``);
UniTrack instead pads the video with copies of the first frame, i.e. its slots start full of frame 0
(``context_fill="first"``, ``preset=unitrack``), which duplicates first-frame keys in the top-k.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

_NEG = -1e4  # masked affinity (cosines are in [-1, 1]); finite so a softmax never sees inf - inf


@dataclass
class PropagationConfig:
    """UniTrack's published VOS setting (``configs/*.yaml``: temperature 0.05, topk 10, radius 12,
    videoLen 5, long_mem [0])."""

    temperature: float = 0.05
    topk: int = 10
    radius: float = 12.0  # feature cells; short-term keys with distance < radius
    n_context: int = 5  # most recent frames kept with their predicted soft labels
    use_first: bool = True  # first frame as long-term memory, no radius limit
    tile: int = 6  # query block side of the local GEMM (6 measured fastest of 4-8 at 480p on CPU)
    # "float32": exact (equals the dense reference); "bfloat16": affinities in bf16 (AMX / tensor
    # cores, half the ring memory), values differ by ~1e-2 in cosine, so a few top-k picks change
    precision: str = "float32"
    # the short-term slots at the start of a sequence: "empty" (left out until frames arrive) or "first"
    # (copies of frame 0 with its labels, as UniTrack pads the video with n_context copies of frame 0)
    context_fill: str = "empty"
    # VOS first-frame labels to the feature grid: "area" (fraction of each cell's pixels) or "bilinear"
    # (cv2.resize INTER_LINEAR of the one-hot, UniTrack's data/vos.py)
    label_resize: str = "area"


def _reach(radius: float) -> int:
    """Largest integer offset ``R`` with ``R < radius`` (keys at distance < radius are kept)."""
    return max(0, math.ceil(radius) - 1)


def l2n(x: torch.Tensor) -> torch.Tensor:
    """L2-normalise along the channel axis (dim -3 of ``[..., C, h, w]``)."""
    return F.normalize(x, dim=-3)


class _LocalGeometry:
    """Constant tables of the tiled radius-limited attention for one feature size."""

    def __init__(self, h: int, w: int, radius: float, tile: int, device):
        self.h, self.w, self.t = h, w, tile
        self.r = _reach(radius)
        self.s = tile + 2 * self.r
        self.nty, self.ntx = math.ceil(h / tile), math.ceil(w / tile)
        t, s, r = tile, self.s, self.r
        qi = torch.arange(t * t, device=device)
        qy, qx = qi // t, qi % t
        ki = torch.arange(s * s, device=device)
        ky, kx = ki // s - r, ki % s - r
        d2 = (ky[None] - qy[:, None]) ** 2 + (kx[None] - qx[:, None]) ** 2
        rel = d2.float() < radius**2
        self.rel_bias = torch.where(rel, 0.0, _NEG).float()  # [t², s²]
        # window row ``row`` is only computed over the columns [c0, c1) that some query of the tile can
        # reach (the window is a rounded square: ~12% fewer products at radius 12, tile 6)
        used = rel.view(t * t, s, s).any(0)  # [S rows, S cols]
        self.row_cols = [(int(u.nonzero()[0]), int(u.nonzero()[-1]) + 1) for u in used]
        # the radius disc in local_candidates' layout [S rows, 1, t², S cols, 1] (the same for every tile),
        # expanded over the ring slots on first use (a broadcast over the outer tile axis vectorises);
        # 0 where nothing is computed (those entries of the work buffer stay at _NEG)
        rel_cols = torch.where(used[:, None, :], self.rel_bias.view(t * t, s, s).permute(1, 0, 2), 0.0)
        self.rel = rel_cols.contiguous()[:, None, :, :, None]
        self._rel_n: dict[int, torch.Tensor] = {}
        self._work: dict[tuple, torch.Tensor] = {}
        # keys outside the image (the ring's zero padding) are masked by filling: whole window rows
        # (tile rows at the top / bottom) and window-column ranges of the left / right border tiles
        self.cols_out = []
        for tx in range(self.ntx):
            lo, hi = r - tx * t, r + w - tx * t  # window columns [lo, hi) are inside the image
            if lo > 0:
                self.cols_out.append((tx, 0, min(lo, s)))
            if hi < s:
                self.cols_out.append((tx, max(hi, 0), s))

    def _rel_for(self, nr: int) -> torch.Tensor:
        if nr not in self._rel_n:
            self._rel_n[nr] = self.rel.expand(*self.rel.shape[:-1], nr).contiguous()
        return self._rel_n[nr]

    def _work_for(self, nr: int, dtype, device, slot: int = 0) -> torch.Tensor:
        """The affinity buffer ``[S, ntx, t², S·N]`` of local_candidates, kept between calls: the entries
        outside ``row_cols`` are never computed and hold ``_NEG`` from the start. One buffer per worker
        slot of a geometry: a geometry (like a LabelPropagator) serves one caller at a time."""
        key = (nr, dtype, str(device), slot)
        if key not in self._work:
            self._work[key] = torch.full((self.s, self.ntx, self.t * self.t, self.s * nr), _NEG, dtype=dtype,
                                         device=device)
        return self._work[key]

    def tiles(self, q: torch.Tensor) -> torch.Tensor:
        """``[C, h, w]`` -> ``[nty, ntx, t², C]`` (zero padded)."""
        c, t = q.shape[0], self.t
        qp = F.pad(q, (0, self.ntx * t - self.w, 0, self.nty * t - self.h))
        return qp.view(c, self.nty, t, self.ntx, t).permute(1, 3, 2, 4, 0).reshape(self.nty, self.ntx, t * t, c)

    def untile(self, x: torch.Tensor) -> torch.Tensor:
        """``[K, nty, ntx, t²]`` -> ``[K, h, w]``."""
        k, t = x.shape[0], self.t
        x = x.view(k, self.nty, self.ntx, t, t).permute(0, 1, 3, 2, 4).reshape(k, self.nty * t, self.ntx * t)
        return x[:, : self.h, : self.w]

    @property
    def ring_shape(self) -> tuple[int, int]:
        """(rows, columns) of the padded key layout: the frame with ``R`` zero cells on every side,
        rounded up to whole tiles."""
        return self.nty * self.t + 2 * self.r, self.ntx * self.t + 2 * self.r

    def pad_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """``[N, C, h, w]`` -> the ring layout ``[Hp, Wp, N, C]`` (frames interleaved per position)."""
        n, c = keys.shape[:2]
        hp, wp = self.ring_shape
        kp = keys.new_zeros(hp, wp, n, c)
        kp[self.r:self.r + self.h, self.r:self.r + self.w] = keys.permute(2, 3, 0, 1)
        return kp

    def local_candidates(self, q: torch.Tensor, kp: torch.Tensor, n: int, ty: int, k: int, slot: int = 0):
        """Affinities of the queries of tile row ``ty`` (``q [ntx, t², C]``) against the keys within the
        radius in the first ``n`` slots of the ring ``kp [Hp, Wp, N, C]``, cut down to candidates that
        hold the top k: values ``[ntx·t², L]`` and a function from candidate positions to flat key
        indices ``slot·h·w + y·w + x``.

        The ring interleaves frames per position, so the keys of one window row of tile ``tx`` —
        ``S`` columns × all ``N`` frames — are ONE contiguous ``[S·N, C]`` block, and consecutive
        tiles are a uniform ``t·N·C`` apart: each window row is one batched GEMM over the tiles
        (``[t², C] @ [C, S·N]`` each), reading the keys in place, never copying the overlapping
        windows. Candidates are whole groups (one window column of one frame, ``S`` rows): the k
        groups with the largest maxima hold the k largest values, so only those ``k·S`` values remain.
        """
        hp, wp, nr, c = kp.shape
        t, s, r, ntx = self.t, self.s, self.r, self.ntx
        tt = t * t
        a = self._work_for(nr, q.dtype, q.device, slot)
        for row, (c0, c1) in enumerate(self.row_cols):
            off = kp.storage_offset() + ((ty * t + row) * wp + c0) * nr * c
            keys = kp.as_strided((ntx, c, (c1 - c0) * nr), (t * nr * c, 1, c), off)
            torch.bmm(q, keys, out=a[row, :, :, c0 * nr:c1 * nr])
        a = a.view(s, ntx, tt, s, nr)
        a += self._rel_for(nr)  # outside the radius
        lo, hi = r - ty * t, r + self.h - ty * t  # window rows [lo, hi) are inside the image
        if lo > 0:
            a[:lo] = _NEG
        if hi < s:
            a[max(hi, 0):] = _NEG
        for tx, c0, c1 in self.cols_out:
            a[:, tx, :, c0:c1] = _NEG
        if n < nr:
            a[..., n:] = _NEG  # empty ring slots
        b = ntx * tt
        # the max over window rows (the outermost axis) is an elementwise max of S contiguous slabs
        gmax = a.amax(0).view(b, s * nr)
        kg = min(k, s * n)
        _, gi = gmax.topk(kg, dim=1)  # [b, kg] best (window column, slot) groups
        bi = torch.arange(b, device=q.device)[:, None]
        wx, fr = gi // nr, gi % nr
        # the S window rows of each chosen group: one index_select on the flat [S, b·S·N] view
        sel = a.view(s, b * s * nr).index_select(1, (bi * (s * nr) + gi).view(-1))  # [S rows, b·kg]

        def index(j: torch.Tensor) -> torch.Tensor:
            g = j // s
            y = (ty * t + j % s - r).clamp(0, self.h - 1)
            x = ((bi // tt) * t + wx.gather(1, g) - r).clamp(0, self.w - 1)
            return fr.gather(1, g) * (self.h * self.w) + y * self.w + x

        return sel.view(s, b, kg).permute(1, 2, 0).reshape(b, kg * s), index


def _grouped_candidates(a: torch.Tensor, k: int, group: int):
    """Candidates for the top-k along the last axis of ``a [B, n]``, fewer than ``n`` on long rows: the
    k largest values lie in the k groups (of ``group`` consecutive entries) with the largest maxima, so
    rank group maxima (one vectorised reduction) and keep those k groups. Returns values ``[B, L]`` and
    a function from candidate positions to positions in ``a``."""
    b, n = a.shape
    if n <= 4 * k * group or n % group:
        return a, lambda j: j
    ng = n // group
    g = a.view(b, ng, group)
    _, gi = g.amax(-1).topk(k, dim=-1)  # [B, k] best groups
    rows = torch.arange(b, device=a.device)[:, None] * ng
    sel = g.view(-1, group).index_select(0, (rows + gi).view(-1))  # [B·k, group]: whole groups copied
    return sel.view(b, k * group), lambda j: gi.gather(-1, j // group) * group + j % group


def _merged_topk(parts: list, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint top-k over candidate parts ``(values [B, L], index function, index offset)``: one ``topk``
    over all candidates (the union holds the joint top k), indices mapped back per part."""
    v = torch.cat([p[0] for p in parts], 1) if len(parts) > 1 else parts[0][0]
    v, j = v.topk(min(k, v.shape[1]), dim=1)
    idx, start = None, 0
    for vals, index, off in parts:
        n = vals.shape[1]
        i = off + index((j - start).clamp(0, n - 1))
        idx = i if idx is None else torch.where(j >= start, i, idx)
        start += n
    return v, idx


def propagate_frame(query: torch.Tensor, first_key: torch.Tensor | None, first_lbl: torch.Tensor | None,
                    mem_keys: torch.Tensor | None, mem_lbls: torch.Tensor | None, cfg: PropagationConfig,
                    geom: _LocalGeometry | None = None, padded: bool = False) -> torch.Tensor:
    """Soft labels ``[K, h, w]`` of one frame.

    ``query [C, h, w]``, ``first_key [C, h, w]`` with ``first_lbl [K, h, w]`` (dense, no radius),
    ``mem_keys [N, C, h, w]`` with ``mem_lbls [N, K, h, w]`` (radius-limited; with ``padded=True``
    ``mem_keys`` is a ring in ``geom.pad_keys`` layout whose first ``N`` slots are used). Features must
    be L2-normalised already. Either memory part may be ``None`` / empty, not both.
    """
    c, h, w = query.shape
    dt = getattr(torch, cfg.precision)
    query = query.to(dt)
    has_first = first_key is not None
    has_mem = mem_lbls is not None and len(mem_lbls) > 0
    if not (has_first or has_mem):
        raise ValueError("propagation needs a first frame or at least one memory frame")
    if geom is None:
        geom = _LocalGeometry(h, w, cfg.radius, cfg.tile, query.device)
    hw = h * w
    lbl_parts = []
    if has_first:
        lbl_parts.append(first_lbl.reshape(first_lbl.shape[0], hw))
        fk = first_key.reshape(c, hw).to(dt)
    if has_mem:
        n = mem_lbls.shape[0]
        lbl_parts.append(mem_lbls.permute(1, 0, 2, 3).reshape(mem_lbls.shape[1], n * hw))
        kp = (mem_keys if padded else geom.pad_keys(mem_keys)).to(dt)
    bank = torch.cat(lbl_parts, 1) if len(lbl_parts) > 1 else lbl_parts[0]  # [K, (1+N)·hw]
    off_mem = hw if has_first else 0
    qt = geom.tiles(query)  # [nty, ntx, t², C]
    t, ntx = geom.t, geom.ntx

    def tile_rows(rows, slot: int) -> list[torch.Tensor]:
        out = []
        for ty0 in rows:  # one tile row at a time bounds the temporaries (~16 MB at 480p)
            q = qt[ty0]
            parts = []
            if has_first:  # [ntx·t², hw]: the long-term frame, dense as in UniTrack
                parts.append((*_grouped_candidates(q.reshape(-1, c) @ fk, cfg.topk, w), 0))
            if has_mem:
                parts.append((*geom.local_candidates(q, kp, n, ty0, cfg.topk, slot), off_mem))
            v, i = _merged_topk(parts, cfg.topk)
            v, i = v.float().view(ntx, t * t, -1), i.view(ntx, t * t, -1)
            wts = torch.softmax(v / cfg.temperature, dim=2)  # [B, t², k]
            pred = (bank[:, i] * wts[None]).sum(-1)  # [K, B, t²]
            out.append(pred.view(-1, 1, ntx, t * t))
        return out

    workers = _row_workers(query.device, geom.nty)
    if workers == 1:
        rows = tile_rows(range(geom.nty), 0)
    else:  # interleaved rows, so the border rows (cheaper: masked window rows) are shared out evenly
        done = _executor(workers, os.getpid()).map(lambda j: _single_threaded(tile_rows, range(j, geom.nty, workers), j),
                                      range(workers))
        rows = [None] * geom.nty
        for j, part in enumerate(done):
            rows[j::workers] = part
    return geom.untile(torch.cat(rows, 1))


def _row_workers(device: torch.device, n_rows: int) -> int:
    """Threads that share a frame's tile rows: on CPU, one per intra-op thread. A row's work is many
    small GEMMs, reductions and gathers that a 2-thread intra-op pool splits poorly; whole rows on
    single-threaded workers measured 223 vs 251 ms per frame at 480p on 2 cores (same results bit
    for bit: each row is computed exactly as before). On GPU the device is the parallelism."""
    return max(1, min(torch.get_num_threads(), n_rows)) if device.type == "cpu" else 1


@functools.lru_cache(maxsize=4)
def _executor(workers: int, pid: int) -> ThreadPoolExecutor:
    """One pool per process (``pid``: a forked child must not reuse its parent's dead threads)."""
    return ThreadPoolExecutor(workers, thread_name_prefix="propagate")


def _single_threaded(fn, *args):
    """Run ``fn`` with one intra-op thread on this worker (the setting is per calling thread)."""
    torch.set_num_threads(1)
    return fn(*args)


@functools.lru_cache(maxsize=2)
def _radius_mask(h: int, w: int, radius: float, device: str) -> torch.Tensor:
    """UniTrack's ``MaskedAttention`` mask as an additive ``[key, query]`` table (0 / -1e10), built
    once per feature size as the reference does (per video)."""
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    gy, gx = gy.flatten().float(), gx.flatten().float()
    dist = ((gy[:, None] - gy[None]) ** 2 + (gx[:, None] - gx[None]) ** 2) ** 0.5
    mask = torch.zeros(h * w, h * w)
    mask[dist >= radius] = -1e10
    return mask.to(device)


def dense_propagate_reference(query: torch.Tensor, keys: torch.Tensor, lbls: torch.Tensor, n_long: int,
                              cfg: PropagationConfig, q_chunk: int = 100) -> torch.Tensor:
    """UniTrack's dense-then-mask propagation (``mem_efficient_batched_affinity``), kept faithful for
    the tests and the speed benchmark: every query against every key of ``keys [T, C, h, w]`` in
    chunks of 100 queries, ``-1e10`` added outside the radius for the frames after the first
    ``n_long`` (long-term) ones, ``/ temperature``, top-k over ``T·h·w``, softmax, weighted labels.
    """
    T, c, h, w = keys.shape
    hw = h * w
    mask = _radius_mask(h, w, cfg.radius, str(query.device))
    k = keys.permute(1, 0, 2, 3).reshape(c, T, hw)
    q = query.reshape(c, hw)
    lb = lbls.permute(1, 0, 2, 3).reshape(lbls.shape[1], T * hw)
    out = torch.empty(lbls.shape[1], hw, device=query.device)
    for p in range(0, hw, q_chunk):
        a = torch.einsum("ctk,cq->tkq", k, q[:, p:p + q_chunk])
        a[n_long:] += mask[None, :, p:p + q_chunk]
        a = a.reshape(T * hw, -1) / cfg.temperature
        wv, ids = torch.topk(a, min(cfg.topk, T * hw), dim=0)
        wv = torch.softmax(wv, dim=0)
        out[:, p:p + q_chunk] = (lb[:, ids] * wv[None]).sum(1)
    return out.view(-1, h, w)


class LabelPropagator:
    """Frame-by-frame propagation with a fixed-size memory on the device.

    ``init(first_feat [C,h,w], first_labels [K,h,w])`` then ``step(feat) -> soft labels [K,h,w]``
    for each following frame; the prediction is pushed into the ring buffer of recent frames.
    Features are L2-normalised here.
    """

    def __init__(self, config: PropagationConfig | None = None):
        self.cfg = config or PropagationConfig()
        self._geom = None

    def init(self, first_feat: torch.Tensor, first_labels: torch.Tensor) -> None:
        if first_feat.dim() != 3 or first_labels.dim() != 3:
            raise ValueError("first_feat must be [C,h,w] and first_labels [K,h,w]")
        if first_feat.shape[-2:] != first_labels.shape[-2:]:
            raise ValueError(f"labels {tuple(first_labels.shape[-2:])} and features "
                             f"{tuple(first_feat.shape[-2:])} differ in size")
        c, h, w = first_feat.shape
        k = first_labels.shape[0]
        dev = first_feat.device
        dt = getattr(torch, self.cfg.precision)
        self.first_key = l2n(first_feat.float()).to(dt)
        self.first_lbl = first_labels.float().to(dev)
        n = self.cfg.n_context
        self._geom = g = _LocalGeometry(h, w, self.cfg.radius, self.cfg.tile, dev)
        hp, wp = g.ring_shape
        self.mem_keys = torch.zeros(hp, wp, max(n, 1), c, device=dev, dtype=dt)  # ring layout, see pad_keys
        self.mem_lbls = torch.zeros(n, k, h, w, device=dev)
        self.count, self.head = 0, 0
        if self.cfg.context_fill not in ("empty", "first"):
            raise ValueError(f"context_fill={self.cfg.context_fill!r}: expected 'empty' or 'first'")
        if self.cfg.context_fill == "first":  # UniTrack: every short-term slot starts as frame 0
            for _ in range(n):
                self._push(self.first_key, self.first_lbl)
        elif not self.cfg.use_first:  # memory must hold something: seed the ring with frame 0
            self._push(self.first_key, self.first_lbl)

    def _push(self, key: torch.Tensor, lbl: torch.Tensor) -> None:
        if self.cfg.n_context <= 0:
            return
        g = self._geom
        self.mem_keys[g.r:g.r + g.h, g.r:g.r + g.w, self.head] = key.permute(1, 2, 0)
        self.mem_lbls[self.head] = lbl
        self.head = (self.head + 1) % self.cfg.n_context
        self.count = min(self.count + 1, self.cfg.n_context)

    @torch.no_grad()
    def step(self, feat: torch.Tensor) -> torch.Tensor:
        if self._geom is None:
            raise RuntimeError("call init() with the first frame before step()")
        if tuple(feat.shape) != tuple(self.first_key.shape):
            raise ValueError(f"feature map {tuple(feat.shape)} differs from the first frame's "
                             f"{tuple(self.first_key.shape)}")
        key = l2n(feat.float()).to(self.first_key.dtype)
        mem = self.mem_keys if self.count else None
        pred = propagate_frame(key, self.first_key if self.cfg.use_first else None,
                               self.first_lbl if self.cfg.use_first else None,
                               mem, self.mem_lbls[: self.count] if self.count else None, self.cfg, self._geom,
                               padded=True)
        self._push(key, pred)
        return pred


# ---------------------------------------------------------------------------------------------
# Helpers shared by the propagation heads (vos, pose) and sot: decoding ahead and encoding.


def frame_batches(seq, batch_size: int = 8, start: int = 0):
    """Yield ``(indices, uint8 [B,H,W,3])`` of a sequence from ``unitrack.data`` (``frames``,
    ``frame_dir``, ``load_frames``), decoded ahead by ``videossl.io.prefetch`` when the frame folder
    is exactly the sequence (else read by path, e.g. OTB's annotated sub-ranges)."""
    n = len(seq.frames)
    batches = [list(range(s, min(s + batch_size, n))) for s in range(start, n, batch_size)]
    if not batches:
        return
    reader = None
    try:
        from videossl.io import open_video

        reader = open_video(seq.frame_dir)
        names = [Path(p).name for p in getattr(reader, "files", [])] or None  # files are str paths
        if len(reader) != n or (names is not None and names != [p.name for p in seq.frames]):
            reader = None
    except Exception:  # any reader trouble: fall back to reading the listed paths
        reader = None
    if reader is None:
        for b in batches:
            yield b, seq.load_frames(b)
        return
    from videossl.io import prefetch

    yield from prefetch(reader, batches)


@torch.no_grad()
def encode(model, frames, device, size=None) -> torch.Tensor:
    """Dense features ``[B, C, h, w]`` (float32, on ``device``) of ``uint8 [B,H,W,3]`` RGB frames,
    normalised with the model's own mean/std; ``size=(H, W)`` resizes first."""
    from videossl.io.transforms import to_tensor_normalized

    x = to_tensor_normalized(frames, model.mean, model.std, size).to(device)
    return model.encode_frames(x).float()
