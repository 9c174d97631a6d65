"""The mapping stage: features + preset + seed -> per-frame generator inputs.

One implementation serves both modes. `CausalMapper` consumes one `FrameFeatures` row at a time
and keeps every technique's state (latent walk, pulse, rotation phase, smoothing, segment and
section counters), as live mode needs. `build_timeline` runs the same per-frame code over a whole
track: with ``causal=True`` it is exactly the frame-by-frame stepping; by default it first
smooths each technique's signal with zero phase and lets techniques plan with the whole track
(exact keyframe and pose segment ends: look-ahead), so the offline curves have no smoothing lag
and keyframe segments end exactly on their class.

The techniques and their order come from `visualizer.mapping.registry`; the stages are described
in `visualizer.mapping.technique`. Random draws: each technique draws only from its own stream,
``stream(seed, name)``, at construction and, frame by frame, as it goes (the walk's next
circles); the home latent the latent chain starts from comes from the stream named "latent". So
a Timeline depends only on the seed, the preset and the frames before it, and adding or removing
a technique leaves every other technique's draws as they were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

from visualizer.analysis.features import Features, FrameFeatures
from visualizer.errors import StemError
from visualizer.mapping.classmix import ClassStage
from visualizer.mapping.lfo import lfos, modulate
from visualizer.mapping.loop import close_loop
from visualizer.mapping.motion import LatentStage
from visualizer.mapping.musical import Count
from visualizer.mapping.presets import Preset, check_seed, preset_to_toml
from visualizer.mapping.registry import TECHNIQUES
from visualizer.mapping.routing import missing_source, sources_read, split_signal
from visualizer.mapping.signals import Ema, ema_alpha, feature_rows, signal_of, zero_phase
from visualizer.mapping.stand_in import StandIn, stand_in_features
from visualizer.mapping.technique import STAGES, Frame, Setup, stream
from visualizer.mapping.timeline import Timeline
from visualizer.options import DERIVED_STEMS, LATENT_SIZE, N_CLASSES
from visualizer.progress import ProgressCallback, report


class Step(NamedTuple):
    """One frame's generator inputs (unpacks as ``classes, noise, truncation``)."""

    classes: np.ndarray  # float32 (1000,) >= 0
    noise: np.ndarray  # float32 (128,)
    truncation: float  # in (0, 1]: [truncation.min, truncation.max] with the built-ins


class CausalMapper:
    """Frame-by-frame mapping with state; `step` returns a `Step`.

    ``noise / truncation`` follows the truncated normal in [-a, a] (a = ``preset.latent.bound``)
    at every frame (`visualizer.mapping.motion`).
    """

    def __init__(
        self,
        preset: Preset,
        *,
        seed: int | None = None,
        fps: Fraction | float,
        stems: Collection[str] = (),
    ) -> None:
        self.fps = Fraction(fps)
        self._fps = float(self.fps)
        self.seed = check_seed(preset.seed if seed is None else seed)
        home = stream(self.seed, "latent").standard_normal(LATENT_SIZE)
        home.setflags(write=False)  # shared by the techniques: none may change it in place
        self.techniques = [
            technique(Setup(stream(self.seed, technique.name), self._fps, home))
            for technique in TECHNIQUES
        ]
        staged = {stage: [t for t in self.techniques if t.stage == stage] for stage in STAGES}
        self._classes = ClassStage(staged["classes"], fps=self._fps)
        self._latent = LatentStage(staged["latent"], staged["pose"], home=home)
        self._truncation = staged["truncation"]
        self._emas = {t.name: Ema() for t in self.techniques}
        # `step` is given the rows of ``stems``; the other stems the preset may read are stood
        # in for, stepped on every frame so their state never depends on what the preset reads
        self.stems = tuple(stems)
        self._stand_ins = {n: StandIn(n, self._fps) for n in DERIVED_STEMS if n not in stems}
        self._sections: dict[str, int] = {}  # sections started so far, per source
        # Musical time for the preset's LFOs, counted on every frame (an LFO added live finds
        # the count right): beats and bars from the rows' phases and flags.
        self._beats, self._bars = Count(), Count()
        self._counted = -1  # the last row counted
        self.set_preset(preset)

    def set_preset(self, preset: Preset) -> None:
        """Use ``preset``'s values from the next frame on, keeping every piece of state; its
        LFOs (`visualizer.mapping.lfo`) move its keys frame by frame from then on."""
        self._base, self._lfos = preset, lfos(preset)
        self._use(preset)

    def _use(self, preset: Preset) -> None:
        self.preset = preset
        for technique in self.techniques:
            if technique.stage != "classes":  # the class stage hands them theirs (quantised)
                technique.set_preset(preset)
        self._classes.set_preset(preset)
        self.reads = sources_read(preset)  # the sources its keys name
        # (technique name, feature, EMA weight) of each technique that follows a signal
        self.drives = [
            (t.name, drive.feature, ema_alpha(drive.smoothing, self._fps))
            for t in self.techniques
            if (drive := t.drive(getattr(preset, t.name))) is not None
        ]

    def step(self, frame: FrameFeatures, stems: Mapping[str, FrameFeatures] | None = None) -> Step:
        """Map one frame (frames must come in order, one call per frame), causally. ``stems``:
        the rows of the stems named at construction, for the same frame."""
        self._follow_lfos(frame)
        sources = {"mix": frame, **(stems or {})}
        for name, stand_in in self._stand_ins.items():
            sources[name] = stand_in.step(frame)
        self._check(sources)  # before the drives read them
        drives = {
            name: self._emas[name].step(signal_of(feature, sources), alpha)
            for name, feature, alpha in self.drives
        }
        return self.advance(frame, drives, sources)

    def advance(
        self,
        row: FrameFeatures,
        drives: dict[str, Any],
        sources: Mapping[str, FrameFeatures] | None = None,
    ) -> Step:
        """The shared per-frame core: ``drives`` holds each technique's signal, already
        smoothed (causally or with zero phase); ``sources`` each source's row (the mix's,
        ``row``, when None)."""
        self._follow_lfos(row)
        sources = sources if sources is not None else {"mix": row}
        if sources.keys() != self.reads.keys():
            self._check(sources)
        for name, source in sources.items():
            started = source.is_section_start and source.index > 0
            self._sections[name] = self._sections.get(name, 0) + started
        frame = Frame(row, drives, self._sections["mix"], sources, dict(self._sections))
        bound = self.preset.latent.bound
        y = self._classes.step(frame)
        u = self._latent.step(frame, bound)
        truncation = 1.0
        for technique in self._truncation:
            truncation = technique.step(frame, truncation)
        noise = np.clip(u, -bound, bound) * truncation
        return Step(y, noise.astype(np.float32), truncation)

    def _check(self, sources: Mapping[str, FrameFeatures]) -> None:
        """StemError before a frame maps without a source the preset reads."""
        missing = [name for name in self.reads if name not in sources]
        if missing:
            raise StemError(
                missing_source(self.preset, sources)
                or f"no row of the {missing[0]} stem at frame {sources['mix'].index}"
            )

    def _follow_lfos(self, row: FrameFeatures) -> None:
        """Count ``row``'s musical time once, and map it with the preset its LFOs make of the
        base preset at that time (the same offline and live: both read the rows' phases)."""
        if row.index == self._counted:
            return
        self._counted = row.index
        beat = self._beats.step(row.beat_phase, row.is_beat)
        bar = self._bars.step(row.bar_phase, row.is_downbeat)
        if self._lfos:
            self._use(modulate(self._base, self._lfos, beat, bar))


class Rows:
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
        self.beat_phase = features.beat_phase.tolist()
        self.bar_phase = features.bar_phase.tolist()
        self.is_downbeat = _mask(features.downbeats, n)
        self.is_phrase = _mask(features.phrases, n)
        self.meter = int(features.meter)

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
            beat_phase=self.beat_phase[i],
            bar_phase=self.bar_phase[i],
            is_downbeat=self.is_downbeat[i],
            is_phrase_start=self.is_phrase[i],
            meter=self.meter,
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
    stems: Mapping[str, Features] | None = None,
) -> Timeline:
    """Map a whole track to a Timeline (T = features.n_frames rows) at features.fps.

    ``seed`` defaults to ``preset.seed``. ``causal=True`` gives exactly what stepping a
    `CausalMapper` over the rows gives; the default smooths with zero phase and lets the
    techniques look ahead (exact keyframe and pose segment ends), which is what an offline
    render wants, and closes the clip into a seamless loop when ``preset.loop.enabled``.
    ``loop=False`` leaves that to the caller, who may cut an excerpt first
    (`visualizer.mapping.loop.close_loop`). ``stems``: the Features of each stem given (name ->
    Features on the same frames); a stem the preset reads that is not among them is stood in
    for (`visualizer.mapping.stand_in`), or, when it has no stand-in, a StemError.
    """
    given = dict(stems or {})
    mapper = CausalMapper(preset, seed=seed, fps=features.fps, stems=given)
    n = features.n_frames
    sources = _sources(mapper, features, given, causal)
    rows = {name: Rows(source) for name, source in sources.items()}
    classes = np.zeros((n, N_CLASSES), dtype=np.float32)
    noise = np.zeros((n, LATENT_SIZE), dtype=np.float32)
    truncation = np.zeros(n, dtype=np.float32)
    if causal:
        for i in range(n):
            stepped = {name: rows[name].frame(i) for name in given}
            classes[i], noise[i], truncation[i] = mapper.step(rows["mix"].frame(i), stepped)
    else:
        for technique in mapper.techniques:
            technique.plan(features)
        columns = _look_ahead(mapper, sources)
        for i in range(n):
            drives = {name: column[i] for name, column in columns.items()}
            row = {name: source.frame(i) for name, source in rows.items()}
            classes[i], noise[i], truncation[i] = mapper.advance(row["mix"], drives, row)
    report(progress, "map", n, n, "frame")
    # The saved preset carries the seed actually used, so it alone reproduces the Timeline.
    used = preset_to_toml(dataclasses.replace(preset, seed=mapper.seed))
    timeline = Timeline(classes, noise, truncation, features.fps, mapper.seed, used)
    if loop and preset.loop.enabled and not causal:  # a loop needs the whole clip: never live
        return close_loop(timeline, preset.loop.seconds)
    return timeline


def _sources(
    mapper: CausalMapper, features: Features, given: dict[str, Features], causal: bool
) -> dict[str, Features]:
    """The Features of each source the mapping reads: the mix, the stems given (all of them
    when ``causal``: the mapper steps them), and offline the stand-ins of the stems read and
    not given (causally the mapper derives those itself)."""
    for name, stem in given.items():
        if stem.n_frames != features.n_frames:
            raise ValueError(f"stem {name} has {stem.n_frames} frames, the mix {features.n_frames}")
    if causal:
        return {"mix": features, **given}
    missing = missing_source(mapper.preset, given)
    if missing:
        raise StemError(missing)
    chosen = {"mix": features}
    for name in mapper.reads:
        if name != "mix":
            chosen[name] = given[name] if name in given else stand_in_features(features, name)
    return chosen


def _look_ahead(mapper: CausalMapper, sources: dict[str, Features]) -> dict[str, Any]:
    """Each technique's signal over the whole track, smoothed with zero phase (no lag): a list
    of floats (T,) for a scalar signal, a (T, 12) array for chroma."""
    signals = {name: feature_rows(features) for name, features in sources.items()}
    columns: dict[str, Any] = {}
    for name, feature, alpha in mapper.drives:
        source, plain = split_signal(feature)
        smoothed = zero_phase(signals[source][plain], alpha)
        columns[name] = smoothed.T if smoothed.ndim > 1 else smoothed.tolist()
    return columns
