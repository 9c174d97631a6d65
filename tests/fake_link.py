"""A stand-in for an Ableton Link session with Link's semantics, and no network.

`FakeLinkSession` is the shared session: one tempo and one beat timeline for every peer. Each
`FakeLink` is one peer's view, with the attributes of ``aalink.Link`` that live mode reads:
``beat`` (the session's beat now, aligned for this peer's ``quantum``), ``tempo`` (setting it
keeps the beat continuous and reaches every peer), ``quantum``, ``enabled``, ``num_peers``.
Link aligns the phase within the quantum, not beat numbers: a peer that joins keeps its own beat
count but takes the session's phase. Time is a clock the test moves by hand.
"""

from __future__ import annotations

import math


class ManualClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeLinkSession:
    def __init__(self, tempo: float, clock: ManualClock) -> None:
        self.clock = clock
        self.tempo = tempo
        self.origin = (clock(), 0.0)  # (time, session beat): the timeline's anchor
        self.peers: list[FakeLink] = []

    def beat_at(self, t: float) -> float:
        at, beat = self.origin
        return beat + (t - at) * self.tempo / 60.0

    def set_tempo(self, tempo: float) -> None:
        now = self.clock()
        self.origin = (now, self.beat_at(now))  # the beat stays continuous
        self.tempo = tempo


class FakeLink:
    def __init__(self, session: FakeLinkSession, offset: float = 0.0) -> None:
        self.session = session
        self.quantum = 4.0
        self.enabled = True
        self.offset = offset  # this peer's own count minus the session's (a whole number of bars)
        session.peers.append(self)

    @property
    def num_peers(self) -> int:
        return len(self.session.peers) - 1

    @property
    def beat(self) -> float:
        beat = self.session.beat_at(self.session.clock()) + self.offset
        # the phase within the quantum is the session's whatever this peer's count
        return beat - (beat % self.quantum) + (beat - self.offset) % self.quantum

    @property
    def phase(self) -> float:
        return math.fmod(self.beat, self.quantum)

    @property
    def tempo(self) -> float:
        return self.session.tempo

    @tempo.setter
    def tempo(self, bpm: float) -> None:
        self.session.set_tempo(bpm)
