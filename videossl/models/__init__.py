"""Model registry: ``create_model(name, pretrained=..., device=...)`` and ``list_models()``.

Every model is a :class:`VideoModel`: ``encode_frames`` ([B,3,H,W] -> [B,C,H/s,W/s]),
``encode_video`` ([B,T,3,H,W] -> [B,D]), ``encode_text`` (list[str] -> [N,D], when ``has_text``)
and the attributes ``mean``, ``std``, ``input_size``, ``stride``, ``feat_dim``, ``embed_dim``,
``has_text``. See :mod:`videossl.models.registry` for the names and the ``pretrained`` rules.
"""

from .base import VideoModel
from .registry import DEFAULT, create_model, get_model_config, list_models
from .weights import read_state_dict

__all__ = ["VideoModel", "DEFAULT", "create_model", "get_model_config", "list_models", "read_state_dict"]
