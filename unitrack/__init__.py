"""UniTrack: one frozen appearance model, five training-free tracking heads (SOT, VOS, MOT, MOTS, pose)."""

__version__ = "0.1.0"
