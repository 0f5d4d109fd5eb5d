"""videossl: temporal CLIP trained against an action concept space, plus video I/O, extraction and zero-shot."""

__version__ = "0.1.0"
