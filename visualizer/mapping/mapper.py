"""The mapping stage: features + preset + seed -> per-frame generator inputs.

One implementation serves both modes. `CausalMapper` consumes one `FrameFeatures` row at a time
and keeps its state (latent walk, pulse, rotation phase, smoothing, segment and section
counters), as live mode needs. `build_timeline` runs the same per-frame code over a whole track:
with ``causal=True`` it is exactly the frame-by-frame stepping; by default it first smooths the
signals with zero phase and uses the exact keyframe segment ends (look-ahead), so the offline
curves have no smoothing lag and keyframe segments end exactly on their class.

Random draws, all from ``np.random.default_rng(seed)``: at construction and in this order a class
permutation (random palettes and keyframes), then the latent motion's start, speed factors, kick
direction and rotation plane (`visualizer.mapping.motion`); then, frame by frame, the walk's
next circles (so a Timeline depends only on the seed, the preset and the frames before it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from visualizer.analysis.features import Features, FrameFeatures
from visualizer.mapping.classmix import ClassMixer
from visualizer.mapping.crossfade import min_segment
from visualizer.mapping.interpolate import Segmenter, boundaries, segments_offline
from visualizer.mapping.loop import close_loop
from visualizer.mapping.motion import LatentMotion
from visualizer.mapping.poses import PoseTrack
from visualizer.mapping.presets import Preset, check_seed, preset_to_toml
from visualizer.mapping.signals import Ema, ema_alpha, feature_rows, signal_of, zero_phase
from visualizer.mapping.timeline import Timeline
from visualizer.mapping.truncation import truncation_value
from visualizer.options import LATENT_SIZE, N_CLASSES
from visualizer.progress import ProgressCallback, report

# Signals smoothed per technique (each preset section's `feature`, smoothed with its `smoothing`)
SMOOTHED = ("breed", "truncation", "hallucinate", "zoom")


class Step(NamedTuple):
    """One frame's generator inputs (unpacks as ``classes, noise, truncation``)."""

    classes: np.ndarray  # float32 (1000,) >= 0
    noise: np.ndarray  # float32 (128,)
    truncation: float  # in [truncation.min, truncation.max]


@dataclass(frozen=True)
class Drives:
    """The smoothed signals, each in [0, 1], that set a technique's strength on one frame."""

    breed: float
    truncation: float
    hallucinate: float
    zoom: float


@dataclass(frozen=True)
class SegmentPosition:
    """Where a frame lies between keyframes: segment ``index`` and ``progress`` in [0, 1)."""

    index: int = 0
    progress: float = 0.0


class CausalMapper:
    """Frame-by-frame mapping with state; `step` returns a `Step`.

    ``noise / truncation`` follows the truncated normal in [-a, a] (a = ``preset.latent.bound``)
    at every frame (`visualizer.mapping.motion`).
    """

    def __init__(self, preset: Preset, *, seed: int | None = None, fps: Fraction | float) -> None:
        self.fps = Fraction(fps)
        self._fps = float(self.fps)
        self.seed = check_seed(preset.seed if seed is None else seed)
        rng = np.random.default_rng(self.seed)
        self._order = rng.permutation(N_CLASSES)
        self._motion = LatentMotion(rng, fps=self._fps)
        start = self._motion.home(preset.latent.bound)
        self._segmenter = Segmenter()
        self._chroma = Ema()
        self._emas = {name: Ema() for name in SMOOTHED}
        self._classes = ClassMixer(preset, order=self._order, fps=self._fps)
        self._poses = PoseTrack(preset, home=start.copy(), fps=self._fps)
        self.set_preset(preset)

    def set_preset(self, preset: Preset) -> None:
        """Use ``preset``'s values from the next frame on, keeping every piece of state."""
        self.preset = preset
        self._classes.set_preset(preset)
        self._poses.set_preset(preset)
        self._alpha_chroma = ema_alpha(preset.classes.smoothing, self._fps)
        self._alphas = {n: ema_alpha(getattr(preset, n).smoothing, self._fps) for n in SMOOTHED}
        times = [round(t * self._fps) for t in preset.keyframes.times]
        self._time_starts = np.array(sorted({0, *times}), dtype=np.int64)

    def step(self, frame: FrameFeatures) -> Step:
        """Map one frame (frames must come in order, one call per frame), causally."""
        p = self.preset
        chroma = frame.chroma
        if p.classes.mode == "chroma":
            chroma = self._chroma.step(chroma, self._alpha_chroma)
        values = {}
        for name in SMOOTHED:
            signal = signal_of(getattr(p, name).feature, frame)
            values[name] = self._emas[name].step(signal, self._alphas[name])
        segment = SegmentPosition()
        if p.classes.mode == "keyframes":
            k = p.keyframes
            index, progress = self._segmenter.step(
                frame.index,
                key=k.key,
                is_section_start=frame.is_section_start,
                is_beat=frame.is_beat,
                every=k.every,
                time_starts=self._time_starts,
                tempo=frame.tempo,
                fps=self._fps,
                guess=k.guess,
            )
            segment = SegmentPosition(index, progress)
        walk = signal_of(p.walk.feature, frame)
        return self.advance(frame, chroma, Drives(**values), walk, segment)

    def advance(
        self,
        frame: FrameFeatures,
        chroma: np.ndarray,
        drives: Drives,
        walk: float,
        segment: SegmentPosition,
    ) -> Step:
        """The shared per-frame core: ``chroma`` and ``drives`` already smoothed, ``walk`` the
        walk's signal in [0, 1], ``segment`` known (causally or with look-ahead)."""
        p = self.preset
        y = self._classes.step(frame, chroma, drives.breed, segment)
        z = self._motion.step(p, frame, walk, drives.hallucinate, drives.zoom)
        z = self._poses.step(frame, z)
        t = p.truncation
        truncation = truncation_value(drives.truncation, t.min, t.max, t.invert)
        noise = np.clip(z, -p.latent.bound, p.latent.bound) * truncation
        return Step(y, noise.astype(np.float32), truncation)


class _Rows:
    """The features as per-frame rows, equal to what `frame_features` gives, built at once."""

    def __init__(self, features: Features) -> None:
        n = features.n_frames
        self.chroma = features.chroma.T
        self.onset = features.onset_strength.tolist()
        self.energy = features.energy.tolist()
        self.rise = features.energy_rise.tolist()
        self.bands = features.bands.T
        self.is_onset = _mask(features.onsets, n)
        self.is_beat = _mask(features.beats, n)
        self.is_section = _mask(features.sections, n)
        self.tempo = float(features.tempo)

    def frame(self, i: int) -> FrameFeatures:
        return FrameFeatures(
            index=i,
            chroma=self.chroma[i],
            onset_strength=self.onset[i],
            is_onset=self.is_onset[i],
            energy=self.energy[i],
            energy_rise=self.rise[i],
            bands=self.bands[i],
            is_beat=self.is_beat[i],
            is_section_start=self.is_section[i],
            tempo=self.tempo,
        )


def _mask(frames: np.ndarray, n: int) -> list[bool]:
    mask = np.zeros(n, dtype=bool)
    frames = np.asarray(frames, dtype=np.int64)
    mask[frames[(frames >= 0) & (frames < n)]] = True
    return mask.tolist()


def build_timeline(
    features: Features,
    preset: Preset,
    *,
    seed: int | None = None,
    causal: bool = False,
    loop: bool = True,
    progress: ProgressCallback | None = None,
) -> Timeline:
    """Map a whole track to a Timeline (T = features.n_frames rows) at features.fps.

    ``seed`` defaults to ``preset.seed``. ``causal=True`` gives exactly what stepping a
    `CausalMapper` over the rows gives; the default smooths with zero phase and uses the exact
    keyframe segment ends (look-ahead), which is what an offline render wants, and closes the
    clip into a seamless loop when ``preset.loop.enabled``. ``loop=False`` leaves that to the
    caller, who may cut an excerpt first (`visualizer.mapping.loop.close_loop`).
    """
    mapper = CausalMapper(preset, seed=seed, fps=features.fps)
    n = features.n_frames
    rows = _Rows(features)
    classes = np.zeros((n, N_CLASSES), dtype=np.float32)
    noise = np.zeros((n, LATENT_SIZE), dtype=np.float32)
    truncation = np.zeros(n, dtype=np.float32)
    if causal:
        for i in range(n):
            classes[i], noise[i], truncation[i] = mapper.step(rows.frame(i))
    else:
        chroma, drives, segments = _look_ahead(mapper, features, preset)
        mapper._poses.plan(features)
        walk = feature_rows(features)[preset.walk.feature].tolist()
        for i in range(n):
            step = mapper.advance(rows.frame(i), chroma[i], drives[i], walk[i], segments[i])
            classes[i], noise[i], truncation[i] = step
    report(progress, "map", n, n, "frame")
    # The saved preset carries the seed actually used, so it alone reproduces the Timeline.
    used = preset_to_toml(dataclasses.replace(preset, seed=mapper.seed))
    timeline = Timeline(classes, noise, truncation, features.fps, mapper.seed, used)
    if loop and preset.loop.enabled and not causal:  # a loop needs the whole clip: never live
        return close_loop(timeline, preset.loop.seconds)
    return timeline


def _look_ahead(mapper: CausalMapper, features: Features, preset: Preset):
    """Zero-phase smoothed chroma (T, 12), `Drives` and exact `SegmentPosition` per frame."""
    n = features.n_frames
    signals = feature_rows(features)
    chroma = zero_phase(features.chroma, mapper._alpha_chroma).T
    smoothed = {
        name: zero_phase(signals[getattr(preset, name).feature], mapper._alphas[name]).tolist()
        for name in SMOOTHED
    }
    columns = (smoothed[name] for name in SMOOTHED)
    drives = [Drives(*values) for values in zip(*columns, strict=True)]
    k = preset.keyframes
    shortest = min_segment(preset.classes.crossfade, features.tempo, mapper._fps)
    starts = boundaries(
        k.key, n, sections=features.sections, beats=features.beats, every=k.every,
        times=k.times, fps=mapper._fps, min_gap=shortest,
    )  # fmt: skip
    segment, fraction = segments_offline(starts, n)
    pairs = zip(segment.tolist(), fraction.tolist(), strict=True)
    segments = [SegmentPosition(i, f) for i, f in pairs]
    return chroma, drives, segments
