"""Truncation over time (technique f) and the truncated normal that base latents come from."""

from __future__ import annotations

import numpy as np


def truncated_normal(rng: np.random.Generator, size: int, bound: float) -> np.ndarray:
    """(size,) float64 standard normal draws, every value outside [-bound, bound] redrawn."""
    values = rng.standard_normal(size)
    outside = np.abs(values) > bound
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > bound
    return values


def truncation_value(signal: float, low: float, high: float, invert: bool) -> float:
    """Truncation in [low, high] for a signal in [0, 1] (``invert``: loud = low)."""
    signal = min(1.0, max(0.0, signal))
    if invert:
        signal = 1.0 - signal
    return low + (high - low) * signal
