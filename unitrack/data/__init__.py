"""Readers of the tracking benchmarks' own layouts, writers of their prediction formats, and a synthetic benchmark.

One module per dataset, each with a dataclass per sequence and ``list_sequences(root)`` /
``load_sequence(root, name)``: :mod:`~unitrack.data.otb`, :mod:`~unitrack.data.davis`,
:mod:`~unitrack.data.mot`, :mod:`~unitrack.data.mots`, :mod:`~unitrack.data.jhmdb`.

Conventions everywhere in memory: pixel coordinates are **0-based** (the top-left pixel is (0, 0);
OTB, MOTChallenge and JHMDB files are 1-based and are converted on read and write), frame indices are
**0-based** positions in the sequence's ``frames`` list, boxes are ``x, y, w, h``. Frames are decoded
lazily (``seq.load_frames(indices)`` or ``seq.video()`` through ``videossl.io.open_video``).
Bad input raises ``videossl.errors.InputError`` naming the file and line.
"""

from unitrack.data import davis, jhmdb, mot, mots, otb

__all__ = ["otb", "davis", "mot", "mots", "jhmdb"]
