"""Any backbone of a model library: ``timm:<name>``, ``torchvision:<name>``, ``hf:<id or dir>``.

Dense maps come from each library's own feature API - timm ``forward_intermediates`` (with ``output_stride``
for dilation), torchvision ``create_feature_extractor`` (with ``replace_stride_with_dilation`` where the
builder has it), Hugging Face ``output_hidden_states`` - never from hand-written forwards.

Which feature map (the same rule for every library, options ``stride`` and ``out_index``):

- ``out_index`` None: the deepest feature map whose native stride is at most 16 - the stride-32 stage is left
  out, as UniTrack leaves out ResNet's ``layer4`` -, or at most ``stride`` when that is larger;
- ``stride`` None: 8 where the library can dilate the net to it (UniTrack's stride), else the map's own (16
  for a ViT/16). A ``stride`` the library cannot reach is one :class:`InputError` line.

The clip embedding (``encode_video``) is the frame's pooled feature averaged over the frames: global average
of the dense map for CNNs, the class token for ViTs.
"""

from __future__ import annotations

import inspect
import os

import torch
from torch import nn

from videossl.errors import InputError, MissingWeightsError

from .base import VideoModel
from .pretrained import PretrainedCfg

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def pick_feature(name: str, reductions: list[int], stride: int | None, out_index: int | None) -> tuple[int, int]:
    """(feature index, wanted stride) by the rule above; the caller dilates when the two differ."""
    n = len(reductions)
    if out_index is not None:
        if not -n <= out_index < n:
            raise InputError(None, f"{name}: out_index {out_index} out of range (feature strides: {reductions})")
        idx = out_index % n
    else:
        cap = max(16, stride or 0)
        idx = max([i for i, r in enumerate(reductions) if r <= cap] or [0])
    native = reductions[idx]
    if stride is None:
        return idx, min(8, native)
    if stride > native:
        raise InputError(None, f"{name}: stride {stride} is coarser than feature {idx}'s stride {native}; pick "
                               f"out_index (feature strides: {reductions})")
    return idx, int(stride)


def _cannot_dilate(name: str, idx: int, native: int, stride: int, reductions) -> InputError:
    return InputError(None, f"{name} cannot give stride {stride} at feature {idx} (its stride is {native} and the "
                            f"library cannot dilate this net); use stride={native}, or out_index (feature strides: "
                            f"{list(reductions)})")


class _Prefixed(VideoModel):
    """A library net held under ``self.<attr>``: its own state-dict names load as well as ours."""

    _attr = "net"

    def adapt_state_dict(self, state: dict) -> dict:
        p = self._attr + "."
        if state and not any(k.startswith(p) for k in state):
            return {p + k: v for k, v in state.items()}
        return state


# --------------------------------------------------------------------------------------------- timm
class TimmStage(_Prefixed):
    """A timm net through feature ``out_index`` (timm's ``forward_intermediates``), layers after it pruned."""

    def __init__(self, net: nn.Module, out_index: int, stride: int, input_size=None):
        super().__init__()
        self.net = net
        self.out_index = out_index
        self.stride = int(stride)
        self.feat_dim = self.embed_dim = int(net.feature_info[out_index]["num_chs"])
        cfg = getattr(net, "pretrained_cfg", None) or {}
        self.mean = tuple(cfg.get("mean", IMAGENET_MEAN))
        self.std = tuple(cfg.get("std", IMAGENET_STD))
        self.input_size = tuple(input_size or cfg.get("input_size", (3, 224, 224))[1:])
        self.is_vit = len({f["reduction"] for f in net.feature_info}) == 1
        full = set(net.state_dict())
        net.prune_intermediate_layers(indices=[out_index], prune_head=True, prune_norm=False)
        # what a full checkpoint of this net has and the pruned trunk does not (later stages, head)
        self.drop_prefixes = tuple(sorted(f"net.{k}" for k in full - set(net.state_dict())))

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_intermediates(x, indices=[self.out_index], intermediates_only=True)[0]

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        if not self.is_vit:
            return super().encode_video(x)
        b, t = x.shape[:2]
        tokens = self.net.forward_features(x.flatten(0, 1))  # pruned to out_index: [B*T, N, C], final norm kept
        pooled = tokens[:, 0] if getattr(self.net, "num_prefix_tokens", 0) else tokens.mean(1)
        return pooled.view(b, t, -1).mean(1)


def _timm_create(arch: str, **kw) -> nn.Module:
    import timm

    try:  # ViTs: positional embeddings resampled to any input size (tracking runs at 480p)
        return timm.create_model(arch, dynamic_img_size=True, **kw)
    except TypeError:
        return timm.create_model(arch, **kw)


def build_timm(cfg: dict, file: str | None = None) -> TimmStage:
    import timm

    arch, name = cfg["arch"], f"timm:{cfg['arch']}"
    if not timm.is_model(arch):
        raise InputError(None, f"timm has no model {arch!r} (see timm.list_models('*{arch[:6]}*'))")
    kw = {"pretrained": True, "pretrained_cfg_overlay": {"file": file}} if file else {}
    net = _timm_create(arch, **kw)
    reductions = [f["reduction"] for f in net.feature_info]
    idx, stride = pick_feature(name, reductions, cfg.get("stride"), cfg.get("out_index"))
    if reductions[idx] > stride:
        try:
            net = _timm_create(arch, output_stride=stride, **kw)
        except TypeError:
            if cfg.get("stride") is not None:
                raise _cannot_dilate(name, idx, reductions[idx], stride, reductions) from None
            stride = reductions[idx]  # default stride: the net's own where it cannot be dilated
    return TimmStage(net, idx, stride, cfg.get("input_size"))


# ------------------------------------------------------------------------------------- torchvision
_HEADS = ("fc", "classifier", "avgpool", "head", "heads", "dropout", "aux_logits", "AuxLogits")


class TorchvisionStage(_Prefixed):
    """A torchvision classification net cut at one node by ``create_feature_extractor``."""

    _attr = "body"

    def __init__(self, net: nn.Module, node: str, stride: int, channels: int, input_size=None):
        from torchvision.models.feature_extraction import create_feature_extractor

        super().__init__()
        full = set(net.state_dict())
        self.body = create_feature_extractor(net, {node: "out"})
        self.node, self.stride = node, int(stride)
        self.feat_dim = self.embed_dim = int(channels)
        self.input_size = tuple(input_size or (224, 224))
        self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        self.drop_prefixes = tuple(sorted(f"body.{k}" for k in full - set(self.body.state_dict())))

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)["out"]


def _stage_nodes(net: nn.Module) -> list[str]:
    feats = getattr(net, "features", None)
    if isinstance(feats, nn.Sequential):  # mobilenets, efficientnets, convnext, vgg, densenet
        return [f"features.{i}" for i in range(len(feats))]
    return [n for n, _ in net.named_children() if n not in _HEADS]


@torch.no_grad()
def _probe(net: nn.Module, nodes: list[str], size: int = 224) -> list[tuple[str, int, int]]:
    """(node, stride, channels) of every 4-D stage output, by one forward of a blank image."""
    from torchvision.models.feature_extraction import create_feature_extractor

    outs = create_feature_extractor(net.eval(), {n: n for n in nodes})(torch.zeros(1, 3, size, size))
    maps = [(n, size // o.shape[-1], o.shape[1]) for n, o in outs.items() if o.dim() == 4]
    # one feature per stride: the last node before the stride changes (ResNet: relu, layer1, ..., layer4)
    return [m for i, m in enumerate(maps) if i + 1 == len(maps) or maps[i + 1][1] != m[1]]


def build_torchvision(cfg: dict, file: str | None = None) -> TorchvisionStage:
    from torchvision.models import get_model, get_model_builder, list_models

    arch, name = cfg["arch"], f"torchvision:{cfg['arch']}"
    if arch not in list_models(module=__import__("torchvision").models):
        raise InputError(None, f"torchvision has no classification model {arch!r} (torchvision.models.list_models())")
    net = get_model(arch, weights=None)
    stages = _probe(net, _stage_nodes(net))
    if not stages:
        raise InputError(None, f"{name}: no convolutional feature maps (ViTs: use timm:<name> or hf:<id>)")
    reductions = [s for _, s, _ in stages]
    idx, stride = pick_feature(name, reductions, cfg.get("stride"), cfg.get("out_index"))
    if reductions[idx] > stride:
        try:  # ResNet-50/101, ResNeXt: the stages after the wanted stride dilated (BasicBlock ResNets cannot)
            if "replace_stride_with_dilation" not in inspect.signature(get_model_builder(arch)).parameters and \
                    not arch.startswith(("resnet", "resnext", "wide_resnet")):
                raise TypeError(arch)
            net = get_model(arch, weights=None, replace_stride_with_dilation=[r > stride for r in (8, 16, 32)])
        except (TypeError, NotImplementedError, ValueError):
            if cfg.get("stride") is not None:
                raise _cannot_dilate(name, idx, reductions[idx], stride, reductions) from None
            stride = reductions[idx]
    node, _, channels = stages[idx]
    return TorchvisionStage(net, node, stride, channels, cfg.get("input_size"))


# -------------------------------------------------------------------------------------- Hugging Face
class HFBackbone(VideoModel):
    """A transformers vision model: ViT-style token grids or CNN stage maps from ``output_hidden_states``."""

    def __init__(self, net: nn.Module, mean, std, stride: int | None, out_index: int | None, input_size=None):
        super().__init__()
        self.net = net.eval()
        c = net.config
        self.mean, self.std = tuple(mean), tuple(std)
        size = getattr(c, "image_size", 224)
        size = size if isinstance(size, (tuple, list)) else (size, size)
        self.input_size = tuple(input_size or size)
        self._kw = {"interpolate_pos_encoding": True} if "interpolate_pos_encoding" in \
            inspect.signature(net.forward).parameters else {}
        with torch.no_grad():
            hs = self._hidden(torch.zeros(1, 3, *self.input_size))
        self.is_vit = hs[-1].dim() == 3
        name = f"hf:{getattr(c, '_name_or_path', '') or type(net).__name__}"
        if self.is_vit:
            patch = int(getattr(c, "patch_size", 16))
            if stride not in (None, patch):
                raise InputError(None, f"{name}: a ViT's dense map has its patch stride {patch}, not {stride}")
            self.stride, self.out_index = patch, (-1 if out_index is None else out_index)
            self.feat_dim = self.embed_dim = int(hs[self.out_index].shape[-1])
        else:
            maps = [i for i, h in enumerate(hs) if h.dim() == 4]
            reductions = [self.input_size[0] // hs[i].shape[-2] for i in maps]
            j, want = pick_feature(name, reductions, stride, out_index)
            if reductions[j] != want and stride is not None:
                raise _cannot_dilate(name, j, reductions[j], want, reductions)
            self.out_index, self.stride = maps[j], reductions[j]
            self.feat_dim = self.embed_dim = int(hs[self.out_index].shape[1])

    def _hidden(self, x):
        return self.net(pixel_values=x, output_hidden_states=True, **self._kw).hidden_states

    def _tokens(self, x):
        out = self.net(pixel_values=x, output_hidden_states=True, **self._kw)
        # the last layer after the model's final norm (what the ViT was trained to output), earlier ones raw
        return out.last_hidden_state if self.out_index in (-1, len(out.hidden_states) - 1) else \
            out.hidden_states[self.out_index]

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        if not self.is_vit:
            return self._hidden(x)[self.out_index]
        t = self._tokens(x)
        gh, gw = x.shape[-2] // self.stride, x.shape[-1] // self.stride
        grid = t[:, t.shape[1] - gh * gw:]  # class/register tokens first
        return grid.transpose(1, 2).reshape(t.shape[0], t.shape[-1], gh, gw)

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        if not self.is_vit:
            return super().encode_video(x)
        b, t = x.shape[:2]
        return self._tokens(x.flatten(0, 1))[:, 0].view(b, t, -1).mean(1)

    def adapt_state_dict(self, state: dict) -> dict:
        if state and not any(k.startswith("net.") for k in state):
            return {f"net.{k}": v for k, v in state.items()}
        return state


def _hf_missing(ref: str) -> MissingWeightsError:
    return MissingWeightsError(None, f"Hugging Face model {ref} is not in the local cache (never downloaded "
                                     f"implicitly); fetch it once with `huggingface-cli download {ref}`, or pass a "
                                     f"local directory: hf:/path/to/dir")


def build_hf(cfg: dict, file: str | None = None) -> HFBackbone:
    from transformers import AutoConfig, AutoModel

    ref = cfg["arch"]
    try:
        if file:
            net = AutoModel.from_pretrained(file, local_files_only=True)
        else:
            net = AutoModel.from_config(AutoConfig.from_pretrained(ref, local_files_only=True))
    except OSError:
        raise _hf_missing(ref) from None
    if hasattr(net, "vision_model") and not hasattr(net, "embeddings"):  # CLIP/SigLIP pairs: the image tower
        net = net.vision_model
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(file or ref, local_files_only=True)
        mean, std = tuple(proc.image_mean), tuple(proc.image_std)
    except Exception:  # no preprocessor_config.json: ImageNet statistics
        pass
    return HFBackbone(net, mean, std, cfg.get("stride"), cfg.get("out_index"), cfg.get("input_size"))


# ------------------------------------------------------------------------------ the libraries' weights
def library_weights(family: str, arch: str, tag: str) -> PretrainedCfg:
    """A library's own pretrained table as our :class:`PretrainedCfg` (files from the local caches only)."""
    if family == "timm":
        import timm

        tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
        if tag == "imagenet" and tags:
            tag = tags[0]  # timm's default tag for the architecture
        if tag not in tags:
            raise MissingWeightsError(None, f"timm:{arch} has no weights tag {tag!r} (timm tags: "
                                            f"{', '.join(tags) or 'none'}; or 'random', or a checkpoint path)")
        c = timm.models.get_pretrained_cfg(f"{arch}.{tag}")
        if c.hf_hub_id:
            return PretrainedCfg("hf-hub", hf_hub_id=c.hf_hub_id, file=c.hf_hub_filename or "", loader="builder",
                                 classifier=bool(c.num_classes))
        return PretrainedCfg("torch-hub", file=c.url, loader="builder", classifier=bool(c.num_classes))
    if family == "torchvision":
        from torchvision.models import get_model_weights

        try:
            enum = get_model_weights(arch)
        except (ValueError, KeyError):
            raise InputError(None, f"torchvision has no model {arch!r} (torchvision.models.list_models())") from None
        members = [m for m in enum.__members__ if m != "DEFAULT"]
        key = "DEFAULT" if tag in ("imagenet", "DEFAULT") else tag
        if key not in enum.__members__:
            raise MissingWeightsError(None, f"torchvision:{arch} has no weights tag {tag!r} (tags: imagenet, "
                                            f"{', '.join(members)}; or 'random', or a checkpoint path)")
        return PretrainedCfg("torch-hub", file=enum[key].url, classifier=True)
    if family == "hf":
        if tag != "hub":
            raise MissingWeightsError(None, f"hf:{arch} takes its repo's own weights (the default), 'random', or a "
                                            f"checkpoint path; not {tag!r}")
        return PretrainedCfg("hf-model", file=arch, loader="builder")
    raise ValueError(family)


def hf_model_dir(ref: str) -> str:
    """A local directory, or an id whose config is in the local HF cache; else one MissingWeightsError line."""
    if os.path.isdir(os.path.expanduser(ref)):
        return os.path.expanduser(ref)
    from .weights import _hf_cached

    if _hf_cached(ref, ["config.json"]):
        return ref
    raise _hf_missing(ref)
