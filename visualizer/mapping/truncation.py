"""Truncation over time (technique f), the truncated normal, and the map that keeps latents in it.

BigGAN-deep was trained on z ~ N(0, 1) and is sampled with the truncation trick: z drawn from a
normal truncated to [-a, a] (a = 2), times the truncation t. The mapping keeps every frame's
latent before truncation (u = noise / t) in that law: the motion runs on standard normal values
g (whose law rotations and mixes keep exactly) and `to_truncated` maps each one to the
truncated normal by its quantile, so u has the truncated normal's statistics at every frame
(rms 0.88 for a = 2, 9.2 % of values beyond 1.5, none beyond 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from visualizer.errors import PresetError
from visualizer.mapping.routing import signal
from visualizer.mapping.technique import FEATURES, Drive, Frame, Technique, opt


@dataclass(frozen=True)
class TruncationOptions:
    # Truncation when the signal is 0 and when it is 1, each 0.02-1 (min <= max); lower =
    # cleaner, more typical images, higher = more varied ones.
    min: float = opt(0.4, 0.02, 1.0)
    max: float = opt(0.7, 0.02, 1.0)
    # Signal that moves the truncation, of the mix or of a stem ("bass.low"); "constant" holds
    # it at max.
    feature: str = signal("energy", FEATURES)
    # Loud = low truncation instead of high.
    invert: bool = opt(False)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = opt(0.5, 0.0, 10.0)


def truncated_normal(rng: np.random.Generator, size: int, bound: float) -> np.ndarray:
    """(size,) float64 standard normal draws, every value outside [-bound, bound] redrawn."""
    values = rng.standard_normal(size)
    outside = np.abs(values) > bound
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > bound
    return values


def to_truncated(g: np.ndarray, bound: float) -> np.ndarray:
    """Standard normal values ``g`` -> the truncated normal in [-bound, bound], by quantile.

    Monotonic and odd; close to the identity for small values (slope ``P(|g| < bound)`` at 0,
    0.95 for bound 2). If ``g`` ~ N(0, 1), the result follows the truncated normal exactly.
    """
    from scipy.special import ndtr, ndtri  # 0.4 s to import: loading a preset needs none of it

    low = ndtr(-bound)
    u = ndtri(low + ndtr(g) * (1.0 - 2.0 * low))
    return np.clip(u, -bound, bound)


def from_truncated(u: np.ndarray, bound: float) -> np.ndarray:
    """The inverse of `to_truncated`: truncated-normal values in (-bound, bound) -> N(0, 1)."""
    from scipy.special import ndtr, ndtri

    low = ndtr(-bound)
    inside = np.clip(u, -bound, bound)
    return ndtri(np.clip((ndtr(inside) - low) / (1.0 - 2.0 * low), 1e-12, 1.0 - 1e-12))


def truncation_value(signal: float, low: float, high: float, invert: bool) -> float:
    """Truncation in [low, high] for a signal in [0, 1] (``invert``: loud = low)."""
    signal = min(1.0, max(0.0, signal))
    if invert:
        signal = 1.0 - signal
    return low + (high - low) * signal


class Truncation(Technique):
    """Sets each frame's truncation from its smoothed signal."""

    name, Options, stage = "truncation", TruncationOptions, "truncation"

    @classmethod
    def check(cls, preset: Any) -> None:
        t = preset.truncation
        if t.min > t.max:
            raise PresetError(f"truncation.min = {t.min} must not exceed truncation.max = {t.max}")

    def drive(self, options: TruncationOptions) -> Drive:
        return Drive(options.feature, options.smoothing)

    def step(self, frame: Frame, value: float) -> float:
        t = self.options
        return truncation_value(frame.drives[self.name], t.min, t.max, t.invert)
