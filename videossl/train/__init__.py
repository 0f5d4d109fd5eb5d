"""Training: ``train(TrainConfig(...))`` — multi-view clips, EMA teacher, registry objectives, resumable.

Modules: ``views`` (multi-view sampling), ``data`` (listing, dataset, resumable sampler),
``schedule`` (lr / momentum / EMA), ``checkpoint`` (atomic save / resume), ``loop`` (the loop),
``cli`` (``videossl train``).
"""

from videossl.train.loop import TrainConfig, TrainingDiverged, train

__all__ = ["TrainConfig", "TrainingDiverged", "train"]
