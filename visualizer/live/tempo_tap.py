"""Tempo source ``tap``: the tempo of the last taps (a button, a key, a pad, an OSC message).

The period is the median interval of the last 8 taps; a pause longer than `TAP_RESET_S` starts a
new sequence. Each tap lands on the nearest whole beat of the grid, which it re-anchors, so taps
set the phase as well as the tempo. x2 and /2 halve or double the period.
"""

from __future__ import annotations

import threading

from visualizer.live.tempo import Grid, TempoSource, check_bpm

TAP_RESET_S = 2.0  # a pause longer than this starts a new tap sequence
TAPS_KEPT = 8


class TapTempo(TempoSource):
    name = "tap"
    summary = "the tempo you tap"
    owns_tempo = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taps: list[float] = []  # monotonic times of the current sequence
        self.period = 0.0  # seconds per beat (0: fewer than two taps so far)
        self._anchor = (0.0, 0)  # (monotonic time, whole beat) of the last tap

    @property
    def bpm(self) -> float:
        return 60.0 / self.period if self.period > 0 else 0.0

    def tap(self, at: float) -> None:
        with self._lock:
            if self.taps and not 0 < at - self.taps[-1] <= TAP_RESET_S:
                self.taps = []
            if not self.taps:
                beat = 0  # a new sequence
            elif self.period > 0:
                beat = round(self._position(at))
            else:
                beat = self._anchor[1] + 1  # the second tap
            self.taps = [*self.taps[-(TAPS_KEPT - 1) :], at]
            if len(self.taps) >= 2:
                intervals = sorted(b - a for a, b in zip(self.taps, self.taps[1:], strict=False))
                self.period = intervals[len(intervals) // 2]
                beat = max(beat, self._anchor[1] + 1) if len(self.taps) > 1 else beat
            self._anchor = (at, beat)

    def clear(self) -> None:
        with self._lock:
            self.taps, self.period = [], 0.0

    def _position(self, at: float) -> float:
        anchor_at, beat = self._anchor
        return beat + (at - anchor_at) / self.period

    def reading(self, at: float) -> Grid | None:
        with self._lock:
            if self.period <= 0:
                return None
            return Grid(self._position(at), 60.0 / self.period, True)

    def scale_tempo(self, factor: float, at: float) -> None:
        self.set_tempo(check_bpm(self.bpm * factor), at)

    def set_tempo(self, bpm: float, at: float) -> None:
        bpm = check_bpm(bpm)
        with self._lock:
            position = self._position(at) if self.period > 0 else 0.0
            self.period = 60.0 / bpm
            # keep the position continuous: anchor at the last whole beat before ``at``
            whole = int(position // 1)
            self._anchor = (at - (position - whole) * self.period, whole)

    def snapshot(self) -> dict[str, float]:
        return {"taps": len(self.taps)}
