"""Zero-shot evaluation over splits: top-1 / top-5 per split, mean ± std over splits.

Each distinct test video is embedded once (splits share most videos) through
:class:`videossl.zeroshot.ZeroShotClassifier`, whose class embeddings cover the union of the
splits' classes; a split is scored on its own classes only (the K600 subsets differ). The std is
the population std over splits (``ddof=0``), as three-split figures are usually given.
Videos that cannot be read are reported and left out of the accuracy (as missing files are).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from videossl.actions.splits import Split
from videossl.concepts import ConceptClass, ConceptSpace, load_concepts, readable_name



def concept_space_for(classes: list[str], concepts=None) -> tuple[ConceptSpace, int]:
    """A concept space over ``classes`` with the descriptions of the concept file's matching entries
    (matched by readable name, so ``ApplyEyeMakeup`` = ``apply eye makeup``); also how many matched."""
    descs: dict[str, list[str]] = {}
    if concepts is not None:
        space = concepts if isinstance(concepts, ConceptSpace) else load_concepts(concepts)
        descs = {readable_name(c.name): list(c.descriptions) for c in space.classes}
    out = [ConceptClass(c, list(descs.get(readable_name(c), []))) for c in classes]
    return ConceptSpace("eval", out), sum(readable_name(c) in descs for c in classes)


def topk_hits(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean ``[N]``: whether the label is among the top ``min(k, C)`` classes."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(1)


def summarize(per_split: dict[str, dict], keys=("top1", "top5")) -> dict:
    """``{key_mean, key_std}`` over splits (population std)."""
    out = {}
    for k in keys:
        v = np.array([s[k] for s in per_split.values()], dtype=np.float64)
        out[f"{k}_mean"], out[f"{k}_std"] = float(v.mean()), float(v.std())
    out["splits"] = len(per_split)
    return out


def zeroshot_eval(model, splits: list[Split], concepts=None, templates=None, *, dataset: str = "",
                  device: str | torch.device = "auto", batch_size: int = 16, clip_len: int | None = None,
                  progress: bool = True) -> dict:
    """Zero-shot accuracy of ``model`` on the test videos of ``splits``; a ``metrics.json`` dict."""
    from videossl.utils import machine_info
    from videossl.zeroshot import ZeroShotClassifier

    union = list(dict.fromkeys(c for s in splits for c in s.classes))
    space, matched = concept_space_for(union, concepts)
    clf = ZeroShotClassifier(model, space, templates, device=device, batch_size=batch_size, clip_len=clip_len)
    clf.progress = progress
    videos = list(dict.fromkeys(p for s in splits for p, _ in s.test))
    t0 = time.perf_counter()
    names, emb, failed = clf.embed_videos(videos)
    seconds = time.perf_counter() - t0
    logits = clf.scores(emb).cpu()
    row = {n: i for i, n in enumerate(names)}
    col = {c: i for i, c in enumerate(union)}
    bad = {n for n, _ in failed}
    per_split = {}
    for s in splits:
        keep = [(row[p], y) for p, y in s.test if p in row]
        if not keep:
            per_split[s.name] = {"top1": 0.0, "top5": 0.0, "videos": 0, "classes": len(s.classes),
                                 "failed": sum(p in bad for p, _ in s.test), "missing": len(s.missing)}
            continue
        lg = logits[[r for r, _ in keep]][:, [col[c] for c in s.classes]]
        y = torch.tensor([y for _, y in keep])
        per_split[s.name] = {"top1": float(topk_hits(lg, y, 1).float().mean()),
                             "top5": float(topk_hits(lg, y, 5).float().mean()),
                             "videos": len(keep), "classes": len(s.classes),
                             "failed": sum(p in bad for p, _ in s.test), "missing": len(s.missing)}
    return {"task": "zeroshot", "model": str(getattr(model, "name", model)), "dataset": dataset,
            "overall": summarize(per_split), "per_sequence": per_split,
            "fps": len(names) / seconds if seconds > 0 else 0.0,  # videos per second (one clip each)
            "machine": machine_info(), "clip_len": clf.clip_len,
            "classes_with_descriptions": matched, "failed": [msg for _, msg in failed][:100],
            "notes": sorted({s.note for s in splits if s.note})}


def default_concepts(dataset: str) -> str | None:
    """The shipped concept file for a dataset (``prompts/ucf101.json`` ...), when there is one."""
    from videossl.concepts.shipped import shipped_concepts

    p = shipped_concepts().get({"synthetic": "synthetic_actions"}.get(dataset, dataset))
    return os.fspath(p) if p is not None else None
