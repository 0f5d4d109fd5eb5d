"""Model registry: configs as data, one :func:`create_model` over them (open_clip/timm style).

Each entry is a plain, read-only config dict naming a builder (``"module:function"`` inside this
package, imported only when that model is built, so ``create_model("resnet18")`` never pays for
importing open_clip) and its default weights. Nothing is registered at import time by side
effect and there is no mutable global state: the table below is the whole registry.

``pretrained`` semantics (the same for every name):

- left at its default (:data:`DEFAULT`): the entry's own default weights, i.e. random for every
  model except ``videossl-tiny``, whose default is the checkpoint shipped in the package;
- ``None`` / ``"random"`` / ``"none"``: random initialisation of the architecture (how the trainer
  builds ``videossl-tiny`` before its checkpoint exists);
- a tag (``"openai"``, ``"imagenet"``): the hub weights, from the local cache only;
- a path to a ``.safetensors`` / ``.pt`` file: loaded strictly, mismatches named in one line.
"""

from __future__ import annotations

import importlib
import os
from types import MappingProxyType

from videossl.errors import InputError

from .weights import load_into, looks_like_path, read_state_dict

#: Sentinel for "the entry's default weights" (a string so it survives CLI/config round trips).
DEFAULT = "default"
_RANDOM = (None, "random", "none", "")

_T = MappingProxyType
# A CLIP small enough for millisecond CPU forwards: 64 px, patch 8 (stride 8 like the ResNets),
# 2 blocks of width 64; the text tower keeps open_clip's 49408-token BPE vocabulary.
_TINY_CLIP = _T({
    "embed_dim": 32,
    "vision": _T({"image_size": 64, "patch_size": 8, "width": 64, "layers": 2, "head_width": 32, "mlp_ratio": 2.0}),
    "text": _T({"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1, "mlp_ratio": 2.0}),
})
_MODELS = _T({
    "resnet18": _T({"builder": "resnet:build_resnet", "arch": "resnet18", "default": None}),
    "resnet50": _T({"builder": "resnet:build_resnet", "arch": "resnet50", "default": None}),
    "tiny-resnet": _T({"builder": "resnet:build_resnet", "arch": "tiny", "input_size": (64, 64), "default": None}),
    "clip-vit-b16": _T({"builder": "clip_vit:build_clip_vit", "arch": "ViT-B-16", "default": None}),
    "tclip-vit-b16": _T({"builder": "temporal_clip:build_temporal_clip", "arch": "ViT-B-16", "default": None,
                         "num_frames": 8, "image_size": 224, "grad_checkpointing": False}),
    "tiny-vit": _T({"builder": "clip_vit:build_clip_vit", "clip": _TINY_CLIP, "default": None}),
    "tiny-tclip": _T({"builder": "temporal_clip:build_temporal_clip", "clip": _TINY_CLIP, "default": None,
                      "num_frames": 4, "image_size": 64, "grad_checkpointing": False}),
    "videossl-tiny": _T({"builder": "shipped:build_videossl_tiny", "default": "shipped"}),
})


def list_models() -> list[str]:
    """All registered names, sorted."""
    return sorted(_MODELS)


def get_model_config(name: str) -> dict:
    """A copy of a registry entry (raises :class:`InputError` listing the names when unknown)."""
    if name not in _MODELS:
        raise InputError(None, f"unknown model {name!r} (available: {', '.join(list_models())})")
    return dict(_MODELS[name])


def create_model(name: str, pretrained: str | os.PathLike | None = DEFAULT, device: str = "cpu", **overrides):
    """Build a registered model, load its weights, move it to ``device``; returned in eval mode.

    ``overrides`` replace config entries of the name, e.g. ``create_model("tclip-vit-b16",
    num_frames=16, image_size=288, grad_checkpointing=True)``; unknown keys are an error.
    """
    cfg = get_model_config(name)
    bad = sorted(set(overrides) - set(cfg) - {"builder"})
    if bad or "builder" in overrides:
        raise InputError(None, f"model {name!r} has no option(s) {', '.join(bad or ['builder'])} "
                               f"(options: {', '.join(k for k in cfg if k not in ('builder', 'default'))})")
    cfg.update(overrides)
    if pretrained == DEFAULT:
        pretrained = cfg["default"]
    if isinstance(pretrained, str) and pretrained.lower() in ("random", "none"):
        pretrained = None
    path = os.fspath(pretrained) if pretrained is not None and looks_like_path(pretrained) else None
    module, func = cfg["builder"].split(":")
    build = getattr(importlib.import_module(f"{__package__}.{module}"), func)
    state = read_state_dict(path) if path else None  # read first: a bad file fails before a slow build
    model = build(cfg, pretrained)
    model.name = name
    if state is not None:
        load_into(model, model.adapt_state_dict(state), path)
    return model.to(device).eval()
