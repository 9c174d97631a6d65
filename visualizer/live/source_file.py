"""Source ``file`` (``--audio FILE``): a track played in the page, followed by the page's clock.

The track plays in the page's <audio> element (served at /track) and the page reports its
``currentTime`` (`PageClock`); the visuals follow that clock, so they follow pauses, seeks and
the browser's own audio buffering. The whole track is decoded up front, so the render loop can
map the frame that will be heard when its render finishes instead of the one heard when it
started (``read(lead)``). Its stem files (``--audio MIX --stems ...``) are decoded up front too
and read over the same samples as the mix: the page plays the mix, the engine analyses each stem
at the same clock position.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.live.source import ClockReading, Soundtrack, Source


class PageClock:
    """The track position as the page's <audio> element reports it, extrapolated between
    reports with the monotonic clock. ``now()`` is None until the first report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t: float | None = None
        self._at = 0.0
        self._playing = False

    def update(self, t: float, playing: bool) -> None:
        with self._lock:
            self._t, self._at, self._playing = float(t), time.monotonic(), bool(playing)

    def reading(self) -> ClockReading | None:
        with self._lock:
            if self._t is None:
                return None
            elapsed = time.monotonic() - self._at if self._playing else 0.0
            return ClockReading(self._t + elapsed, self._playing)


class FileSource(Source):
    """A decoded track (mono float32 ``audio`` at ``sr``) played by the page. ``track`` is the
    file the page plays; None plays nothing there (a client reports the clock itself)."""

    name = "file"

    def __init__(self, audio: np.ndarray, sr: int, track: Path | None = None) -> None:
        super().__init__()
        self.audio, self.sr = np.asarray(audio, dtype=np.float32), int(sr)
        self.duration = len(self.audio) / self.sr
        self.track = Path(track) if track is not None else None
        self.page_clock = PageClock()
        self._stems: dict[str, np.ndarray] = {}  # each stem, as many samples as ``audio``

    @classmethod
    def open(cls, spec: str) -> FileSource:
        from visualizer.analysis.decode import load_audio

        decoded = load_audio(spec)
        return cls(decoded.samples, decoded.sr, Path(spec))

    def clock(self) -> ClockReading | None:
        return self.page_clock.reading()

    def report(self, seconds: float, playing: bool) -> None:
        self.page_clock.update(seconds, playing)

    def samples(self, start: int, stop: int) -> np.ndarray:
        return self.audio[start:stop]

    def add_stems(self, stems: Sequence[tuple[str, Path]], fps: Fraction) -> None:
        """Decode each stem file (name, path), check that it matches the track's length within
        a frame period at ``fps`` (`visualizer.analysis.stems.check_length`, a StemError
        otherwise) and cut or pad it to the track's samples."""
        from visualizer.analysis.decode import load_audio
        from visualizer.analysis.stems import check_length

        track, seconds = self.track or Path("the track"), len(self.audio) / self.sr
        for name, path in stems:
            decoded = load_audio(path, sr=self.sr).samples
            check_length(name, Path(path), len(decoded) / self.sr, track, seconds, fps)
            fitted = np.zeros_like(self.audio)
            fitted[: min(len(decoded), len(fitted))] = decoded[: len(fitted)]
            self._stems[name] = fitted
        self.stems = tuple(self._stems)

    def stem_samples(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {name: samples[start:stop] for name, samples in self._stems.items()}

    def soundtrack(self) -> Soundtrack | None:
        return Soundtrack(file=self.track) if self.track is not None else None
