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
_MODELS = _T({
    "resnet18": _T({"builder": "resnet:build_resnet", "arch": "resnet18", "default": None}),
    "resnet50": _T({"builder": "resnet:build_resnet", "arch": "resnet50", "default": None}),
    "tiny-resnet": _T({"builder": "resnet:build_resnet", "arch": "tiny", "input_size": (64, 64), "default": None}),
})


def list_models() -> list[str]:
    """All registered names, sorted."""
    return sorted(_MODELS)


def get_model_config(name: str) -> dict:
    """A copy of a registry entry (raises :class:`InputError` listing the names when unknown)."""
    if name not in _MODELS:
        raise InputError(None, f"unknown model {name!r} (available: {', '.join(list_models())})")
    return dict(_MODELS[name])


def create_model(name: str, pretrained: str | os.PathLike | None = DEFAULT, device: str = "cpu"):
    """Build a registered model, load its weights, move it to ``device``; returned in eval mode."""
    cfg = get_model_config(name)
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
        load_into(model, state, path)
    return model.to(device).eval()
