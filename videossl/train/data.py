"""Training data: a folder of videos or a CSV of ``path,label``; a resumable sample stream.

Listing
    A folder is searched recursively for video files (mp4, avi, mkv, webm, mov, m4v) and for
    *frame folders* (a directory holding ≥ 2 jpg/png frames directly; read by
    ``videossl.io.open_video`` like a video). Directories named ``Annotations``, ``gt``,
    ``masks`` or ``joint_positions`` are not entered: in the tracking layouts of the contract they
    hold label maps, not footage. A CSV has one ``path,label`` per line (label optional; an
    optional ``path,label`` header; relative paths are relative to the CSV).

Unreadable videos
    A video that cannot be opened or decoded is not fatal: the sample comes back as
    ``{"skipped": path, "error": message}``, the collate function drops it from the batch and
    reports it, and the trainer counts distinct skipped files (logged as ``skipped_videos``).

Resumable order
    :class:`ResumableBatchSampler` is a pure function of ``(seed, step)``: global sample position
    ``g`` is video ``perm_epoch[g mod N]`` with ``perm_epoch`` a permutation seeded by
    ``(seed, epoch = g div N)``, and its augmentation seed is ``(seed, g)``. Rank ``r`` of ``W``
    takes positions ``g ≡ r (mod W)``. Restarting at step ``s`` therefore produces exactly the
    batches an uninterrupted run would have seen from step ``s`` on, with no sampler state to save.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch

from videossl.errors import InputError
from videossl.train.views import ViewConfig, clip_indices, make_views

VIDEO_EXTS = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg"}
FRAME_EXTS = {".jpg", ".jpeg", ".png"}
SKIP_DIRS = {"Annotations", "gt", "masks", "joint_positions"}


def list_videos(data: str | os.PathLike) -> list[tuple[str, str]]:
    """``[(path, label), …]`` from a folder or a CSV, sorted for a stable order; InputError if empty."""
    data = Path(data)
    if not data.exists():
        raise InputError(data, "no such file or folder (give a folder of videos or a CSV of path,label)")
    items: list[tuple[str, str]] = []
    if data.is_file():
        with open(data, newline="") as f:
            for lineno, row in enumerate(csv.reader(f), 1):
                if not row or not row[0].strip() or row[0].startswith("#"):
                    continue
                if lineno == 1 and row[0].strip().lower() == "path":
                    continue
                if len(row) > 2:
                    raise InputError(data, f"expected 'path,label', got {len(row)} fields", line=lineno)
                p = Path(row[0].strip())
                items.append((str(p if p.is_absolute() else data.parent / p), row[1].strip() if len(row) > 1 else ""))
    else:
        for root, dirs, files in os.walk(data):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            frames = [f for f in files if Path(f).suffix.lower() in FRAME_EXTS]
            if len(frames) >= 2:
                items.append((root, Path(root).relative_to(data).parts[0] if root != str(data) else ""))
            for f in sorted(files):
                if Path(f).suffix.lower() in VIDEO_EXTS:
                    items.append((os.path.join(root, f), Path(root).name))
        items.sort()
    if not items:
        raise InputError(data, "no videos found (video files or folders of jpg/png frames)")
    return items


class MultiViewClips(torch.utils.data.Dataset):
    """``dataset[(index, seed)]`` → ``{"views": [T,3,h,w] × V, "label", "path"}`` or a skip record."""

    def __init__(self, items: list[tuple[str, str]], cfg: ViewConfig):
        self.items = items
        self.cfg = cfg

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, seed = key
        path, label = self.items[index]
        rng = np.random.default_rng(seed)
        try:
            from videossl.io import open_video

            reader = open_video(path)
            n = len(reader)
            if n < 1:
                raise InputError(path, "video has no frames")
            idx = clip_indices(n, self.cfg, rng)
            uniq, inverse = np.unique(idx, return_inverse=True)
            window = np.asarray(reader.get_batch([int(i) for i in uniq]))[inverse]
            if window.ndim != 4 or window.shape[-1] != 3:
                raise InputError(path, f"decoded frames have shape {window.shape}, expected [N,H,W,3]")
        except Exception as exc:  # noqa: BLE001 — any decoder failure means "skip this video"
            return {"skipped": path, "error": f"{type(exc).__name__}: {exc}"}
        return {"views": make_views(window, self.cfg, rng), "label": label, "path": path}


def collate_views(samples: list[dict]) -> dict:
    """Stack view ``k`` of every readable sample into ``[B, T_k, 3, h_k, w_k]``; list the skipped."""
    good = [s for s in samples if "views" in s]
    skipped = [(s["skipped"], s["error"]) for s in samples if "skipped" in s]
    batch = {"skipped": skipped, "size": len(good)}
    if good:
        batch["views"] = [torch.stack([s["views"][k] for s in good]) for k in range(len(good[0]["views"]))]
        batch["labels"] = [s["label"] for s in good]
        batch["paths"] = [s["path"] for s in good]
    return batch


class ResumableBatchSampler(torch.utils.data.Sampler):
    """Batches of ``(video index, augmentation seed)`` for steps ``start_step, start_step+1, …``."""

    def __init__(self, n_items: int, batch_size: int, seed: int = 0, start_step: int = 0,
                 rank: int = 0, world_size: int = 1, max_steps: int | None = None):
        self.n, self.batch_size, self.seed = n_items, batch_size, seed
        self.start_step, self.rank, self.world = start_step, rank, world_size
        self.max_steps = max_steps
        self._perm_epoch, self._perm = -1, None

    def _item(self, g: int) -> tuple[int, int]:
        epoch = g // self.n
        if epoch != self._perm_epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(self.n, generator=gen).tolist(), epoch
        return self._perm[g % self.n], (self.seed * 1_000_000_007 + g) % (2**63)

    def __iter__(self):
        step = self.start_step
        while self.max_steps is None or step < self.max_steps:
            base = step * self.batch_size * self.world
            yield [self._item(base + i * self.world + self.rank) for i in range(self.batch_size)]
            step += 1

    def __len__(self) -> int:
        if self.max_steps is None:
            raise TypeError("infinite sampler")
        return max(0, self.max_steps - self.start_step)
