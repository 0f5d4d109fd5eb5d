"""VOS head: semi-supervised video object segmentation by label propagation (UniTrack / DAVIS-2017).

The first frame's indexed mask becomes a ``[K+1, h, w]`` stack of soft labels at feature stride
(background + one channel per object, area-averaged so thin parts survive the downsampling);
:class:`~unitrack.heads.propagation.LabelPropagator` carries all objects at once; each prediction
is upsampled bilinearly to the frame and argmaxed into object ids, written as DAVIS indexed PNGs.

Frames are fed at their own resolution (UniTrack runs DAVIS at 480p, 60×107 features at stride 8).

Outcomes on odd input, by design:
- an empty first-frame mask: nothing to propagate — every frame is written as background, with one
  warning line (the scores of such a sequence are then defined by the metric, not by a crash);
- a one-frame sequence: the given mask is the whole prediction;
- a mask whose size differs from its frame, or a frame whose size differs from the first: an
  ``InputError`` naming the file.

``--model copy-first`` (or ``options["baseline"] = "copy-first"``) copies the first mask to every
frame without a model: the trivial baseline, written and scored by the same code path.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from unitrack.heads.options import BASELINE, head_run, is_baseline  # noqa: F401 (re-exported)
from unitrack.heads.propagation import LabelPropagator, PropagationConfig, encode, frame_batches
from videossl.errors import InputError



def sequences(root: Path, dataset_format: str | None = None) -> list[str]:
    """Names of the DAVIS root's val list; ``dataset_format`` 'davis2016' | 'davis2017' | None (detected)."""
    from unitrack.data import davis

    return davis.list_sequences(root, dataset_format=dataset_format)


def prediction_path(task_dir: Path, seq: str) -> Path:
    return Path(task_dir) / seq


def first_frame_labels(mask: np.ndarray, feat_hw: tuple[int, int], resize: str = "area") -> tuple[torch.Tensor, list[int]]:
    """``uint8 [H, W]`` ids -> soft labels ``[K+1, h, w]`` (channel 0 = background) and the object ids.

    One-hot at full resolution, then to the feature grid: ``"area"`` averages (a cell's label is the
    fraction of its pixels in each object, so thin parts survive); ``"bilinear"`` is UniTrack's
    ``cv2.resize(onehot, (w, h))`` (INTER_LINEAR: at stride 8 each cell reads the 2x2 pixels around its
    centre). Void (255) counts as background.
    """
    ids = [int(i) for i in np.unique(mask) if i not in (0, 255)]
    onehot = np.zeros((len(ids) + 1, *mask.shape), np.float32)
    onehot[0] = ~np.isin(mask, ids)
    for k, i in enumerate(ids):
        onehot[k + 1] = mask == i
    if resize == "bilinear":
        import cv2

        small = cv2.resize(np.ascontiguousarray(onehot.transpose(1, 2, 0)), (feat_hw[1], feat_hw[0]),
                           interpolation=cv2.INTER_LINEAR)
        lbl = torch.from_numpy(small.reshape(*feat_hw, -1).transpose(2, 0, 1).copy())
    elif resize == "area":
        lbl = F.adaptive_avg_pool2d(torch.from_numpy(onehot)[None], feat_hw)[0]
    else:
        raise ValueError(f"label_resize={resize!r}: expected 'area' or 'bilinear'")
    return lbl, ids


def labels_to_mask(soft: torch.Tensor, ids: list[int], hw: tuple[int, int]) -> np.ndarray:
    """Soft labels ``[K+1, h, w]`` -> ``uint8 [H, W]`` ids: bilinear upsampling, then argmax."""
    up = F.interpolate(soft[None], size=hw, mode="bilinear", align_corners=False)[0]
    lut = torch.tensor([0] + list(ids), dtype=torch.uint8, device=soft.device)
    return lut[up.argmax(0)].cpu().numpy()


def segment_sequence(seq, model, device, config: PropagationConfig | None = None, baseline: bool = False,
                     batch_size: int = 4, on_frame=None, timings: dict | None = None):
    """Yield ``(t, uint8 [H, W] mask)`` for every frame of a DAVIS sequence (``unitrack.data.davis``)."""
    t_ = timings if timings is not None else {}
    for k in ("decode", "features", "propagation"):
        t_.setdefault(k, 0.0)
    first = seq.first_mask()  # size-checked against the frame by the reader
    hw = (seq.height, seq.width)
    ids = [int(i) for i in np.unique(first) if i not in (0, 255)]
    if not ids:
        print(f"warning: {seq.name}: first-frame mask has no object; predicting background", file=sys.stderr)
    if baseline or not ids:
        out = first if ids else np.zeros(hw, np.uint8)
        out = np.where(first == 255, 0, out).astype(np.uint8)
        for t in range(len(seq.frames)):
            if on_frame is not None:
                on_frame(t, None, out, ids)
            yield t, out
        return
    cfg = config or PropagationConfig()
    prop = LabelPropagator(cfg)
    t0 = time.perf_counter()
    for indices, frames in frame_batches(seq, batch_size):
        t1 = time.perf_counter()
        t_["decode"] += t1 - t0
        if frames.shape[1:3] != hw:
            raise InputError(seq.frames[indices[0]], f"frame is {frames.shape[1]}x{frames.shape[2]} (HxW) but the "
                                                     f"first frame and mask are {hw[0]}x{hw[1]}")
        feats = encode(model, frames, device)
        t2 = time.perf_counter()
        t_["features"] += t2 - t1
        for j, t in enumerate(indices):
            if t == 0:
                lbl, ids = first_frame_labels(first, feats.shape[-2:], cfg.label_resize)
                prop.init(feats[j], lbl.to(feats.device))
                mask = np.where(first == 255, 0, first).astype(np.uint8)
            else:
                mask = labels_to_mask(prop.step(feats[j]), ids, hw)
            if on_frame is not None:
                on_frame(t, frames[j], mask, ids)
            yield t, mask
        t0 = time.perf_counter()
        t_["propagation"] += t0 - t2


def run_sequence(job, dataset_format: str | None = None) -> dict:
    """The ``unitrack.eval`` entry: write ``RUN/vos/<seq>/<frame>.png`` (atomically: a temp folder renamed).

    ``dataset_format`` as in :func:`sequences` (a DAVIS-2016 first mask is the one object, id 1)."""
    from unitrack.data import davis
    from unitrack.data.writers import write_davis_png

    seq = davis.load_sequence(job.root, job.seq, dataset_format=dataset_format)
    job.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{Path(job.seq).name}.", dir=job.out.parent))
    try:
        with head_run(job, PropagationConfig, "vos", seq,
                      lambda viz, t, rgb, mask, ids: viz.draw_label_map(rgb, mask, ids)) as r:
            n = 0
            for t, mask in segment_sequence(seq, r.model, job.device, r.cfg, r.baseline, on_frame=r.on_frame,
                                            timings=r.timings):
                write_davis_png(tmp / f"{seq.frames[t].stem}.png", mask)
                n += 1
        if job.out.exists():
            shutil.rmtree(job.out)
        os.replace(tmp, job.out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return r.result(n)
