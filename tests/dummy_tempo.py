"""A test's own tempo source, to prove the seam: this one file plus one registry line
(``TEMPOS.register(DummyTempo)``) give live mode a new ``--tempo``: a steady grid at the BPM its
spec names, from the time it is opened."""

from __future__ import annotations

from visualizer.live.tempo import Grid, TempoSource, check_bpm


class DummyTempo(TempoSource):
    name = "dummy"
    summary = "a steady test tempo"

    def __init__(self, bpm: float, origin: float = 0.0) -> None:
        self.bpm, self.origin = bpm, origin

    @classmethod
    def open(cls, spec: str) -> DummyTempo:
        return cls(check_bpm(spec or 120))

    def reading(self, at: float) -> Grid:
        return Grid((at - self.origin) * self.bpm / 60.0, self.bpm, True)
