"""The clip-embedding protocols of ``unitrack bench``: linear probe and zero-shot on the synthetic action set.

UniTrack's card covers the tracking tasks; a model with a clip embedding is also judged by what that embedding
knows about actions (LSS and the CLIP papers report both). Both protocols embed the same videos - the synthetic
action set of :func:`videossl.data.actions.generate_actions` (7 classes, 12 train / 6 test videos per class,
seed 0; chance 14.3 %), one 8-frame clip per video through the batched extractor - and score top-1 on its test
list:

- ``linear-probe``: :func:`videossl.linear_probe.fit_linear_probe` on the train embeddings; every model with
  ``encode_video`` has it (a CNN's clip embedding is its pooled map averaged over the frames);
- ``zero-shot``: :class:`videossl.zeroshot.ZeroShotClassifier` with the set's concept file
  (``videossl/prompts/synthetic_actions.json``); only models with a text tower (``has_text``).

A model without one of them gets no column for it on the card.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Protocol:
    name: str
    title: str
    metric_keys: tuple[str, ...]
    headline: str

    @property
    def shown_keys(self) -> tuple[str, ...]:
        return self.metric_keys


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("linear-probe", "Linear probe (actions)", ("top1",), "top1"),
    Protocol("zero-shot", "Zero-shot (actions)", ("top1",), "top1"),
)}
ACTION_SET = {"train_per_class": 12, "test_per_class": 6, "seed": 0}
CLIP_LEN = 8
CONCEPTS = Path(__file__).resolve().parents[1] / "videossl" / "prompts" / "synthetic_actions.json"


def available(model) -> list[str]:
    """The protocols ``model`` can run: the linear probe with a clip embedding, zero-shot also with text."""
    names = []
    if callable(getattr(model, "encode_video", None)):
        names.append("linear-probe")
        if getattr(model, "has_text", False):
            names.append("zero-shot")
    return names


def ensure_action_set() -> Path:
    """The synthetic action set in the unitrack cache, generated once (into a temporary folder, then renamed)."""
    from unitrack.data.synth import cache_root
    from videossl.data.actions import generate_actions

    s = ACTION_SET
    dest = cache_root(s["seed"]).parent / f"actions-{s['train_per_class']}x{s['test_per_class']}-seed{s['seed']}"
    if (dest / "ucfTrainTestlist" / "testlist01.txt").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-actions-", dir=dest.parent))
    try:
        generate_actions(tmp, s["train_per_class"], s["test_per_class"], seed=s["seed"])
        os.replace(tmp, dest)
    except OSError:
        if not (dest / "ucfTrainTestlist" / "testlist01.txt").is_file():  # not a concurrent run that won the rename
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _embed(model, paths: list[str], device) -> "torch.Tensor":
    import torch
    import torch.nn.functional as F

    from videossl.extract import Extractor, Settings, model_name
    from videossl.errors import InputError

    ext = Extractor(model, Settings(model_name(model), num_frames=CLIP_LEN, clip_len=CLIP_LEN), 16, device, 1)
    embs = {}
    for key, result, _ in ext.run([(str(i), p) for i, p in enumerate(paths)]):
        if isinstance(result, BaseException):
            raise result if not isinstance(result, InputError) else InputError(paths[int(key)], str(result))
        embs[int(key)] = result["embedding"].float()
    return F.normalize(torch.stack([embs[i] for i in range(len(paths))]), dim=-1)


def run_protocols(model, names: list[str], device) -> dict[str, dict]:
    """``{protocol: {"top1": fraction, "train": n, "test": n}}`` for ``names`` (a subset of :func:`available`)."""
    import torch

    from videossl.actions import ucf101_splits
    from videossl.actions.evaluate import topk_hits
    from videossl.linear_probe import evaluate_probe, fit_linear_probe

    split = ucf101_splits(ensure_action_set(), (1,))[0]
    model = model.eval()
    train = _embed(model, [p for p, _ in split.train], device)
    test = _embed(model, [p for p, _ in split.test], device)
    y_train, y_test = [str(y) for _, y in split.train], [y for _, y in split.test]
    sizes = {"train": len(y_train), "test": len(y_test)}
    out = {}
    if "linear-probe" in names:
        probe = fit_linear_probe(train.cpu(), y_train)
        out["linear-probe"] = {"top1": evaluate_probe(probe, test.cpu(), [str(y) for y in y_test])["top1"], **sizes}
    if "zero-shot" in names:
        from videossl.zeroshot import ZeroShotClassifier

        from videossl.concepts import readable_name

        clf = ZeroShotClassifier(model, str(CONCEPTS), device=device, clip_len=CLIP_LEN)
        if [readable_name(c) for c in clf.class_names] != [readable_name(c) for c in split.classes]:
            raise ValueError(f"{CONCEPTS}: classes {clf.class_names} are not the action set's {split.classes}")
        logits = clf.scores(test).cpu()
        out["zero-shot"] = {"top1": float(topk_hits(logits, torch.tensor(y_test), 1).float().mean()), **sizes}
    return out
