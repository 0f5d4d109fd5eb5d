"""Metrics on learned representations: :mod:`videossl.metrics.disentanglement` (MED, collapse)."""
