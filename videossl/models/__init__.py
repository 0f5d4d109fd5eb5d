"""Model registry: ``create_model(name, pretrained=..., device=...)`` and ``list_models()``.

Every model is a :class:`VideoModel`: ``encode_frames`` ([B,3,H,W] -> [B,C,H/s,W/s]),
``encode_video`` ([B,T,3,H,W] -> [B,D]), ``encode_text`` (list[str] -> [N,D], when ``has_text``)
and the attributes ``mean``, ``std``, ``input_size``, ``stride``, ``feat_dim``, ``embed_dim``,
``has_text``.

Names: ``resnet18``, ``resnet50`` (stride 8, :mod:`.resnet`), ``clip-vit-b16`` (:mod:`.clip_vit`),
``tclip-vit-b16`` (:mod:`.temporal_clip`), ``tiny-resnet`` / ``tiny-vit`` / ``tiny-tclip`` (random,
for tests) and ``videossl-tiny`` (:mod:`.shipped`: ``videossl/checkpoints/videossl-tiny.json`` +
``videossl-tiny.safetensors``). The ``pretrained`` rules are in :mod:`.registry`; weight lookup and
checkpoint loading in :mod:`.weights`.
"""

from .base import VideoModel
from .registry import DEFAULT, create_model, get_model_config, list_models
from .weights import read_state_dict

__all__ = ["VideoModel", "DEFAULT", "create_model", "get_model_config", "list_models", "read_state_dict"]
