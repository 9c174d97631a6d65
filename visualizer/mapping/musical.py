"""Musical time for the techniques: counting beats, bars and phrases, and changes that wait for
the next one.

The analysis gives every frame its beat and bar phase ([0, 1), 0 on a beat / downbeat) and its
flags (`is_beat`, `is_downbeat`, `is_phrase_start`, `is_section_start`): offline from the whole
track, live from the causal beat clock (`visualizer.analysis.features.FrameFeatures`). The
techniques count in those units here, from the rows alone, so they step the same way offline and
live and land on the frames the analysis marks:

- `Count`: a running count of beats or bars, a whole number exactly on a flagged frame;
- `Cycle`: where a cyclic motion (a rotation, a morph) is, in cycles of N beats or bars, locked to
  that count, or timed in seconds while no beats are known;
- `Quantizer` and `on_grid`: a change waits for the next beat, bar, phrase or section;
- `unit_frames`, `grid_frames` and `snap`: the same boundaries offline, from the track's arrays.

Without beats (tempo 0) nothing waits and cycles run in seconds; with beats but no downbeats a bar
counts `meter` beats and bar quantisation does not wait.
"""

from __future__ import annotations

import math

import numpy as np

from visualizer.analysis.features import Features, FrameFeatures

# What `quantize` allows: a change waits for the next such boundary ("none": it happens at once).
QUANTIZE = ("none", "beat", "bar", "phrase", "section")
# What starts a keyframe or pose segment: every `every` sections / beats / bars / phrases, or times.
KEYS = ("sections", "beats", "bars", "phrases", "times")
# Per unit (singular or plural): the row's flag and the Features array of its frames.
FLAGS = {"beat": "is_beat", "bar": "is_downbeat", "phrase": "is_phrase_start"}
FLAGS |= {"section": "is_section_start"}
ARRAYS = {"beat": "beats", "bar": "downbeats", "phrase": "phrases", "section": "sections"}
# The FrameFeatures fields musical time reads (a technique's `reads`).
READS: tuple[str, ...] = ("is_beat", "is_downbeat", "is_phrase_start", "is_section_start")
READS += ("beat_phase", "bar_phase", "tempo", "meter")
RELOCK_SECONDS = 1.0  # a live cycle glides into the bar's phase over about this long


def singular(unit: str) -> str:
    """ "bars" -> "bar" (a KEYS word to its QUANTIZE word); singular words stay."""
    return unit[:-1] if unit.endswith("s") else unit


def beats_known(row: FrameFeatures) -> bool:
    """Has the frame a beat grid (a tempo and a meter)?"""
    return row.tempo > 0 and row.meter > 0


def bars_known(row: FrameFeatures) -> bool:
    """Has the frame a bar grid? The bar phase is 0 only on a downbeat when there are bars."""
    return beats_known(row) and (row.is_downbeat or row.bar_phase > 0)


def on_grid(row: FrameFeatures, quantize: str) -> bool:
    """May a change quantised to ``quantize`` happen at ``row``? Its flag, or no such grid."""
    if quantize == "none":
        return True
    flag = bool(getattr(row, FLAGS[quantize]))
    if quantize == "section":
        return flag
    if not beats_known(row):
        return True  # no beats: a change never waits for one
    return flag or (quantize != "beat" and not bars_known(row))


def unit_frames(features: Features, unit: str) -> np.ndarray:
    """(N,) int64 frames of ``unit`` ("beat(s)", "bar(s)", "phrase(s)", "section(s)")."""
    return np.asarray(getattr(features, ARRAYS[singular(unit)]), np.int64)


def grid_frames(features: Features, quantize: str) -> np.ndarray | None:
    """Sorted frames where a change quantised to ``quantize`` may happen (`on_grid` of every
    row, computed at once), or None when every frame may ("none")."""
    n = features.n_frames
    if quantize == "none":
        return None
    mask = np.zeros(n, bool)
    mask[unit_frames(features, quantize)] = True
    if quantize != "section":
        if not (features.tempo > 0 and features.meter > 0):
            return np.arange(n, dtype=np.int64)
        if quantize != "beat":
            downbeat = np.zeros(n, bool)
            downbeat[features.downbeats] = True
            mask |= ~(downbeat | (features.bar_phase > 0))
    return np.flatnonzero(mask).astype(np.int64)


def snap(starts: np.ndarray, grid: np.ndarray | None) -> np.ndarray:
    """Each start moved to the first grid frame at or after it (those after the last one go)."""
    starts = np.asarray(starts, np.int64)
    if grid is None:
        return starts
    index = np.searchsorted(grid, starts, side="left")
    return grid[index[index < grid.size]]


class Quantizer:
    """Changes that wait for the grid: `step` releases them on the first frame `on_grid`."""

    def __init__(self) -> None:
        self.waiting = 0  # changes asked for and not yet released

    def step(self, row: FrameFeatures, quantize: str, events: int) -> int:
        """How many changes happen at ``row``: the waiting ones and ``events`` new ones, all at
        once when the row is on the grid, else none (they wait)."""
        self.waiting += events
        if self.waiting and on_grid(row, quantize):
            released, self.waiting = self.waiting, 0
            return released
        return 0


class Count:
    """A running count of beats or bars from the rows' phase and flag.

    A flag, or the phase wrapping round (before the first and after the last beat the analysis
    extrapolates the phase), adds one, once per unit (a live clock may flag a downbeat a frame
    after its phase wrapped: the count waits for the phase to pass one half before it counts
    again); the phase adds the fraction. So the count rises with the phase through tempo changes
    and is a whole number exactly on a flagged frame offline. A live clock that steps back over
    a beat takes one off; rows whose phase stays 0 count their flags.
    """

    def __init__(self) -> None:
        self.whole = 0
        self._last: float | None = None
        self._armed = False  # the phase passed one half since the last unit was counted

    def step(self, phase: float, flag: bool) -> float:
        last = self._last
        if last is not None:
            stuck = phase == last == 0.0  # rows without a phase: each flag is a new unit
            if (flag or phase < last - 0.5) and (self._armed or stuck):
                self.whole += 1
                self._armed = False
            elif phase > last + 0.5:
                self.whole -= 1
        self._armed = self._armed or phase >= 0.5
        self._last = phase
        return self.whole + phase


def per(beats: float, bars: float) -> tuple[str, float]:
    """(unit, units per cycle) of a section with both keys: ``bars`` when > 0, else ``beats``."""
    return ("bars", bars) if bars > 0 else ("beats", beats)


class Cycle:
    """Where a cyclic motion is, in cycles of ``every`` beats or bars (a float).

    With beats the position is the beat or bar `Count` divided by ``every``: a whole number of
    cycles on the bar lines (for bars), so it stays in phase through tempo changes. While no beats
    are known a cycle takes ``seconds``. When the source changes (live: the clock finds the beat)
    the position carries on at the tempo's pace from where it was, then glides into phase (within
    half and one and a half times the music's pace, over about RELOCK_SECONDS) instead of jumping.
    Offline it starts locked and stays exact.
    """

    def __init__(self, fps: float) -> None:
        self._fps = fps
        self._beats, self._bars = Count(), Count()
        self.position: float | None = None
        self._offset = 0.0  # cycles between the position and the count (live relocking)
        self._source = ""
        self._locked = 0.0  # the count's position at the last frame

    def step(self, row: FrameFeatures, unit: str, every: float, seconds: float) -> float:
        """The position (cycles) at ``row``; frames come in order, one call each."""
        beats = self._beats.step(row.beat_phase, row.is_beat)
        bars = self._bars.step(row.bar_phase, row.is_downbeat)
        previous = self.position
        if not beats_known(row):
            self._source = "seconds"
            step = 1.0 / (seconds * self._fps)
            self.position = 0.0 if previous is None else previous + step
            return self.position
        source = "bars" if unit == "bars" and bars_known(row) else "beats"
        per_cycle = every * (row.meter if unit == "bars" and source == "beats" else 1)
        locked = (bars if source == "bars" else beats) / per_cycle
        if previous is None:
            self._offset = 0.0
        elif source != self._source:  # carry on at the tempo's pace
            beats_per_unit = row.meter if source == "bars" else 1
            pace = row.tempo / 60.0 / self._fps / (per_cycle * beats_per_unit)
            self._offset = previous + pace - locked
        elif self._offset:
            self._offset = self._relock(self._offset, locked - self._locked)
        self._source, self._locked = source, locked
        self.position = locked + self._offset
        return self.position

    def _relock(self, offset: float, pace: float) -> float:
        """The offset moved towards the nearest whole cycle (exactly there once close)."""
        target = round(offset)
        alpha = 1.0 - math.exp(-1.0 / (RELOCK_SECONDS * self._fps))
        limit = 0.5 * max(pace, 0.0)
        offset += min(limit, max(-limit, (target - offset) * alpha))
        return float(target) if abs(target - offset) < 1e-3 else offset


def describe(unit: str, every: float) -> str:
    """ "every bar", "every 4 beats", "every 0.5 bars": a count of a unit in words."""
    name = singular(unit)
    return f"every {name}" if every == 1 else f"every {every:g} {name}s"
