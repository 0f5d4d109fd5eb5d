"""ResNets cut to stride 8, as UniTrack uses them for every tracking head.

UniTrack (Wang et al., NeurIPS 2021) takes an ImageNet ResNet, drops ``layer4`` and sets the
stride of ``layer3`` to 1, so a 480p frame gives a 60x107 map (ResNet-18: 256 channels,
ResNet-50: 1024). Keeping the ImageNet weights of ``layer3`` unchanged (only its first block's
stride changes) is what makes the published numbers reproducible, so we do exactly that rather
than re-training a dilated variant.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tvr

from .base import VideoModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_ARCHS = {
    # name: (block, layers); ImageNet weights: the registry's "imagenet" entries (torchvision's V1 files)
    "resnet18": (tvr.BasicBlock, [2, 2, 2, 2]),
    "resnet50": (tvr.Bottleneck, [3, 4, 6, 3]),
    "tiny": (tvr.BasicBlock, [1, 1, 1, 1]),
}


def _unstride(layer: nn.Sequential) -> None:
    """Set every stride-2 conv of the stage's first block (main path and shortcut) to stride 1."""
    for m in layer[0].modules():
        if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            m.stride = (1, 1)


class ResNetStride8(VideoModel):
    """conv1 .. layer3 of a torchvision ResNet with layer3 at stride 1: dense features at stride 8."""

    mean, std, stride, has_text = IMAGENET_MEAN, IMAGENET_STD, 8, False
    drop_prefixes = ("layer4.", "fc.")  # in every ResNet checkpoint; UniTrack drops them too

    def __init__(self, arch: str = "resnet18", input_size: tuple[int, int] = (224, 224)):
        super().__init__()
        block, layers = _ARCHS[arch]
        net = tvr.ResNet(block, layers)
        self.arch = arch
        self.input_size = tuple(input_size)
        # The trunk keeps torchvision's attribute names, so torchvision state dicts load directly.
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        _unstride(self.layer3)
        self.feat_dim = self.embed_dim = 256 * block.expansion

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))


def build_resnet(cfg: dict, weights=None) -> ResNetStride8:
    return ResNetStride8(cfg["arch"], tuple(cfg.get("input_size", (224, 224))))
