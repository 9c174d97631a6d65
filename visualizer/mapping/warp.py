"""Latent warps driven by a signal: background hallucination (g) and natural zoom (h).

Both blend the latent ``z`` towards a target by a strength ``s`` in [0, 1], so a latent inside
[-a, a] stays inside it.
"""

from __future__ import annotations

import numpy as np


def hallucinate(z: np.ndarray, strength: float, bound: float, frequency: float) -> np.ndarray:
    """``z`` resampled through ``a * sin(frequency * z)``: the background textures churn."""
    if strength <= 0:
        return z
    return (1.0 - strength) * z + strength * (bound * np.sin(frequency * z))


def zoom(z: np.ndarray, strength: float, bound: float) -> np.ndarray:
    """``z`` pushed towards ``-a * sign(z)`` (elementwise): reads as a zoom into the subject."""
    if strength <= 0:
        return z
    return (1.0 - strength) * z + strength * (-bound * np.sign(z))
