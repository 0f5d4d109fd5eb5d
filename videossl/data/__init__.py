"""Synthetic data for representation learning: :mod:`videossl.data.factors` (clips with known factors)."""
