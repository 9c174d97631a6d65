"""Musical time on the frame clock: beat and bar phase, phrases, sections on bar lines.

Everything here works on frame indices (int64, sorted, unique) of a T-frame track and is numpy
only, so the offline analysis, excerpts and test fixtures share one definition:

- the *beat count* of frame i is ``k + (i - b_k) / (b_{k+1} - b_k)`` between beats ``b_k`` and
  ``b_{k+1}``, extrapolated with the first (last) beat interval before the first (after the
  last) beat; ``beat_phase`` is its fractional part;
- ``bar_phase`` counts beats from the last downbeat, divided by the beats in that bar (the
  ``meter`` before the first and after the last downbeat): 0 on a downbeat, rising beat by beat,
  so it follows tempo changes inside the bar;
- phrases group bars: every section start that is a downbeat opens a phrase, and inside a
  section a new phrase opens every L bars counted from its first downbeat, L in {4, 8, 16}: the
  one whose length at the track's tempo is nearest PHRASE_SECONDS on a log scale (4 bars of a
  slow ballad, 8 bars of pop and dance music at 100-180 BPM, 16 bars of a fast waltz);
- the user may say where a bar begins (`anchor_bars`, ``--downbeat``): the whole bar grid then
  shifts by whole beats, so that the beat nearest that time is a downbeat.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from visualizer.analysis.features import Features
from visualizer.errors import FeaturesError

PHRASE_BARS = (4, 8, 16)
PHRASE_SECONDS = 12.0  # the length a phrase is nearest to, on a log scale
BELOW_ONE = np.nextafter(np.float32(1.0), np.float32(0.0))  # the largest float32 phase


def beat_count(beats: np.ndarray, n_frames: int) -> np.ndarray:
    """float64 (T,) beat count of every frame (0.0 on the first beat); zeros with < 2 beats."""
    beats = np.asarray(beats, np.int64)
    frames = np.arange(n_frames, dtype=np.float64)
    if beats.size < 2:
        return np.zeros(n_frames)
    k = np.clip(np.searchsorted(beats, frames, side="right") - 1, 0, beats.size - 2)
    start, stop = beats[k].astype(np.float64), beats[k + 1].astype(np.float64)
    # before the first beat (k = 0) and after the last one (k = B - 2) the nearest interval
    # goes on: the count runs negative before the first beat and past B - 1 after the last
    return k + (frames - start) / (stop - start)


def phase_of(count: np.ndarray) -> np.ndarray:
    """float32 fractional part of ``count``, in [0, 1) also after the float32 rounding."""
    phase = np.mod(count, 1.0).astype(np.float32)
    return np.minimum(phase, BELOW_ONE)


def beat_phase(beats: np.ndarray, n_frames: int) -> np.ndarray:
    """(T,) float32 in [0, 1): 0 on a beat frame, rising linearly to the next beat."""
    return phase_of(beat_count(beats, n_frames))


def bar_phase(beats: np.ndarray, downbeats: np.ndarray, meter: int, n_frames: int) -> np.ndarray:
    """(T,) float32 in [0, 1): 0 on a downbeat frame, rising beat by beat to the next one.

    ``downbeats`` must be a subset of ``beats``; zeros when there are fewer than 2 beats or no
    downbeat.
    """
    beats, downbeats = np.asarray(beats, np.int64), np.asarray(downbeats, np.int64)
    if beats.size < 2 or downbeats.size == 0 or meter <= 0:
        return np.zeros(n_frames, np.float32)
    count = beat_count(beats, n_frames)
    marks = np.searchsorted(beats, downbeats).astype(np.float64)  # beat counts of downbeats
    bar = np.searchsorted(marks, count, side="right") - 1  # the downbeat at or before
    inner = (bar >= 0) & (bar < marks.size - 1)
    index = np.clip(bar, 0, marks.size - 1)
    start = marks[index]
    length = np.where(inner, marks[np.minimum(index + 1, marks.size - 1)] - start, meter)
    start = np.where(bar < 0, marks[0], start)  # before the first downbeat: count back
    return phase_of((count - start) / length)


def bars_per_phrase(tempo: float, meter: int) -> int:
    """The phrase length in bars (one of PHRASE_BARS) for ``tempo`` BPM and ``meter``."""
    if tempo <= 0 or meter <= 0:
        return PHRASE_BARS[0]
    bar_seconds = 60.0 * meter / tempo
    return min(PHRASE_BARS, key=lambda n: abs(math.log(n * bar_seconds / PHRASE_SECONDS)))


def snap_sections(sections: np.ndarray, downbeats: np.ndarray, fps: float) -> np.ndarray:
    """Section starts (frames, 0 first) moved onto the nearest downbeat; (S,) int64, 0 first.

    Without downbeats the starts stay as they are. A start that lands within a bar of frame 0
    merges into the first section (no section a bar long at the start).
    """
    sections, downbeats = np.asarray(sections, np.int64), np.asarray(downbeats, np.int64)
    if downbeats.size == 0:
        return np.unique(np.concatenate([[0], sections])).astype(np.int64)
    bar = float(np.median(np.diff(downbeats))) if downbeats.size > 1 else fps
    inner = sections[sections > 0]
    right = np.clip(np.searchsorted(downbeats, inner), 0, downbeats.size - 1)
    left = np.clip(right - 1, 0, downbeats.size - 1)
    nearer = np.abs(downbeats[left] - inner) <= np.abs(downbeats[right] - inner)
    snapped = np.where(nearer, downbeats[left], downbeats[right])
    snapped = snapped[snapped >= 0.75 * bar]
    return np.unique(np.concatenate([[0], snapped])).astype(np.int64)


def phrase_starts(
    downbeats: np.ndarray, sections: np.ndarray, *, tempo: float, meter: int
) -> np.ndarray:
    """(P,) int64 frames where phrases start, a subset of ``downbeats`` (see the module text)."""
    downbeats, sections = np.asarray(downbeats, np.int64), np.asarray(sections, np.int64)
    if downbeats.size == 0:
        return np.zeros(0, np.int64)
    size = bars_per_phrase(tempo, meter)
    # the downbeat index each section's phrases count from: its first downbeat
    firsts = np.unique(np.searchsorted(downbeats, sections))
    firsts = firsts[firsts < downbeats.size]
    if firsts.size == 0 or firsts[0] != 0:
        firsts = np.concatenate([[0], firsts])
    index = np.arange(downbeats.size)
    owner = firsts[np.searchsorted(firsts, index, side="right") - 1]
    return downbeats[(index - owner) % size == 0].astype(np.int64)


def musical_time(
    beats: np.ndarray,
    downbeats: np.ndarray,
    meter: int,
    sections: np.ndarray,
    *,
    n_frames: int,
    tempo: float,
) -> dict:
    """The musical-time fields of `Features` from its beats, downbeats, meter and sections.

    Returns ``downbeats``, ``meter`` (0 without beats), ``beat_phase`` and ``bar_phase`` (T,)
    and ``phrases`` (P,), ready to pass on to the `Features` constructor.
    """
    beats, downbeats = np.asarray(beats, np.int64), np.asarray(downbeats, np.int64)
    if beats.size == 0:
        downbeats, meter = np.zeros(0, np.int64), 0
    return {
        "downbeats": downbeats,
        "meter": int(meter),
        "beat_phase": beat_phase(beats, n_frames),
        "bar_phase": bar_phase(beats, downbeats, meter, n_frames),
        "phrases": phrase_starts(downbeats, sections, tempo=tempo, meter=meter),
    }


def downbeats_among(beats: np.ndarray, marks: np.ndarray) -> tuple[np.ndarray, int]:
    """(downbeats, meter) from a tracker's downbeat ``marks``: each mark moved to its nearest
    beat (both sorted int64 in one unit); the meter is the commonest number of beats per bar
    (3 or 4 when tied, 0 without marks)."""
    beats, marks = np.asarray(beats, np.int64), np.asarray(marks, np.int64)
    if beats.size == 0 or marks.size == 0:
        return np.zeros(0, np.int64), 0 if beats.size == 0 else 4
    right = np.clip(np.searchsorted(beats, marks), 0, beats.size - 1)
    left = np.clip(right - 1, 0, beats.size - 1)
    index = np.where(np.abs(beats[left] - marks) <= np.abs(beats[right] - marks), left, right)
    index = np.unique(index)
    lengths = np.diff(index)
    meter = int(np.bincount(lengths).argmax()) if lengths.size else 4
    return beats[index], meter if meter > 0 else 4


def every_nth_beat(beats: np.ndarray, meter: int, offset: int = 0) -> np.ndarray:
    """Downbeats as every ``meter``-th beat from beat ``offset``: (D,) int64, a subset of beats."""
    beats = np.asarray(beats, np.int64)
    if beats.size == 0 or meter <= 0:
        return np.zeros(0, np.int64)
    return beats[offset % meter :: meter].copy()


def check_anchor(seconds: object) -> float:
    """``seconds`` (``--downbeat``: where a bar begins, seconds into the whole track file) as a
    float; FeaturesError unless it is a finite number >= 0 (the track's length is checked by
    `anchor_bars`, once the track is analysed)."""
    value = math.nan  # not a number: refused below
    if isinstance(seconds, numbers.Real) and not isinstance(seconds, bool):
        value = float(seconds)
    if not 0 <= value < math.inf:  # NaN fails the comparison too
        raise FeaturesError(
            f"invalid --downbeat {seconds!r}: expected the seconds into the track (from its "
            "start, not from --start) where a bar begins, a number >= 0 such as 12.48"
        )
    return value


def anchor_bars(features: Features, seconds: float) -> Features:
    """``features`` (a whole track's) with its bar grid shifted so that the beat nearest
    ``seconds`` is a downbeat: every downbeat moves k beats later, k >= 0 the beats from the
    bar line at or before that beat to it (below the meter, unless the analysis made that bar
    longer), so the analysis's meter and bar lengths stay. Section starts on downbeats move with
    them (frame 0 stays); phrases and ``bar_phase`` are recomputed (`musical_time`). The
    identity when that beat is a downbeat already.

    Bar lines before the first (after the last) downbeat count ``meter`` beats, as `bar_phase`
    counts there; those between the chosen beat and the grid become downbeats too, so a beat
    in a part the analysis left without bar lines can be the one. FeaturesError when
    ``seconds`` lies past the track's end or the analysis found no beats or no bar lines.
    """
    if check_anchor(seconds) > features.duration:
        raise FeaturesError(
            f"invalid --downbeat {seconds:g}: past the end of the track; expected seconds from "
            f"0 to {features.duration:.2f}"
        )
    beats, meter = features.beats, features.meter
    if beats.size == 0 or features.downbeats.size == 0:
        found = "no beats" if beats.size == 0 else "beats but no bar lines"
        raise FeaturesError(
            f"--downbeat {seconds:g}: the analysis found {found} in this track, so there is no "
            "bar grid to move (leave --downbeat out, or try --beats beat-this)"
        )
    chosen = int(np.argmin(np.abs(beats - seconds * float(features.fps))))  # a beat index
    marks = np.searchsorted(beats, features.downbeats)  # beat indices of the downbeats
    lead = marks[0] - meter * np.arange(marks[0] // meter + 1, 0, -1)  # down to < 0
    tail = marks[-1] + meter * np.arange(1, (beats.size - marks[-1]) // meter + 2)  # to >= B
    grid = np.concatenate([lead, marks, tail])
    shift = chosen - int(grid[np.searchsorted(grid, chosen, side="right") - 1])
    # the real bar lines, and the counted ones from the chosen beat to the nearest real one
    moved = np.concatenate([lead[lead + shift >= chosen], marks, tail[tail + shift <= chosen]])
    moved += shift
    downbeats = beats[moved[(moved >= 0) & (moved < beats.size)]]
    return dataclasses.replace(features, **shifted_time(features, downbeats, shift))


def shifted_time(features: Features, downbeats: np.ndarray, shift: int) -> dict:
    """The `Features` fields of musical time once the bar grid has moved ``shift`` beats later,
    to ``downbeats`` (frames): the sections on its bar lines moved alike, and `musical_time`."""
    beats, sections = features.beats, features.sections
    on_bar = np.isin(sections, features.downbeats) & (sections > 0)
    index = np.searchsorted(beats, sections[on_bar]) + shift
    moved = beats[index[index < beats.size]]
    sections = np.unique(np.concatenate([[0], sections[~on_bar], moved])).astype(np.int64)
    musical = musical_time(
        beats, downbeats, features.meter, sections, n_frames=features.n_frames, tempo=features.tempo
    )
    return {"sections": sections, **musical}
