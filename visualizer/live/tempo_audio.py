"""Tempo source ``audio`` (the default): the beats the causal analysis finds in the audio.

The tracker (`visualizer.analysis.causal`) marks beat and downbeat frames and estimates the tempo
and the meter. This source turns them into a grid that runs between beats: each tracked beat is
pinned to the nearest whole beat of the grid (so a tracker beat a little early or late corrects
the phase, never adds a beat), a tracked downbeat moves the count on to the next whole bar when
the analysis's meter is the show's beats per bar (so the bars are the analysis's bars), and the
grid runs on at the last tempo through breaks where no beat is found, as the conventions ask of
an audio tracker. Frames shown later than their audio (an output latency) then
still get a beat on time, predicted from the grid.
"""

from __future__ import annotations

import threading
from typing import Any

from visualizer.live.tempo import Grid, TempoSource


class AudioTempo(TempoSource):
    name = "audio"
    summary = "the beats the analysis finds in the audio"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._anchor: tuple[float, int] | None = None  # (monotonic time, whole beat)
            self._bpm = 0.0
            self._beats_per_bar = getattr(self, "_beats_per_bar", 4)

    def set_beats_per_bar(self, beats: int) -> None:
        self._beats_per_bar = beats

    def observe(self, row: Any, at: float) -> None:
        with self._lock:
            if row.tempo > 0:
                self._bpm = float(row.tempo)
            if not row.is_beat or self._bpm <= 0:
                return
            if self._anchor is None:
                beat = 0
            else:
                beat = max(round(self._position(at)), self._anchor[1] + 1)
            bar = self._beats_per_bar
            if row.is_downbeat and row.meter == bar:
                beat += -beat % bar  # the analysis's downbeat starts a bar here too
            self._anchor = (at, beat)

    def _position(self, at: float) -> float:
        assert self._anchor is not None
        anchor_at, beat = self._anchor
        return beat + (at - anchor_at) * self._bpm / 60.0

    def reading(self, at: float) -> Grid | None:
        with self._lock:
            if self._anchor is None or self._bpm <= 0:
                return None
            return Grid(self._position(at), self._bpm, True)
