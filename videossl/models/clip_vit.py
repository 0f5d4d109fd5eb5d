"""open_clip ViTs as dense trackers and clip encoders.

* ``encode_frames``: the patch tokens of the last block (after ``ln_post``, before the projection)
  as a [B, width, H/p, W/p] map. Positional embeddings are interpolated (bicubic) to the input's
  patch grid, so tracking can run at 480p although CLIP was trained at 224; at the trained size
  the embeddings are used untouched and the output equals open_clip's own.
* ``encode_video``: CLS token -> ``ln_post`` -> projection per frame (open_clip's ``encode_image``),
  averaged over T. This is the "frozen CLIP" zero-shot baseline of the video-CLIP literature.
* ``encode_text``: open_clip's text tower with its BPE tokenizer.

State-dict keys are open_clip's own (``visual.*``, ``token_embedding.*``, ...), so open_clip
checkpoint files load with ``pretrained=PATH`` like our own saves.
"""

from __future__ import annotations

import logging
import os

import torch
import torch.nn.functional as F
from torch import nn

from .base import VideoModel

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def interpolate_pos_embed(pos: torch.Tensor, grid: tuple[int, int], new_grid: tuple[int, int]) -> torch.Tensor:
    """[1+g0*g1, C] positional embedding (CLS first) resampled bicubically to ``new_grid``."""
    if tuple(grid) == tuple(new_grid):
        return pos
    cls, patches = pos[:1], pos[1:]
    c = patches.shape[-1]
    patches = patches.reshape(1, grid[0], grid[1], c).permute(0, 3, 1, 2).float()
    patches = F.interpolate(patches, size=tuple(new_grid), mode="bicubic", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(-1, c).to(pos.dtype)
    return torch.cat([cls, patches], 0)


def vit_embed(visual: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """open_clip ``VisionTransformer._embeds`` with the positional embedding fitted to the input grid."""
    x = visual.conv1(x)                                               # [B, C, h, w]
    grid = tuple(x.shape[-2:])
    x = x.flatten(2).transpose(1, 2)                                  # [B, h*w, C]
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], 1)
    x = x + interpolate_pos_embed(visual.positional_embedding, visual.grid_size, grid).to(x.dtype)
    x = visual.patch_dropout(x)
    return visual.ln_pre(x), grid


def vit_head(visual: nn.Module, x: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens after the blocks -> (projected CLS embedding [B, D], dense map [B, C, h, w])."""
    x = visual.ln_post(x)
    pooled = x[:, 0] @ visual.proj if visual.proj is not None else x[:, 0]
    dense = x[:, 1:].transpose(1, 2).reshape(x.shape[0], x.shape[-1], *grid)
    return pooled, dense


def build_open_clip(cfg: dict, file: str | None = None) -> nn.Module:
    """The open_clip CLIP of an entry: a named architecture (``arch``) or an inline config (``clip``).

    ``file``: the weights file the registry resolved (open_clip reads its formats, OpenAI's TorchScript too)."""
    import open_clip

    if "clip" in cfg:  # tiny test configs: never pretrained
        c = cfg["clip"]
        return open_clip.model.CLIP(embed_dim=c["embed_dim"], vision_cfg=dict(c["vision"]),
                                    text_cfg=dict(c["text"]), quick_gelu=True)
    if cfg["arch"] not in open_clip.list_models():
        from videossl.errors import InputError

        raise InputError(None, f"open_clip has no architecture {cfg['arch']!r} (open_clip.list_models())")
    logging.getLogger().disabled, was = True, logging.getLogger().disabled  # "initialized randomly" warning
    try:
        # OpenAI's ViT-B/16 was trained with QuickGELU; random builds use the same graph.
        return open_clip.create_model(cfg["arch"], pretrained=file, force_quick_gelu=True)
    finally:
        logging.getLogger().disabled = was


def check_supported(visual: nn.Module) -> None:
    if getattr(visual, "attn_pool", None) is not None or getattr(visual, "pool_type", "tok") != "tok" \
            or getattr(visual, "final_ln_after_pool", False):
        raise ValueError("only CLS-token ViTs (pool_type='tok', no attention pooling) are supported")


class ClipViT(VideoModel):
    """An open_clip CLIP whose image tower also yields dense patch maps; frames averaged per clip."""

    mean, std, has_text = OPENAI_MEAN, OPENAI_STD, True

    def __init__(self, clip: nn.Module):
        super().__init__()
        check_supported(clip.visual)
        self.clip = clip
        visual = clip.visual
        self.stride = int(visual.conv1.stride[0])
        self.input_size = tuple(int(s) for s in visual.image_size)
        self.feat_dim = int(visual.conv1.out_channels)
        self.embed_dim = int(visual.output_dim)

    @property
    def visual(self) -> nn.Module:
        return self.clip.visual

    def adapt_state_dict(self, state: dict) -> dict:
        """Accept open_clip's own key names (no ``clip.`` prefix) as well as ours."""
        if state and not any(k.startswith("clip.") for k in state):
            return {f"clip.{k}": v for k, v in state.items()}
        return state

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.clip.visual.transformer.grad_checkpointing = enable

    def encode_image_tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        visual = self.visual
        tokens, grid = vit_embed(visual, x)
        tokens = visual.transformer(tokens)
        return vit_head(visual, tokens, grid)

    def encode_frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_image_tokens(x)[1]

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        pooled, _ = self.encode_image_tokens(x.flatten(0, 1))
        return pooled.view(b, t, -1).mean(1)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        import open_clip

        tokens = open_clip.tokenize(list(texts), context_length=self.clip.context_length).to(self.device)
        return self.clip.encode_text(tokens)


def build_clip_vit(cfg: dict, file: str | None = None) -> ClipViT:
    return ClipViT(build_open_clip(cfg, file))
