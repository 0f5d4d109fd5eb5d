"""The one interface every backbone in the registry implements.

Heads (tracking, extraction, zero-shot, training) only ever see this class, so a new backbone
is usable everywhere once it fills in :meth:`encode_frames` (and :meth:`encode_video` /
:meth:`encode_text` where it has something better than the defaults below).
"""

from __future__ import annotations

import torch
from torch import nn


class VideoModel(nn.Module):
    """Base class: dense per-frame features, a clip embedding, optionally a text tower.

    Attributes every model sets (read by the data pipeline and the heads):

    - ``mean``, ``std``: per-channel normalisation the inputs must already have (RGB, [0, 1] scale);
    - ``input_size``: (H, W) the model was trained at (other sizes work where the model allows);
    - ``stride``: input pixels per dense feature cell;
    - ``feat_dim``: C of :meth:`encode_frames`; ``embed_dim``: D of :meth:`encode_video` / :meth:`encode_text`;
    - ``has_text``: whether :meth:`encode_text` exists.
    """

    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    input_size: tuple[int, int] = (224, 224)
    stride: int = 8
    feat_dim: int = 0
    embed_dim: int = 0
    has_text: bool = False
    name: str = ""
    #: state-dict prefixes of the full network that this dense trunk leaves out (dropped when loading)
    drop_prefixes: tuple[str, ...] = ()

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] normalised frames -> [B,C,H/stride,W/stride] dense features."""
        raise NotImplementedError

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        """[B,T,3,H,W] -> [B,D]: global-average-pooled frame features, averaged over T.

        The fallback for backbones without a clip head (the ResNets): D equals C.
        """
        b, t = x.shape[:2]
        feats = self.encode_frames(x.flatten(0, 1))            # [B*T, C, h, w]
        return feats.mean(dim=(2, 3)).view(b, t, -1).mean(1)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError(f"model {self.name or type(self).__name__!r} has no text tower")

    def adapt_state_dict(self, state: dict) -> dict:
        """Hook for checkpoints in another naming (e.g. open_clip's) before the strict load."""
        return state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B,T,3,H,W] -> clip embedding, [B,3,H,W] -> dense features (so hooks/DDP see a forward)."""
        return self.encode_video(x) if x.dim() == 5 else self.encode_frames(x)

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, stride={self.stride}, feat_dim={self.feat_dim}, "
                f"embed_dim={self.embed_dim}, input_size={tuple(self.input_size)}, has_text={self.has_text}")
