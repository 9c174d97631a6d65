"""Source ``clock`` (``--no-audio``): no audio at all; the show runs on the monotonic clock.

A clock-only source: the frames advance on the time since the show started, the analysis reads
silence, and the picture moves with the beat alone - the tempo source's beats, bars and LFOs
(``--tempo midi`` or ``--tempo link`` from a DJ's setup; tap works too). Nothing is played or
recorded as sound.
"""

from __future__ import annotations

import time

from visualizer.live.source import ClockReading, Source


class ClockSource(Source):
    name = "clock"

    def __init__(self) -> None:
        super().__init__()
        self._started: float | None = None

    @classmethod
    def open(cls, spec: str) -> ClockSource:
        return cls()

    def start(self) -> None:
        self._started = time.monotonic()

    def clock(self) -> ClockReading | None:
        if self._started is None:
            return None
        return ClockReading(time.monotonic() - self._started, True)
