"""Signals: the per-frame feature a technique follows, and its smoothing.

Every signal is in [0, 1]. Causal smoothing is an exponential moving average (EMA) with a time
constant in seconds; the offline path may instead run it forwards and then backwards over the
whole track (zero phase: no lag, at the price of looking ahead).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from visualizer.analysis.features import Features, FrameFeatures
from visualizer.mapping.routing import split_signal


def ema_alpha(seconds: float, fps: float) -> float:
    """EMA weight of the newest frame for a time constant of ``seconds`` (1.0 = no smoothing)."""
    if seconds <= 0:
        return 1.0
    return 1.0 - math.exp(-1.0 / (seconds * fps))


class Ema:
    """Causal smoothing of a float or array: ``s += alpha * (x - s)``, starting at the first x."""

    def __init__(self) -> None:
        self.value = None

    def step(self, x, alpha: float):
        if self.value is None or alpha >= 1.0:
            self.value = x * 1.0  # a float64 copy, never a view of the caller's row
        else:
            self.value = self.value + alpha * (x - self.value)
        return self.value


def zero_phase(x: np.ndarray, alpha: float) -> np.ndarray:
    """EMA run forwards, then backwards, along the last axis: float64, same shape, no lag."""
    x = np.asarray(x, dtype=np.float64)
    if alpha >= 1.0 or x.shape[-1] == 0:
        return x.copy()
    from scipy.signal import lfilter  # 2 s to import: only the offline path needs it

    b, a = [alpha], [1.0, alpha - 1.0]
    # Start each pass at its first sample so the edges do not fade in from zero.
    forward, _ = lfilter(b, a, x, axis=-1, zi=(1.0 - alpha) * x[..., :1])
    rev = forward[..., ::-1]
    backward, _ = lfilter(b, a, rev, axis=-1, zi=(1.0 - alpha) * rev[..., :1])
    return backward[..., ::-1].copy()


def feature_rows(features: Features) -> dict[str, np.ndarray]:
    """Each named signal of `technique.FEATURES` of one source as a (T,) array in [0, 1], and
    "chroma" (12, T)."""
    n = features.n_frames
    return {
        "chroma": features.chroma,
        "energy": features.energy,
        "rise": features.energy_rise,
        "onset": features.onset_strength,
        "low": features.bands[0],
        "mid": features.bands[1],
        "high": features.bands[2],
        "constant": np.ones(n, dtype=np.float32),
    }


def signal_of(name: str, rows: Mapping[str, FrameFeatures]) -> float | np.ndarray:
    """One frame's value of the signal ``name`` (same definitions as `feature_rows`), of the
    source it names ("bass.energy"; a plain name is the mix's) among ``rows``, each source's
    row of the frame."""
    source, feature = split_signal(name)
    frame = rows[source]
    if feature == "chroma":
        return frame.chroma
    if feature == "energy":
        return frame.energy
    if feature == "rise":
        return frame.energy_rise
    if feature == "onset":
        return frame.onset_strength
    if feature == "constant":
        return 1.0
    return float(frame.bands[("low", "mid", "high").index(feature)])
