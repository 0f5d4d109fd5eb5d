"""Zero-shot action recognition: videos + class names in, top-k labels out.

``ZeroShotClassifier(model, classes)`` works with any model of the registry that has a text
tower (``clip-vit-b16``, ``tclip-vit-b16``, ``videossl-tiny``, the ``tiny-*`` test models):

* **classes** — a list of names, a concept JSON path (``prompts/ucf101.json``; either form that
  :func:`videossl.concepts.load_concepts` reads), a ``{name: [prompts]}`` dict, a
  :class:`~videossl.concepts.ConceptSpace`, or a plain text file of names (one a line; ``#``
  comments; UCF101's ``classInd.txt`` with its leading numbers works too). Duplicate names
  (also after :func:`~videossl.concepts.readable_name`, so ``brush_hair`` = ``brush hair``) and
  empty names are an :class:`~videossl.errors.InputError`.
* **prompt ensembling** — each class is the mean of the L2-normalised embeddings of its
  templated name (``templates``, default :data:`DEFAULT_TEMPLATES`) and of its concept
  descriptions, renormalised (CLIP's template ensembling + CuPL/LSS descriptions). Computed once
  per classifier and cached on disk by content hash, next to ``embed_concepts``' cache (same key
  scheme: every text + the encoder's identity), so a second run never re-encodes.
* **videos** — paths go through the batched extraction pipeline (:class:`videossl.extract.Extractor`:
  decoding on worker threads, batches filled across videos, on the device, autocast), one clip of
  ``clip_len`` frames spread evenly over each video. **A video shorter than the clip repeats
  frames** (:func:`videossl.io.samplers.uniform_indices`: segment centres, each frame used
  ``clip_len / len`` times in order), so a 3-frame video gives frames ``0,0,0,1,1,2,2,2`` for
  ``clip_len=8``. Tensors ``[B,T,3,H,W]`` (or ``[T,3,H,W]``), float already normalised with
  ``model.mean/std`` or uint8 (normalised here), are used as given, with the same frame
  repetition when ``T < clip_len``. An unreadable video among many is reported in
  :attr:`ZeroShotClassifier.failed` (and as a prediction with ``error`` set); the rest are classified.
* **scores** — logits are ``logit_scale × cos(video, class)`` (100, CLIP's learned scale);
  probabilities are their softmax over the classes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from videossl.concepts import ConceptSpace, load_concepts, parse_concepts, readable_name
from videossl.errors import InputError
from videossl.utils.outputs import display_path

#: Video prompt templates (a subset of the Kinetics templates of CLIP / ActionCLIP); the first is
#: ``videossl.concepts.embed.ACTION_TEMPLATE``, the template the trainer aligns clips with.
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a video of a person {}.",
    "a video of {}.",
    "a photo of a person {}.",
    "a person {}.",
    "a clip of {}.",
    "a demonstration of {}.",
)
DEFAULT_LOGIT_SCALE = 100.0
CACHE_VERSION = 1


# -- class lists ----------------------------------------------------------------------------------
def read_class_file(path: str | os.PathLike) -> list[str]:
    """Class names from a text file: one a line, blank lines and ``#`` comments skipped; a leading
    index (``1 ApplyEyeMakeup``, UCF101's classInd.txt) is dropped when every line has one."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(p, f"cannot read class list: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(p, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                            "save the file as UTF-8") from None
    rows = [(i + 1, ln.split("#", 1)[0].strip()) for i, ln in enumerate(lines)]
    rows = [(n, s) for n, s in rows if s]
    if not rows:
        raise InputError(p, "no class names")
    if all(re.match(r"^\d+\s+\S", s) for _, s in rows):
        rows = [(n, s.split(None, 1)[1].strip()) for n, s in rows]
    return check_class_names([s for _, s in rows], p, lines=[n for n, _ in rows])


def check_class_names(names: Sequence, path=None, lines: Sequence[int] | None = None) -> list[str]:
    """Stripped names; an empty name or a duplicate (also as readable words) is an InputError."""
    out, seen = [], {}
    for i, name in enumerate(names):
        where = f"line {lines[i]}" if lines else f"class {i}"
        if not isinstance(name, str):
            raise InputError(path, f"{where}: class name must be a string, got {type(name).__name__} {name!r} "
                                   f"(write it in quotes: \"{name}\")", line=lines[i] if lines else None)
        if not name.strip():
            raise InputError(path, f"{where}: empty class name", line=lines[i] if lines else None)
        name = " ".join(name.split())
        key = readable_name(name)
        if key in seen:
            raise InputError(path, f"{where}: duplicate class name {name!r} (same as {seen[key]!r})",
                             line=lines[i] if lines else None)
        seen[key] = name
        out.append(name)
    if not out:
        raise InputError(path, "no class names")
    return out


def resolve_classes(classes) -> tuple[list[str], list[list[str]]]:
    """``(names, descriptions per class)`` from any accepted form of ``classes`` (see the module doc)."""
    if isinstance(classes, ConceptSpace):
        space = classes
    elif isinstance(classes, (str, os.PathLike)):
        p = Path(classes)
        if p.suffix.lower() == ".json":
            space = load_concepts(p)
        else:
            return read_class_file(p), None  # type: ignore[return-value]
    elif isinstance(classes, dict):
        space = parse_concepts(classes, None)
    elif isinstance(classes, Sequence):
        names = check_class_names(list(classes))
        return names, [[] for _ in names]
    else:
        raise InputError(None, f"classes must be names, a concept file or a dict, got {type(classes).__name__}")
    names = check_class_names(space.class_names, space.path)
    return names, [list(c.descriptions) for c in space.classes]


def class_prompts(names: Sequence[str], descriptions: Sequence[Sequence[str]] | None,
                  templates: Sequence[str] | None = None) -> list[list[str]]:
    """The prompts ensembled for each class: every template on the readable name, then its descriptions."""
    templates = list(DEFAULT_TEMPLATES if templates is None else templates)
    for t in templates:
        if "{}" not in t:
            raise InputError(None, f"template {t!r} has no '{{}}' for the class name")
    descriptions = descriptions or [[] for _ in names]
    prompts = [[t.format(readable_name(n)) for t in templates] + list(d) for n, d in zip(names, descriptions)]
    for n, p in zip(names, prompts):
        if not p:
            raise InputError(None, f"class {n!r} has no prompt (no templates and no descriptions)")
    return prompts


def ensemble_text_embeddings(encoder, prompts: list[list[str]], cache_dir: str | os.PathLike | None = None,
                             name: str = "zeroshot") -> torch.Tensor:
    """``[C, D]``: per class, the mean of its prompts' L2-normalised embeddings, renormalised.

    Cached as safetensors in the concept-embedding cache (``$VIDEOSSL_CACHE/concepts``), keyed by
    every prompt and the encoder's identity (:func:`videossl.concepts.embed.encoder_id`).
    """
    from safetensors.torch import load_file

    from videossl.concepts.embed import _encode, default_cache_dir, encoder_id
    from videossl.utils import save_safetensors_atomic

    eid = encoder_id(encoder)
    key = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "encoder": eid, "prompts": prompts},
                                    sort_keys=True).encode()).hexdigest()[:32]
    path = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"{name}-{key}.safetensors"
    if path.exists():
        try:
            return load_file(str(path))["classes"]
        except Exception:  # a corrupt cache entry is recomputed, never trusted
            pass
    emb = _encode(encoder, [t for p in prompts for t in p])
    out, start = [], 0
    for p in prompts:
        out.append(F.normalize(emb[start:start + len(p)].mean(0), dim=-1))
        start += len(p)
    classes = torch.stack(out)
    try:
        save_safetensors_atomic({"classes": classes}, path, metadata={"encoder": eid})
    except OSError:  # a cache that cannot be written (read-only home, full disk) only costs a re-encode
        pass
    return classes


# -- the classifier ------------------------------------------------------------------------------
@dataclass
class Prediction:
    """Top-k labels of one video, best first; ``error`` is set (and the lists empty) when it failed."""

    video: str
    labels: list[str] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict:
        d = {"video": self.video, "labels": self.labels, "probs": [round(p, 6) for p in self.probs]}
        if self.error:
            d["error"] = self.error
        return d


def repeat_frames(x: torch.Tensor, clip_len: int) -> torch.Tensor:
    """``[B,T,...]`` -> ``[B,clip_len,...]`` by the same uniform sampling as for files (repeats when T < clip_len)."""
    from videossl.io.samplers import uniform_indices

    t = x.shape[1]
    if t == clip_len:
        return x
    return x[:, uniform_indices(t, clip_len)]


class ZeroShotClassifier:
    """Zero-shot classifier over a fixed class list; see the module docstring for the inputs.

    ``model``: a model object or registry name (with a text tower, or give ``text_encoder``);
    ``clip_len``: frames per clip (default: the model's ``num_frames``, else 8);
    ``batch_size``: clips per forward pass.
    """

    def __init__(self, model, classes, templates: Sequence[str] | None = None, *, text_encoder=None,
                 device: str | torch.device = "auto", clip_len: int | None = None, batch_size: int = 16,
                 logit_scale: float = DEFAULT_LOGIT_SCALE, num_threads: int = 2,
                 cache_dir: str | os.PathLike | None = None):
        from videossl.utils import resolve_device

        self.device = resolve_device(device)
        if isinstance(model, str):
            from videossl.models import create_model

            model = create_model(model, device=str(self.device))
        self.model = model.eval() if hasattr(model, "eval") else model
        encoder = text_encoder if text_encoder is not None else model
        if text_encoder is None and not getattr(model, "has_text", False):
            raise InputError(None, f"model {getattr(model, 'name', type(model).__name__)!r} has no text tower; "
                                   "pass text_encoder= or use a text-capable model (clip-vit-b16, videossl-tiny)")
        self.class_names, descriptions = resolve_classes(classes)
        self.prompts = class_prompts(self.class_names, descriptions, templates)
        self.text_embeddings = ensemble_text_embeddings(encoder, self.prompts, cache_dir).to(self.device)
        self.clip_len = int(clip_len or getattr(model, "num_frames", 0) or 8)
        self.batch_size, self.num_threads = int(batch_size), int(num_threads)
        self.logit_scale = float(logit_scale)
        self.failed: list[tuple[str, str]] = []  # (video, one-line reason) of the last call
        self.progress = False  # a progress bar over the videos of a call

    # -- video embeddings --------------------------------------------------------------------------
    @torch.inference_mode()
    def _embed_tensor(self, x: torch.Tensor) -> torch.Tensor:
        from videossl.io.transforms import normalize_on_device
        from videossl.utils import autocast_for

        if x.dim() == 4:
            x = x.unsqueeze(0)
        if x.dim() != 5 or x.shape[2] != 3:
            raise InputError(None, f"video tensors must be [B,T,3,H,W] or [T,3,H,W], got {tuple(x.shape)}")
        out = []
        for i in range(0, len(x), self.batch_size):
            b = repeat_frames(x[i:i + self.batch_size], self.clip_len).to(self.device)
            if b.dtype == torch.uint8:
                b = normalize_on_device(b, self.model.mean, self.model.std)
            with autocast_for(self.device):
                out.append(self.model.encode_video(b).float())
        return torch.cat(out)

    def embed_videos(self, videos) -> tuple[list[str], torch.Tensor, list[tuple[str, str]]]:
        """``(names, embeddings [N,D] L2-normalised, failed)`` for paths and/or tensors.

        Names are the paths as given (tensors: ``tensor[i]``); failed videos are left out of
        ``names``/``embeddings`` and listed as ``(name, reason)``.
        """
        items, order, e, failed = self._embed(videos)
        return [items[i] for i in order], e, [(items[i], msg) for i, msg in sorted(failed.items())]

    def _embed(self, videos) -> tuple[list[str], list[int], torch.Tensor, dict[int, str]]:
        from videossl.extract import Extractor, Settings, model_name

        if isinstance(videos, torch.Tensor) or isinstance(videos, (str, os.PathLike)):
            videos = [videos]
        names: list[str] = []
        tensors: dict[int, torch.Tensor] = {}
        for v in videos:
            if isinstance(v, torch.Tensor):
                v = v.unsqueeze(0) if v.dim() == 4 else v
                for j in range(len(v)):
                    tensors[len(names)] = v[j:j + 1]
                    names.append(f"tensor[{len(names)}]")
            else:
                names.append(os.fspath(v))
        embs: dict[int, torch.Tensor] = {}
        failed: dict[int, str] = {}
        if tensors:
            embs.update(zip(tensors, self._embed_tensor(torch.cat(list(tensors.values())))))
        path_jobs = [(i, n) for i, n in enumerate(names) if i not in tensors]
        if path_jobs:
            settings = Settings(model_name(self.model), num_frames=self.clip_len, clip_len=self.clip_len)
            from tqdm import tqdm

            ext = Extractor(self.model, settings, self.batch_size, self.device, self.num_threads)
            with tqdm(total=len(path_jobs), unit="video", desc="zeroshot", disable=not self.progress) as bar:
                for key, result, _ in ext.run(path_jobs):
                    if isinstance(result, BaseException):
                        if not isinstance(result, InputError):
                            raise result
                        failed[key] = str(result)
                    else:
                        embs[key] = result["embedding"].float()
                    bar.update(1)
        order = [i for i in range(len(names)) if i in embs]
        e = (torch.stack([embs[i].to(self.device) for i in order]) if order
             else torch.zeros(0, self.text_embeddings.shape[1], device=self.device))
        return names, order, F.normalize(e.float(), dim=-1), failed

    # -- scores ------------------------------------------------------------------------------------
    def scores(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, C]`` of already computed video embeddings."""
        e = F.normalize(embeddings.float().to(self.device), dim=-1)
        return self.logit_scale * e @ self.text_embeddings.float().T

    def logits(self, videos) -> torch.Tensor:
        """Logits ``[N, C]``, one row per video that could be read (unreadable ones: see :attr:`failed`)."""
        _, e, self.failed = self.embed_videos(videos)
        return self.scores(e)

    def predict(self, videos, top_k: int = 5) -> list[Prediction]:
        """One :class:`Prediction` per input video, in input order; unreadable videos carry ``error``."""
        names, order, e, failed = self._embed(videos)
        self.failed = [(names[i], msg) for i, msg in sorted(failed.items())]
        k = max(1, min(int(top_k), len(self.class_names)))
        out = [Prediction(n, error=failed.get(i)) for i, n in enumerate(names)]
        if order:
            p, idx = self.scores(e).softmax(-1).cpu().topk(k, dim=-1)
            for i, row_p, row_i in zip(order, p, idx):
                out[i].labels = [self.class_names[j] for j in row_i.tolist()]
                out[i].probs = row_p.tolist()
        return out


class FrameAveraged(nn.Module):
    """A model whose clip embedding is the mean of its one-frame clip embeddings (no temporal
    mixing): the frame-averaged baseline of the same weights. Passes every attribute through."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.inner = model
        for a in ("mean", "std", "input_size", "stride", "feat_dim", "embed_dim", "has_text"):
            setattr(self, a, getattr(model, a))
        self.name = f"{getattr(model, 'name', type(model).__name__)}+frame-avg"

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        return self.inner.encode_video(x.flatten(0, 1).unsqueeze(1)).view(b, t, -1).mean(1)

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.encode_frames(x)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        return self.inner.encode_text(texts)


# -- command line ---------------------------------------------------------------------------------
DEFAULT_OUT = "runs/zeroshot"


def register(subparsers) -> None:
    from videossl.clitools import (add_model_arg, add_out_arg, add_pretrained_arg, add_progress_arg,
                                   positive_int)

    p = subparsers.add_parser("zeroshot", help="classify videos by class names (zero-shot, text-capable models)",
                              description="Prints a table of the top-k labels per video and writes OUT/zeroshot.jsonl. "
                                          "Exit 0: all classified; 1: some videos could not be read; 2: bad "
                                          "arguments; 4: --out cannot be written.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, frame folders, or folders of videos")
    p.add_argument("--concepts", required=True,
                   help="classes: a concept JSON (prompts/X.json, or {name: [prompts]}) or a text file of names")
    add_model_arg(p, note="needs a text tower")
    add_pretrained_arg(p)
    p.add_argument("--top-k", type=positive_int, default=5)
    add_out_arg(p, default=DEFAULT_OUT, inside="zeroshot.jsonl (one JSON line per video)")
    p.add_argument("--template", action="append", default=None,
                   help="prompt template with '{}' for the class name (repeatable; default: a built-in video set)")
    p.add_argument("--clip-len", type=positive_int, default=None, help="frames per clip (default: the model's, else 8)")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    add_progress_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from videossl.clitools import out_file
    from videossl.io.discover import find_videos
    from videossl.models import create_model
    from videossl.utils import atomic_write_text, resolve_device

    out = out_file(args.out, DEFAULT_OUT, "zeroshot.jsonl", ".jsonl")  # checked before any work
    resolve_classes(args.concepts)  # a bad class list fails before the model is built
    class_prompts(["x"], None, args.template)
    dev = resolve_device(args.device)
    model = create_model(args.model, pretrained=args.pretrained, device=str(dev))
    clf = ZeroShotClassifier(model, args.concepts, args.template, device=dev, clip_len=args.clip_len,
                             batch_size=args.batch_size)
    clf.progress = not args.no_progress
    videos = [path for _, path in find_videos(args.videos)]
    preds = clf.predict(videos, top_k=args.top_k)
    shown_names = [display_path(p.video) for p in preds]
    width = min(60, max([len(n) for n in shown_names] + [5]))
    print(f"{'video':<{width}}  top-{args.top_k} (probability %)")
    for p, name in zip(preds, shown_names):
        shown = name if len(name) <= width else "…" + name[-width + 1:]
        body = (f"error: {p.error}" if p.error else
                ", ".join(f"{lab} ({100 * pr:.1f})" for lab, pr in zip(p.labels, p.probs)))
        print(f"{shown:<{width}}  {body}")
    atomic_write_text(out, "".join(json.dumps(dict(p.to_json(), video=name)) + "\n" for p, name in zip(preds, shown_names)))
    print(f"{len(preds) - len(clf.failed)} classified, {len(clf.failed)} failed -> {out}")
    for name, msg in clf.failed:
        print(f"  failed: {msg}", file=sys.stderr)
    return 1 if clf.failed else 0
