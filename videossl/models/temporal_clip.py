"""Temporal CLIP: open_clip's image tower with zero-initialised temporal attention in every block.

Choice: **divided space-time attention** (TimeSformer, Bertasius et al. 2021), the backbone of
SVT and LSS whose recipe the trainer follows. Before each CLIP block, every token (CLS and patch
tokens alike) attends over the same token position in the other frames of the clip; the CLIP
block then does its usual spatial attention + MLP within each frame. Compared with a temporal
transformer on top of per-frame CLS tokens (X-CLIP/ViFi style), this mixes time at every depth and
also gives the dense patch maps temporal context, which the tracking heads use; its cost is
O(N*T^2) per block, small next to the O(T*N^2) spatial attention for T=8, N=197.

Zero initialisation: the temporal branch is ``x + out_proj(MHA(LN(x + time_embed)))`` with
``out_proj`` weight and bias zero, so at initialisation every branch adds exactly 0 and the model
computes CLIP's per-frame forward; ``encode_video`` (per-frame projected CLS averaged over T) then
equals :class:`~videossl.models.clip_vit.ClipViT`'s frame-averaged embedding (tested). Training
moves ``out_proj`` first (the only temporal weights with a non-zero gradient at step 0), as with
TimeSformer's zero-init ``temporal_fc``.

``encode_frames`` ([B,3,H,W], no time axis) runs each frame as a one-frame clip of the trained
network, so dense features come from the same function the trainer optimised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .clip_vit import ClipViT, build_open_clip, vit_embed, vit_head


class TemporalAttention(nn.Module):
    """Residual self-attention over the time axis of [B*T, N, C] tokens, output zero at init."""

    def __init__(self, width: int, heads: int, num_frames: int):
        super().__init__()
        self.num_frames = num_frames
        self.time_embed = nn.Parameter(torch.zeros(num_frames, width))
        self.norm = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.zeros_(self.attn.out_proj.bias)

    def _time_embed(self, t: int) -> torch.Tensor:
        if t == self.num_frames:
            return self.time_embed
        e = self.time_embed.t().unsqueeze(0)  # [1, C, T0] -> linear resample to t frames
        return F.interpolate(e, size=t, mode="linear", align_corners=False)[0].t()

    def forward(self, x: torch.Tensor, t: int) -> torch.Tensor:
        bt, n, c = x.shape
        y = x.view(bt // t, t, n, c).transpose(1, 2).reshape(-1, t, c)   # [B*N, T, C]
        y = self.norm(y + self._time_embed(t).to(y.dtype))
        y = self.attn(y, y, y, need_weights=False)[0]
        y = y.view(bt // t, n, t, c).transpose(1, 2).reshape(bt, n, c)
        return x + y


class TemporalClipViT(ClipViT):
    """:class:`ClipViT` plus a :class:`TemporalAttention` before each of its blocks."""

    def __init__(self, clip: nn.Module, num_frames: int = 8, image_size: int | None = None,
                 grad_checkpointing: bool = False):
        super().__init__(clip)
        blocks = self.visual.transformer.resblocks
        width = self.feat_dim
        heads = blocks[0].attn.num_heads
        self.num_frames = num_frames
        if image_size is not None:  # positional embeddings are interpolated to any grid at run time
            self.input_size = (int(image_size), int(image_size))
        self.temporal = nn.ModuleList(TemporalAttention(width, heads, num_frames) for _ in blocks)
        self.grad_checkpointing = grad_checkpointing

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def adapt_state_dict(self, state: dict) -> dict:
        """An image-CLIP state dict (open_clip names) initialises the CLIP part; temporal layers stay zero-init."""
        state = super().adapt_state_dict(state)
        if not any(k.startswith("temporal.") for k in state):
            state = {**state, **{f"temporal.{k}": v for k, v in self.temporal.state_dict().items()}}
        return state

    def _block(self, i: int, x: torch.Tensor, t: int) -> torch.Tensor:
        return self.visual.transformer.resblocks[i](self.temporal[i](x, t))

    def forward_clip(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B,T,3,H,W] -> (per-frame projected CLS [B,T,D], per-frame dense maps [B,T,C,h,w])."""
        b, t = x.shape[:2]
        tokens, grid = vit_embed(self.visual, x.flatten(0, 1))
        for i in range(len(self.temporal)):
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                tokens = checkpoint(self._block, i, tokens, t, use_reentrant=False)
            else:
                tokens = self._block(i, tokens, t)
        pooled, dense = vit_head(self.visual, tokens, grid)
        return pooled.view(b, t, -1), dense.view(b, t, *dense.shape[1:])

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_clip(x.unsqueeze(1))[1][:, 0]

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_clip(x)[0].mean(1)


def build_temporal_clip(cfg: dict, file: str | None = None) -> TemporalClipViT:
    return TemporalClipViT(build_open_clip(cfg, file), num_frames=cfg.get("num_frames", 8),
                           image_size=cfg.get("image_size"), grad_checkpointing=cfg.get("grad_checkpointing", False))
