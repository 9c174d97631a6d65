"""Tempo source ``midi`` (``--tempo midi[:PORT]``): MIDI clock from a DJ mixer, a drum machine or
a DAW, read from a MIDI input port.

MIDI clock is 24 pulses per quarter note (0xF8). Start (0xFA) plays from the song's start: the
next pulse is bar 1, beat 1. Stop (0xFC) holds the position; Continue (0xFB) resumes from it;
Song Position Pointer (0xF2, in sixteenths = 6 pulses) moves it, for the next Continue. Senders
keep pulsing while stopped, so the tempo is known before Start.

The tempo is the slope of a line through the arrival times of the last `WINDOW` + 1 pulses (one
beat), fitted robustly (Theil-Sen: the median of the pairwise slopes, and the median intercept):
a pulse that arrives a millisecond late (USB jitter), or a few that arrive late together (a busy
machine), barely move it, where the mean of the last intervals would follow each one; a tempo
change is followed completely within one beat. The position between pulses is read on that same
line, so it runs smoothly between pulses and on through a dropped one. A gap of more than
`GAP_S` between pulses (the sender stopped pulsing) starts the line over.

The port is opened with `visualizer.live.midi.open_port` (the same choice of port as ``--midi``:
the first, the first whose name contains PORT, or ``virtual``); each message goes to `handle`,
the port's callback, which stamps it with its arrival time.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import numpy as np

from visualizer.live.tempo import Grid, TempoSource

PPQN = 24  # MIDI clock pulses per quarter note
WINDOW = 24  # pulse intervals in the tempo fit: one beat
GAP_S = 0.5  # pulses further apart than this: the sender stopped pulsing, the fit starts over
SIXTEENTH = PPQN // 4  # pulses per Song Position Pointer unit


class MidiClockTempo(TempoSource):
    name = "midi"
    summary = "MIDI clock in (24 pulses per beat; Start, Stop, Continue, song position)"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: collections.deque[float] = collections.deque(maxlen=WINDOW + 1)
        self._pulse = 0  # number of the last counted pulse on the song's count (-1: Start came)
        self._playing = False
        self._epoch = 0
        self.received = 0  # clock, transport and position messages taken
        self.ignored = 0  # other messages on the port
        self.port_name: str | None = None
        self._port: Any = None

    @classmethod
    def open(cls, spec: str) -> MidiClockTempo:
        from visualizer.live.midi import open_port

        source = cls()
        source._port = open_port("input", spec, source.handle)
        source.port_name = source._port.name
        return source

    def stop(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    # -- reading the port ------------------------------------------------------------------
    def handle(self, message: Any, at: float | None = None) -> None:
        """One mido message from the port, arrived at monotonic time ``at`` (now if None)."""
        at = time.monotonic() if at is None else float(at)
        kind = getattr(message, "type", None)
        with self._lock:
            if kind == "clock":
                if self._times and at - self._times[-1] > GAP_S:
                    self._times.clear()
                self._times.append(at)
                if self._playing:
                    self._pulse += 1
            elif kind == "start":
                self._pulse, self._playing = -1, True
                self._epoch += 1
            elif kind == "continue":
                self._playing = True
            elif kind == "stop":
                self._playing = False
            elif kind == "songpos":
                self._pulse = int(message.pos) * SIXTEENTH - 1
                self._epoch += 1
            else:
                self.ignored += 1
                return
            self.received += 1

    # -- the grid --------------------------------------------------------------------------
    def _line(self) -> tuple[float, float] | None:
        """(seconds per pulse, fitted time of the newest pulse), or None with < 2 pulses."""
        n = len(self._times)
        if n < 2:
            return None
        times = np.fromiter(self._times, dtype=np.float64, count=n)
        k = np.arange(n, dtype=np.float64)
        i, j = np.triu_indices(n, 1)
        slope = float(np.median((times[j] - times[i]) / (j - i)))  # Theil-Sen: pairwise slopes
        if slope <= 0:
            return None
        return slope, float(np.median(times - slope * k)) + slope * (n - 1)

    def reading(self, at: float) -> Grid | None:
        with self._lock:
            line = self._line()
            if line is None:
                return None
            period, newest = line
            bpm = 60.0 / (PPQN * period)
            if self._pulse < 0 or not self._playing:
                held = max(self._pulse + 1, 0)  # where the next pulse will be
                return Grid(held / PPQN, bpm, self._playing, self._epoch)
            position = self._pulse + (at - newest) / period
            return Grid(position / PPQN, bpm, True, self._epoch)

    def snapshot(self) -> dict[str, Any]:
        return {"port": self.port_name, "received": self.received}
