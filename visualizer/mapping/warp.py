"""Latent warps that keep the latent's law: background hallucination (g), natural zoom (h), and
the blend that kicks and circles use.

All act on standard normal values ``g`` (see `visualizer.mapping.truncation`), elementwise.

- `hallucinate`: the seeds' ``sin(z)``: small values stay as they are (sin z ~ z), large ones
  fold back, so as the latent moves its large units turn round and the backgrounds churn. The
  fold acts on each value's rank ``r = P(|g'| < |g|)`` (uniform in [0, 1)): ranks below the
  fold point ``c`` stay, ranks above rise twice as fast, then fall back (a tent, which keeps the
  uniform law exactly), so the output is standard normal again. The fold point is where
  ``sin(frequency * z)`` turns, reached at full strength.
- `zoom`: the signal scales the latent's magnitude up ("natural zoom": the subject grows).
- `blend`: ``cos(angle) * g + sin(angle) * other`` for another independent standard normal
  vector: the law is kept at every angle, so a kick or a circle never pushes past the bound.
"""

from __future__ import annotations

import math

import numpy as np

ZOOM_RANGE = 1.0  # log-scale of the magnitude per unit of drive above its running mean


def fold_point(strength: float, frequency: float, bound: float) -> float:
    """Rank in (0, 1] above which values fold: 1 (nothing folds) at strength 0, the rank of
    ``min(pi / (2 * frequency), bound)`` (where the sine turns) at strength 1."""
    turn = min(0.5 * math.pi / frequency, bound)
    peak_rank = math.erf(turn / math.sqrt(2.0))  # P(|g| < turn) for g ~ N(0, 1)
    s = min(1.0, max(0.0, strength))
    return 1.0 - s * (1.0 - peak_rank)


def hallucinate(g: np.ndarray, strength: float, frequency: float, bound: float) -> np.ndarray:
    """``g`` (standard normal values) with its large values folded back; ``g`` itself at
    strength 0. The output is standard normal too; values of rank below the fold point stay."""
    c = fold_point(strength, frequency, bound)
    if c >= 1.0:
        return g
    from scipy.special import ndtr, ndtri  # 0.4 s to import: loading a preset needs none of it

    rank = 2.0 * ndtr(np.abs(g)) - 1.0
    middle = 0.5 * (1.0 + c)
    folded = np.where(rank <= middle, c + 2.0 * (rank - c), c + 2.0 * (1.0 - rank))
    magnitude = ndtri(np.clip(0.5 * (folded + 1.0), 0.5, 1.0 - 1e-12))
    return np.where(rank > c, np.sign(g) * magnitude, g)


def zoom_scale(drive: float, mean: float, amount: float) -> float:
    """Magnitude factor: ``exp(ZOOM_RANGE * amount * (drive - mean))``, above 1 where the
    signal is above its running mean, below 1 where it is under it, so the latent keeps its
    statistics over a track while the loud bass zooms in."""
    return math.exp(ZOOM_RANGE * amount * (drive - mean))


def zoom(g: np.ndarray, scale: float) -> np.ndarray:
    """``g`` times ``scale`` (the map to the truncated normal then keeps it within the bound)."""
    return g if scale == 1.0 else g * scale


def blend(g: np.ndarray, other: np.ndarray, angle: float) -> np.ndarray:
    """``cos(angle) * g + sin(angle) * other``, angle clipped to [0, pi/2]."""
    angle = min(0.5 * math.pi, max(0.0, angle))
    if angle == 0.0:
        return g
    return math.cos(angle) * g + math.sin(angle) * other
