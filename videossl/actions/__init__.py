"""Action-recognition evaluation: the UCF101 / HMDB51 / Kinetics-600 protocols and zero-shot scoring.

``splits`` reads the official split files into :class:`~videossl.actions.splits.Split` lists;
``evaluate.zeroshot_eval`` scores a text-capable model on them (top-1/top-5, mean ± std over
splits); ``cli`` is ``videossl eval zeroshot``. The linear probe is :mod:`videossl.linear_probe`,
the zero-shot classifier :mod:`videossl.zeroshot`, the synthetic action set :mod:`videossl.data.actions`.
"""

from videossl.actions.splits import Split, hmdb51_splits, index_videos, k600_novel_splits, ucf101_splits

__all__ = ["Split", "hmdb51_splits", "index_videos", "k600_novel_splits", "ucf101_splits"]
