"""How the music drives the picture: latent statistics and reactivity per preset.

For a Timeline and the Features it was mapped from, `reactivity` measures what the generator
receives: the latent before truncation ``u = noise / truncation`` against the truncated normal
BigGAN-deep is sampled from (rms 0.88, 9.2 % of values beyond 1.5, none beyond 2 for a = 2), how
its per-frame speed ``|u_t - u_{t-1}|`` (rms over the 128 units) follows onset strength and
energy (Pearson correlation, best lag in frames: positive = the latent moves after the music),
and how many classes are mixed per frame. Statistics, not timings: the numbers do not depend on
the machine or its load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visualizer.analysis.features import Features
from visualizer.mapping.timeline import Timeline

MAX_LAG = 5  # frames either side searched for the best lag
MIXED_SHARE = 0.05  # a class counts as mixed in when it holds at least 5 % of the frame's weight

# The goals every built-in preset meets on real music (README / BENCHMARKS.md).
RMS_GOAL = (0.80, 0.95)
BEYOND_1_5_GOAL = 0.11
BEYOND_2_GOAL = 0.005
CORRELATION_GOAL = 0.6


@dataclass(frozen=True)
class Reactivity:
    rms: float  # rms of u over all frames and units
    beyond_1_5: float  # share of |u| > 1.5, in [0, 1]
    beyond_2: float  # share of |u| > 2
    onset_correlation: float  # speed vs onset strength at lag 0, in [-1, 1]
    energy_correlation: float  # speed vs energy at lag 0
    driver: str  # "onset", "energy" or "still": what the preset's motion follows
    best_lag: int  # lag (frames) of the strongest correlation with the driver
    classes_mixed: float  # mean number of classes holding >= 5 % of a frame's weight

    def meets_goals(self) -> bool:
        """Inside the goals: rms, shares beyond 1.5 and 2, and (unless the latent holds still)
        correlation with the driver, at lag 0."""
        in_law = (
            RMS_GOAL[0] <= self.rms <= RMS_GOAL[1]
            and self.beyond_1_5 <= BEYOND_1_5_GOAL
            and self.beyond_2 <= BEYOND_2_GOAL
        )
        if self.driver == "still":
            return in_law
        correlation = self.onset_correlation if self.driver == "onset" else self.energy_correlation
        return in_law and correlation >= CORRELATION_GOAL and self.best_lag == 0


def latent_speed(timeline: Timeline) -> np.ndarray:
    """(T,) rms over units of ``u_t - u_{t-1}`` (0 for the first frame)."""
    u = timeline.noise.astype(np.float64) / timeline.truncation[:, None].astype(np.float64)
    speed = np.zeros(timeline.n_frames)
    speed[1:] = np.sqrt(np.mean(np.diff(u, axis=0) ** 2, axis=1))
    return speed


def lagged_correlation(x: np.ndarray, y: np.ndarray, lag: int) -> float:
    """Pearson correlation of ``x[t]`` with ``y[t - lag]``; 0 when either side is constant."""
    if lag > 0:
        x, y = x[lag:], y[:-lag]
    elif lag < 0:
        x, y = x[:lag], y[-lag:]
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def reactivity(timeline: Timeline, features: Features, driver: str) -> Reactivity:
    """Statistics of ``timeline`` (mapped from ``features``); ``driver`` "onset" or "energy"."""
    u = timeline.noise.astype(np.float64) / timeline.truncation[:, None].astype(np.float64)
    magnitude = np.abs(u)
    speed = latent_speed(timeline)
    signals = {
        "onset": features.onset_strength.astype(np.float64),
        "energy": features.energy.astype(np.float64),
    }
    lags = range(-MAX_LAG, MAX_LAG + 1)
    follows = signals.get(driver, signals["energy"])
    by_lag = [lagged_correlation(speed, follows, lag) for lag in lags]
    weights = timeline.class_vectors.astype(np.float64)
    shares = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return Reactivity(
        rms=float(np.sqrt(np.mean(u**2))),
        beyond_1_5=float(np.mean(magnitude > 1.5)),
        beyond_2=float(np.mean(magnitude > 2.0)),
        onset_correlation=lagged_correlation(speed, signals["onset"], 0),
        energy_correlation=lagged_correlation(speed, signals["energy"], 0),
        driver=driver,
        best_lag=int(list(lags)[int(np.argmax(by_lag))]),
        classes_mixed=float(np.mean((shares >= MIXED_SHARE).sum(axis=1))),
    )


def driver_of(preset) -> str:
    """What the preset's latent follows: "still" when it holds a pose (a class morph, or poses
    with no music-driven motion on top), "onset" when it kicks (on onsets, or on beats, which
    fall on onsets), else "energy" (the walk's signal)."""
    poses = preset.poses
    if (preset.classes.mode == "morph" and preset.morph.still and not poses.seeds) or (
        poses.seeds and poses.motion == 0
    ):
        return "still"
    return "onset" if preset.pulse.trigger != "none" and preset.pulse.amount > 0 else "energy"
