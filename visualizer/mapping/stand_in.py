"""Stand-ins: a stem the preset reads but that was not given, derived from the mix.

A preset that reads ``drums.onsets`` or ``bass.energy`` maps a track alone too: the four stems
a separator writes (`visualizer.options.DERIVED_STEMS`) each have a stand-in made from the mix's
rows, frame by frame and causally, so the offline mapping (`stand_in_features`, over the whole
track) and live mode (`StandIn.step`, one frame at a time) derive the same values (kept as
float32, the Features' type):

- drums, the percussive part: the mix's onsets and their strength (the analysis finds onsets in
  the percussive part of its HPSS); its energy is that strength, held and decaying over
  DRUM_HOLD_S; its rise the strength itself;
- bass, the low band (< 200 Hz): its energy is the band's; its rise is how much the band grew
  over RISE_S (times RISE_GAIN, in [0, 1]), which is also its onset strength, and an onset
  starts where the rise first reaches ONSET_RISE (at most one per ONSET_GAP_S);
- vocals, the mid band (200 Hz - 2 kHz), the same way;
- other, the harmonic part: the mix's chroma (the analysis takes it from the harmonic part of
  its HPSS), energy and rise; no onsets (the percussive ones are the drums').

Everything else (chroma, bands, beats, bars, sections, tempo) is the mix's: the song's. A stand-in
is a guess: a loud bass line also makes onsets in the mix, which real stems keep apart
(BENCHMARKS.md, "Stems").
"""

from __future__ import annotations

import collections
import dataclasses
import math

import numpy as np

from visualizer.analysis.features import Features, FrameFeatures

# What each stand-in is made of, in words (`visualizer analyze --stems` and the README say it).
MADE_OF = {
    "drums": "the mix's percussive onsets",
    "bass": "the mix's low band",
    "vocals": "the mix's mid band",
    "other": "the mix's harmonic chroma",
}
DRUM_HOLD_S = 0.2  # the drums' energy: each onset's strength falls to 1/e over this long
RISE_S = 0.1  # a band's rise: its growth over this long
RISE_GAIN = 4.0  # growth by a quarter of the band's range within RISE_S is a full rise
ONSET_RISE = 0.3  # a rise this strong starts an onset
ONSET_GAP_S = 0.1  # at most one onset this often
BAND = {"bass": 0, "vocals": 1}


class StandIn:
    """The stand-in of stem ``name`` (one of MADE_OF), stepped over the mix's rows in order."""

    def __init__(self, name: str, fps: float) -> None:
        if name not in MADE_OF:
            raise ValueError(f"no stand-in for {name!r}: only for {', '.join(MADE_OF)}")
        self.name = name
        lag = max(1, round(RISE_S * fps))
        self._levels: collections.deque[float] = collections.deque(maxlen=lag + 1)
        self._gap = max(1, round(ONSET_GAP_S * fps))
        self._decay = math.exp(-1.0 / (DRUM_HOLD_S * fps))
        self._held = 0.0  # the drums' held onset strength
        self._above = False  # the band's rise was at ONSET_RISE or more on the last frame
        self._last_onset: int | None = None

    def values(
        self, index: int, energy: float, rise: float, strength: float, onset: bool, band: float
    ) -> tuple[float, float, float, bool]:
        """(energy, rise, onset strength, is onset) of frame ``index`` from the mix's values
        there (``band``: the stem's band energy: low for bass, mid for vocals)."""
        if self.name == "drums":
            self._held = max(strength, self._held * self._decay)
            return _f32(self._held), _f32(strength), _f32(strength), onset
        if self.name == "other":
            return _f32(energy), _f32(rise), 0.0, False
        self._levels.append(band)
        grown = min(1.0, max(0.0, RISE_GAIN * (band - self._levels[0])))
        gap = self._last_onset is None or index - self._last_onset >= self._gap
        starts = grown >= ONSET_RISE and not self._above and gap
        self._above = grown >= ONSET_RISE
        if starts:
            self._last_onset = index
        return _f32(band), _f32(grown), _f32(grown), starts

    def step(self, row: FrameFeatures) -> FrameFeatures:
        """The stand-in's row at the mix's ``row`` (frames in order, one call each)."""
        band = float(row.bands[BAND[self.name]]) if self.name in BAND else 0.0
        energy, rise, strength, onset = self.values(
            row.index, row.energy, row.energy_rise, row.onset_strength, row.is_onset, band
        )
        return dataclasses.replace(
            row, energy=energy, energy_rise=rise, onset_strength=strength, is_onset=onset
        )


def _f32(value: float) -> float:
    return float(np.float32(value))


def stand_in_features(features: Features, name: str) -> Features:
    """The whole track's Features of the stand-in ``name`` (the rows `StandIn.step` gives)."""
    stand_in = StandIn(name, float(features.fps))
    onsets = np.zeros(features.n_frames, dtype=bool)
    onsets[features.onsets] = True
    band = features.bands[BAND.get(name, 0)].tolist()
    columns = zip(
        features.energy.tolist(),
        features.energy_rise.tolist(),
        features.onset_strength.tolist(),
        onsets.tolist(),
        band,
        strict=True,
    )
    rows = [stand_in.values(i, *values) for i, values in enumerate(columns)]
    energy, rise, strength, flags = (np.asarray(column) for column in zip(*rows, strict=True))
    return dataclasses.replace(
        features,
        energy=energy.astype(np.float32),
        energy_rise=rise.astype(np.float32),
        onset_strength=strength.astype(np.float32),
        onsets=np.flatnonzero(flags.astype(bool)).astype(np.int64),
    )
