"""SOT head: a discriminative correlation filter on frozen features (UniTrack's DCF / DCFNet head).

Per frame, all in torch on the device (the reference used ``torch.rfft``, gone since PyTorch 1.8;
``torch.fft.rfft2`` here):

* crop a square window ``target_size × (1 + padding)`` around the target, resized to ``crop_size``
  (bilinear ``grid_sample``; outside the image = 0 = the mean colour after normalisation) and
  encode it: ``[C, s, s]`` features with ``s = crop_size / stride``;
* learn (first frame) / update (then, interpolation 0.01): template ``z`` masked by an inner window
  the size of the target, ``α̂ = ŷ / (Σ_c |ẑ_c|² + λ)`` with ``y`` a Gaussian (σ = s / (1 + padding) × 0.1
  ≈ 1.44 cells) rolled to the origin; the model keeps running averages of ``α̂`` and ``ẑ``;
* detect: 3 search crops (scales ``1.0275^{-1,0,1}``), Hanning-windowed, response
  ``IFFT(Σ_c x̂_c · conj(ẑ_c) · α̂)``; the best peak after the scale penalty 0.985 (per step off the
  middle) gives the shift (wrapped, in cells × window / s) and the scale; the size is clamped to
  ``[0.2, 5] ×`` the initial size (and at least 4 px, at most the image).

Boxes out are OTB ``x, y, w, h``; ``--model copy-first`` repeats the first box (the trivial baseline).

Speed. The model's forward on the crops is nearly all the time: the head's own work (crops, FFTs, peak,
update) is 2–8 % of it with the default model on CPU, 12–18 % with the tiny test model (``eval/results/sot.md``). One forward per frame: the template-update crop of
frame ``t`` (at the new position) is encoded in the same batch as frame ``t + 1``'s search crops — the update is
applied before the detection, so the result is UniTrack's order exactly, with 1 forward instead of 2.
``interp_factor=0`` (no online update) drops the update crop altogether. The cost grows with ``crop_size``
(quadratically for a CNN, faster for a ViT whose attention is quadratic in the ``(crop_size / stride)²``
tokens): ``--opt crop_size=264`` (33×33 cells) is the documented fast setting (``FAST_OPTIONS``), measured
against UniTrack's 520 in ``eval/results/sot.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from unitrack.heads.propagation import frame_batches
from unitrack.heads.options import copy_first, head_run
from videossl.errors import InputError


@dataclass
class DCFConfig:
    """UniTrack's ``test_sot_cfnet.py`` ``TrackerConfig`` (the default); ``FAST_OPTIONS`` is the fast setting."""

    crop_size: int = 520  # 512 + 8: 65×65 features at stride 8
    padding: float = 3.5
    lambda0: float = 1e-4
    output_sigma_factor: float = 0.1
    interp_factor: float = 0.01
    num_scale: int = 3
    scale_step: float = 1.0275
    scale_penalty: float = 0.985
    min_scale_factor: float = 0.2
    max_scale_factor: float = 5.0


# The documented fast setting (``--opt crop_size=264``): ~1/4 of the pixels per crop; AUC in eval/results/sot.md.
FAST_OPTIONS = {"crop_size": 264}


def gaussian_label(sigma: float, size: int, device=None) -> torch.Tensor:
    """``[size, size]`` Gaussian with its peak at (0, 0) (rolled), UniTrack's ``gaussian_shaped_labels``."""
    r = torch.arange(1, size + 1, dtype=torch.float64, device=device) - size // 2
    d = r[:, None] ** 2 + r[None, :] ** 2
    g = torch.exp(-0.5 / sigma**2 * d)
    return torch.roll(g, shifts=(-(size // 2) + 1, -(size // 2) + 1), dims=(0, 1)).float()


class DCFTracker:
    """``init(image, box)`` then ``track(image) -> box`` (``x, y, w, h`` 0-based floats).

    ``image`` is a normalised ``float [3, H, W]`` tensor on the device; ``encoder`` maps
    ``[B, 3, S, S] -> [B, C, s, s]`` (the frozen model).
    """

    def __init__(self, encoder, config: DCFConfig | None = None):
        self.encode = encoder
        self.cfg = config or DCFConfig()
        c = self.cfg
        n = c.num_scale
        ex = np.arange(n) - n // 2
        self.scale_factors = c.scale_step ** ex
        self.scale_penalties = c.scale_penalty ** np.abs(ex)
        self.alphaf = self.zf = None
        self._pending = None  # the update crop of the last frame, encoded with the next frame's search crops

    def _crop(self, image: torch.Tensor, center: np.ndarray, windows: np.ndarray) -> torch.Tensor:
        """Square-resampled crops ``[B, 3, S, S]`` of ``windows [B, 2]`` (w, h) around ``center`` (x, y):
        pixel ``u`` of the crop samples ``x1 + u · (x2 - x1) / (S - 1)`` (UniTrack's ``crop_chw``)."""
        _, H, W = image.shape
        S = self.cfg.crop_size
        u = torch.arange(S, dtype=torch.float64) / (S - 1)
        win = torch.as_tensor(np.asarray(windows, np.float64))  # [B, 2]
        x = (center[0] - win[:, :1] / 2 + u * win[:, :1]) * (2 / max(W - 1, 1)) - 1  # [B, S] in grid units
        y = (center[1] - win[:, 1:] / 2 + u * win[:, 1:]) * (2 / max(H - 1, 1)) - 1
        grid = torch.stack(torch.broadcast_tensors(x[:, None, :], y[:, :, None]), -1)  # [B, S, S, (x, y)]
        return F.grid_sample(image[None].expand(len(win), -1, -1, -1), grid.to(image.device, torch.float32),
                             mode="bilinear", padding_mode="zeros", align_corners=True)

    def _setup(self, s: int, device) -> None:
        c = self.cfg
        sigma = s / (1 + c.padding) * c.output_sigma_factor
        self.s = s
        self.yf = torch.fft.rfft2(gaussian_label(sigma, s, device))
        han = torch.from_numpy(np.hanning(s)).float().to(device)  # as np.hanning (zeros at both ends)
        self.cos_window = han[:, None] * han[None, :]
        inner = torch.zeros(s, device=device)
        half = int(s // (2 * (c.padding + 1)))
        inner[s // 2 - half: s // 2 + half] = 1
        self.inner_window = inner[:, None] * inner[None, :]

    def _update(self, z: torch.Tensor, lr: float) -> None:
        zf = torch.fft.rfft2(z * self.inner_window)  # [C, s, s//2+1]
        kzzf = (zf.real**2 + zf.imag**2).sum(0)
        alphaf = self.yf / (kzzf + self.cfg.lambda0)
        if self.zf is None or lr >= 1:
            self.alphaf, self.zf = alphaf, zf
        else:
            self.alphaf = (1 - lr) * self.alphaf + lr * alphaf
            self.zf = (1 - lr) * self.zf + lr * zf

    @torch.no_grad()
    def init(self, image: torch.Tensor, box) -> None:
        x, y, w, h = (float(v) for v in box)
        if not (w > 0 and h > 0 and all(map(math.isfinite, (x, y, w, h)))):
            raise ValueError(f"initial box must have a positive finite size, got {list(box)}")
        H, W = image.shape[-2:]
        c = self.cfg
        self.pos = np.array([x + w / 2, y + h / 2])  # centre, continuous pixels
        self.size = np.array([w, h])
        self.min_sz = np.maximum(c.min_scale_factor * self.size, 4)
        self.max_sz = np.minimum(np.array([W, H], float), c.max_scale_factor * self.size)
        self.max_sz = np.maximum(self.max_sz, self.min_sz)
        z = self.encode(self._crop(image, self.pos, (self.size * (1 + c.padding))[None]))[0]
        self._setup(z.shape[-1], image.device)
        self.zf = None
        self._pending = None
        self._update(z, 1.0)

    @torch.no_grad()
    def track(self, image: torch.Tensor) -> np.ndarray:
        c = self.cfg
        windows = np.stack([self.size * f * (1 + c.padding) for f in self.scale_factors])
        crops = self._crop(image, self.pos, windows)
        if self._pending is not None:  # one forward: last frame's update crop + this frame's search crops
            crops = torch.cat([self._pending, crops])
        x = self.encode(crops)
        if self._pending is not None:
            self._update(x[0], c.interp_factor)  # applied before detecting, as UniTrack does
            x = x[1:]
        x = x * self.cos_window  # [n, C, s, s]
        xf = torch.fft.rfft2(x)
        kxzf = (xf * self.zf.conj()[None]).sum(1)
        response = torch.fft.irfft2(kxzf * self.alphaf, s=(self.s, self.s))  # [n, s, s]
        peak, idx = response.flatten(1).max(1)
        peak = peak.cpu().numpy() * self.scale_penalties
        best = int(np.argmax(peak))
        r, col = divmod(int(idx[best]), self.s)
        if r > self.s / 2:
            r -= self.s
        if col > self.s / 2:
            col -= self.s
        window = windows[best]
        self.pos = self.pos + np.array([col, r]) * window / self.s
        self.size = np.minimum(np.maximum(window / (1 + c.padding), self.min_sz), self.max_sz)
        self._pending = self._crop(image, self.pos, (self.size * (1 + c.padding))[None]) if c.interp_factor > 0 else None
        return self.box

    @property
    def box(self) -> np.ndarray:
        return np.array([self.pos[0] - self.size[0] / 2, self.pos[1] - self.size[1] / 2, *self.size])


def sequences(root: Path) -> list[str]:
    from unitrack.data import otb

    return otb.list_sequences(root)


def prediction_path(task_dir: Path, seq: str) -> Path:
    return Path(task_dir) / f"{seq}.txt"


def track_sequence(seq, model, device, config: DCFConfig | None = None, baseline: bool = False,
                   timings: dict | None = None, on_frame=None, batch_size: int = 8) -> np.ndarray:
    """Boxes ``[T, 4]`` (0-based xywh) of an OTB sequence (``unitrack.data.otb``) from its first box."""
    t_ = timings if timings is not None else {}
    for k in ("decode", "features", "tracking"):  # tracking: the head's own work (features not included)
        t_.setdefault(k, 0.0)
    init = np.asarray(seq.boxes[0], np.float64)
    T = len(seq.frames)
    if not (np.isfinite(init).all() and init[2] > 0 and init[3] > 0):
        raise InputError(seq.gt_path, f"first box {init.tolist()} has no positive size: nothing to track")
    if baseline:
        return copy_first(init, T, on_frame)
    from videossl.io.transforms import to_tensor_normalized

    def encode(x):
        t = time.perf_counter()
        y = model.encode_frames(x).float()
        if y.device.type == "cuda":
            torch.cuda.synchronize(y.device)  # so the time split is the device's, not the launch's
        t_["features"] += time.perf_counter() - t
        return y

    tracker = DCFTracker(encode, config)
    out = np.zeros((T, 4))
    t0 = time.perf_counter()
    for indices, frames in frame_batches(seq, batch_size):
        t1 = time.perf_counter()
        t_["decode"] += t1 - t0
        imgs = to_tensor_normalized(frames, model.mean, model.std).to(device)
        f0 = t_["features"]
        for j, t in enumerate(indices):
            if t == 0:
                tracker.init(imgs[j], init)
                out[0] = init
            else:
                out[t] = tracker.track(imgs[j])
            if on_frame is not None:
                t2 = time.perf_counter()
                on_frame(t, frames[j], out[t])  # drawing/progress: not the head's time
                t1 += time.perf_counter() - t2
        t0 = time.perf_counter()
        t_["tracking"] += t0 - t1 - (t_["features"] - f0)
    return out


def run_sequence(job) -> dict:
    """The ``unitrack.eval`` entry: write ``RUN/sot/<Seq>.txt`` (OTB, 1-based, atomically)."""
    from unitrack.data import otb
    from unitrack.data.writers import write_otb

    seq = otb.load_sequence(job.root, job.seq)

    def draw(viz, t, rgb, box):
        return viz.draw_track_box(rgb, box, seq.boxes[t] if t < len(seq.boxes) else None)

    with head_run(job, DCFConfig, "sot", seq, draw) as r, torch.no_grad():
        boxes = track_sequence(seq, r.model, job.device, r.cfg, r.baseline, r.timings, r.on_frame)
    write_otb(job.out, boxes)
    return r.result(len(boxes))
