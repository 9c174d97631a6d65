"""A test's own live source, to prove the seam: this one file plus one registry line
(``SOURCES.register(DummySource)``) give live mode a new audio/clock source.

It is a transport the test moves by hand: ``open("SECONDS:SEED")`` has a music-like track of
that length (the audio the engine analyses); ``open("")`` has no audio, a clock-only source like
a MIDI clock or Ableton Link, for which the engine analyses silence on the source's time.
"""

from __future__ import annotations

import numpy as np

from tests.fixtures_audio import SR, music_like
from visualizer.live.source import ClockReading, Source


class DummySource(Source):
    name = "dummy"

    def __init__(self, audio: np.ndarray | None) -> None:
        super().__init__()
        self.sr = SR
        self.audio = audio
        self.duration = None if audio is None else len(audio) / SR
        self.reading: ClockReading | None = None
        self.started = self.stopped = False

    @classmethod
    def open(cls, spec: str) -> DummySource:
        if not spec:
            return cls(None)
        seconds, seed = spec.split(":")
        return cls(music_like(float(seconds), SR, seed=int(seed)).astype(np.float32))

    def move_to(self, seconds: float, playing: bool = False) -> None:
        self.reading = ClockReading(seconds, playing)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def clock(self) -> ClockReading | None:
        return self.reading

    def samples(self, start: int, stop: int) -> np.ndarray:
        if self.audio is None:
            return super().samples(start, stop)  # clock only: silence
        return self.audio[start:stop]
