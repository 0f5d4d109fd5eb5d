"""Resize and normalise frames on their way from the decoder to a model.

Resizing works on ``uint8`` frames with OpenCV (it releases the GIL, so it runs
in parallel on the prefetch threads, and uint8 is 4x less memory than float).
Normalisation is a separate step, :func:`normalize_on_device`, so that the
extraction pipeline can ship uint8 to the GPU (4x fewer bytes over PCIe) and
turn it into floats there; :func:`to_tensor_normalized` does both on the CPU
for everything else.

Sizes: an ``int`` resizes the shorter side to that many pixels (aspect kept);
a pair ``(h, w)`` resizes to exactly that.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def _target_size(h: int, w: int, size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        if h <= w:
            return int(size), max(1, round(w * size / h))
        return max(1, round(h * size / w)), int(size)
    th, tw = (int(s) for s in size)
    return th, tw


def resize(frames: np.ndarray, size: int | Sequence[int] | None) -> np.ndarray:
    """Resize ``uint8 [N,H,W,3]`` frames; area interpolation when shrinking (no aliasing), bilinear when growing."""
    import cv2

    if size is None or len(frames) == 0:
        return frames
    h, w = frames.shape[1:3]
    th, tw = _target_size(h, w, size)
    if (th, tw) == (h, w):
        return frames
    interp = cv2.INTER_AREA if th * tw < h * w else cv2.INTER_LINEAR
    out = np.empty((len(frames), th, tw, frames.shape[3]), frames.dtype)
    for i, f in enumerate(frames):
        out[i] = cv2.resize(f, (tw, th), interpolation=interp)
    return out


def center_crop(frames: np.ndarray, size: int | Sequence[int]) -> np.ndarray:
    """Central ``(h, w)`` crop of ``[N,H,W,C]`` frames (no-op where the frame is already that small)."""
    th, tw = (int(size), int(size)) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    h, w = frames.shape[1:3]
    top, left = max(0, (h - th) // 2), max(0, (w - tw) // 2)
    return frames[:, top:top + th, left:left + tw]


def resize_short_center_crop(frames: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """The CLIP evaluation recipe: shorter side to fit ``(h, w)``, then a central crop of ``(h, w)``."""
    th, tw = (int(s) for s in size)
    h, w = frames.shape[1:3]
    scale = max(th / h, tw / w)
    frames = resize(frames, (max(th, round(h * scale)), max(tw, round(w * scale))))
    return center_crop(frames, (th, tw))


def to_uint8_tensor(frames: np.ndarray) -> torch.Tensor:
    """``uint8 [N,H,W,3]`` numpy -> contiguous ``uint8 [N,3,H,W]`` tensor (still uint8: cheap to pin and copy)."""
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))


def normalize_on_device(x: torch.Tensor, mean: Sequence[float], std: Sequence[float],
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``uint8 [...,3,H,W]`` -> float ``(x/255 - mean)/std`` on whatever device ``x`` lives."""
    m = torch.as_tensor(mean, dtype=dtype, device=x.device).view(3, 1, 1) * 255.0
    s = torch.as_tensor(std, dtype=dtype, device=x.device).view(3, 1, 1) * 255.0
    return (x.to(dtype) - m) / s


def to_tensor_normalized(frames: np.ndarray, mean: Sequence[float], std: Sequence[float],
                         size: int | Sequence[int] | None = None) -> torch.Tensor:
    """``uint8 [N,H,W,3]`` RGB -> normalised ``float32 [N,3,h,w]`` (resized first when ``size`` is given)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [N,H,W,3], got shape {tuple(frames.shape)}")
    return normalize_on_device(to_uint8_tensor(resize(frames, size)), mean, std)
