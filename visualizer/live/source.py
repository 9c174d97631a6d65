"""What live mode follows: the audio/clock-source interface. Members are `source_*.py` files,
listed in the `visualizer.live.sources` registry.

A source gives the render loop either or both of:

- the audio to analyse: ``read(lead)`` returns the samples that came since the last call (mono
  float32 at ``sr``), in order, so the causal analysis sees one continuous signal. A block marked
  ``restart`` starts again at sample 0 (the player was sought back): the loop starts its
  analysis and mapping over, so their state equals that of an uninterrupted play;
- the playback clock: ``clock()`` is the position in seconds on the source's own timeline and
  whether it is playing (None until it knows);
- its stems, when it has them (``stems``: a track's stem files played in sync, a sound card's
  channels routed to stems): each block carries each stem's samples over the same span, so the
  engine analyses every source at the same clock position.

Two ways to give audio: a source whose whole signal is known (a file) implements ``samples`` and
``clock`` and the default ``read`` pulls the audio up to the clock, ``lead`` seconds ahead (the
frame that will be heard when its render finishes); a source that is pushed (a sound card)
overrides ``read``. A clock-only source (MIDI clock, Ableton Link, tap) implements ``clock``
alone: the default ``samples`` is silence, so frames still advance, mapped, on its time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

SAMPLE_RATE = 22050  # the analysis rate (`visualizer.analysis.decode.DEFAULT_SR`)
SEEK_BACK_S = 0.25  # a clock this far behind what was read is a seek back: start over
EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class ClockReading:
    seconds: float  # position on the source's timeline, >= 0
    playing: bool  # False while paused or stopped: the position holds


@dataclass(frozen=True)
class AudioBlock:
    samples: np.ndarray  # mono float32 at the source's ``sr``, continuing the previous block
    restart: bool = False  # True: ``samples`` start again at sample 0 (a seek back)
    # each of the source's stems over the same span, as many samples as ``samples``
    stems: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Soundtrack:
    """What a recording of the session muxes: a ``file`` (trimmed to the recorded frames'
    span), or captured ``samples`` (mono float32 at ``sr``, sample 0 = frame 0)."""

    file: Path | None = None
    samples: np.ndarray | None = None
    sr: int = 0


class Source:
    """Base of the live sources: a clock-only source by default (silence up to its clock)."""

    name: ClassVar[str] = "source"  # the registry key
    sr: int = SAMPLE_RATE  # samples per second of what ``read`` returns
    duration: float | None = None  # seconds of audio the source has; None = no end
    track: Path | None = None  # a file the page plays (served at /track) and reports on
    stems: tuple[str, ...] = ()  # the stems ``read`` gives beside the mix, in STEMS order

    def __init__(self) -> None:
        self.position = 0  # samples handed out by the default ``read``

    @classmethod
    def open(cls, spec: str) -> Source:
        """The source described by ``spec`` (a file path, a device name, ...), opened; a
        `visualizer.errors.VisualizerError` says why it cannot be."""
        raise NotImplementedError

    def start(self) -> None:
        """Begin (a sound card starts capturing); the default has nothing to start."""

    def stop(self) -> None:
        """End; safe to call once after ``start``."""

    def clock(self) -> ClockReading | None:
        raise NotImplementedError

    def report(self, seconds: float, playing: bool) -> None:
        """The page's player position (its <audio> element); only a ``track`` source uses it."""

    def keep_audio(self) -> None:
        """Keep what is heard from now on, for ``soundtrack`` (a recording asks)."""

    def soundtrack(self) -> Soundtrack | None:
        """The audio a recording muxes (None: a silent recording)."""
        return None

    def samples(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start`` to ``stop`` (mono float32 at ``sr``); the default is silence."""
        return np.zeros(stop - start, dtype=np.float32)

    def stem_samples(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Each stem's samples ``start`` to ``stop``; the default source has none."""
        return {}

    def read(self, lead: float = 0.0) -> AudioBlock:
        """The audio from what was read before up to the clock plus ``lead`` seconds (the end
        of the audio at most). Empty before the clock starts or while it holds."""
        reading = self.clock()
        if reading is None:
            return AudioBlock(EMPTY)
        end = reading.seconds + lead
        if self.duration is not None:
            end = min(end, self.duration)
        target = int(max(end, 0.0) * self.sr)
        restart = target < self.position - (SEEK_BACK_S + lead) * self.sr
        if restart:
            self.position = 0
        if target <= self.position:
            return AudioBlock(EMPTY, restart, {name: EMPTY for name in self.stems})
        start, self.position = self.position, target
        return AudioBlock(self.samples(start, target), restart, self.stem_samples(start, target))
