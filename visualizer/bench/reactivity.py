"""How the music drives the picture: latent statistics and reactivity per preset.

For a Timeline and the Features it was mapped from, `reactivity` measures what the generator
receives: the latent before truncation ``u = noise / truncation`` against the truncated normal
BigGAN-deep is sampled from (rms 0.88, 9.2 % of values beyond 1.5, none beyond 2 for a = 2), how
its per-frame speed ``|u_t - u_{t-1}|`` (rms over the 128 units) follows onset strength and
energy (Pearson correlation, best lag in frames: positive = the latent moves after the music),
and how many classes are mixed per frame; and where the picture changes at once (a new keyframe,
palette, morph class or pose) against the bar lines the analysis found (`downbeat_changes`).
Statistics, not timings: the numbers do not depend on the machine or its load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from visualizer.analysis.features import Features
from visualizer.mapping.mapper import CausalMapper, Rows
from visualizer.mapping.routing import source_of, split_signal
from visualizer.mapping.stand_in import stand_in_features
from visualizer.mapping.timeline import Timeline

MAX_LAG = 5  # frames either side searched for the best lag
MIXED_SHARE = 0.05  # a class counts as mixed in when it holds at least 5 % of the frame's weight

# The goals every built-in preset meets on real music (README / BENCHMARKS.md).
RMS_GOAL = (0.80, 0.95)
BEYOND_1_5_GOAL = 0.11
BEYOND_2_GOAL = 0.005
CORRELATION_GOAL = 0.6
# A change within this many frames of a downbeat lands on it (33 ms at 30 fps).
DOWNBEAT_TOLERANCE = 1


@dataclass(frozen=True)
class Reactivity:
    rms: float  # rms of u over all frames and units
    beyond_1_5: float  # share of |u| > 1.5, in [0, 1]
    beyond_2: float  # share of |u| > 2
    onset_correlation: float  # speed vs onset strength at lag 0, in [-1, 1]
    energy_correlation: float  # speed vs energy at lag 0
    driver: str  # "onset", "energy" or "still": what the preset's motion follows ("bass.onset":
    # a stem's, and the correlations are the stem's)
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
        onset = self.driver.endswith("onset")
        correlation = self.onset_correlation if onset else self.energy_correlation
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


def reactivity(
    timeline: Timeline,
    features: Features,
    driver: str,
    stems: Mapping[str, Features] | None = None,
) -> Reactivity:
    """Statistics of ``timeline`` (mapped from ``features``, and ``stems`` when given);
    ``driver`` "onset" or "energy", of the mix or of a stem ("bass.onset", `driver_of`): the
    correlations are taken with that source's onset strength and energy (a stem not given: its
    stand-in, as the mapping read it)."""
    u = timeline.noise.astype(np.float64) / timeline.truncation[:, None].astype(np.float64)
    magnitude = np.abs(u)
    speed = latent_speed(timeline)
    source, plain = split_signal(driver)
    if source != "mix":
        given = (stems or {}).get(source)
        features = given if given is not None else stand_in_features(features, source)
    signals = {
        "onset": features.onset_strength.astype(np.float64),
        "energy": features.energy.astype(np.float64),
    }
    lags = range(-MAX_LAG, MAX_LAG + 1)
    follows = signals.get(plain, signals["energy"])
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
    fall on onsets), else "energy" (the walk's signal); a stem's as "bass.onset"."""
    poses = preset.poses
    if (preset.classes.mode == "morph" and preset.morph.still and not poses.seeds) or (
        poses.seeds and poses.motion == 0
    ):
        return "still"
    if preset.pulse.trigger != "none" and preset.pulse.amount > 0:
        source = source_of(preset.pulse.trigger)
        return "onset" if source == "mix" else f"{source}.onset"
    source = source_of(preset.walk.feature)
    return "energy" if source == "mix" else f"{source}.energy"


@dataclass(frozen=True)
class DownbeatChanges:
    """Where a preset's changes land, counted where the analysis found beats (from the first to
    the last beat): outside them there is no bar line to land on."""

    changes: int  # frames where the picture changes at once (`change_frames`), inside the beats
    on_downbeat: float  # share of them within DOWNBEAT_TOLERANCE frames of a downbeat (nan: none)
    by_chance: float  # share of the frames inside the beats that are that near a downbeat
    outside: int  # changes before the first or after the last beat


def change_frames(features: Features, preset, *, causal: bool = False) -> np.ndarray:
    """(C,) int64 frames where ``preset`` changes what it shows at once: a new keyframe, palette,
    morph class or pose (the techniques' `changed`). Mapped as `build_timeline` maps (the
    techniques plan with the whole track) unless ``causal``; the drives are smoothed causally,
    which moves none of these changes."""
    mapper = CausalMapper(preset, fps=features.fps)
    if not causal:
        for technique in mapper.techniques:
            technique.plan(features)
    rows = Rows(features)
    frames = []
    for i in range(features.n_frames):
        mapper.step(rows.frame(i))
        if any(technique.changed for technique in mapper.techniques):
            frames.append(i)
    return np.asarray(frames, dtype=np.int64)


def near_share(frames: np.ndarray, marks: np.ndarray, tolerance: int = DOWNBEAT_TOLERANCE) -> float:
    """Share of ``frames`` within ``tolerance`` frames of one of ``marks`` (nan when no frames)."""
    frames, marks = np.asarray(frames, np.int64), np.asarray(marks, np.int64)
    if frames.size == 0:
        return float("nan")
    if marks.size == 0:
        return 0.0
    index = np.clip(np.searchsorted(marks, frames), 1, marks.size) - 1
    nearest = np.minimum(
        np.abs(frames - marks[index]), np.abs(marks[np.minimum(index + 1, marks.size - 1)] - frames)
    )
    return float(np.mean(nearest <= tolerance))


def downbeat_changes(features: Features, preset) -> DownbeatChanges:
    """How many changes ``preset`` makes on ``features`` and how many land on a downbeat, against
    the share of frames that would by chance."""
    changes = change_frames(features, preset)
    beats = features.beats
    first, last = (int(beats[0]), int(beats[-1])) if beats.size else (0, -1)
    inside = changes[(changes >= first) & (changes <= last)]
    return DownbeatChanges(
        changes=int(inside.size),
        on_downbeat=near_share(inside, features.downbeats),
        by_chance=near_share(np.arange(first, last + 1), features.downbeats),
        outside=int(changes.size - inside.size),
    )
