"""Where live mode's beat comes from: the tempo-source interface. Members are `tempo_*.py` files,
listed in the `visualizer.live.tempos` registry; `visualizer.live.beat.BeatClock` reads the one
that is chosen and is the beat state every other part of live mode reads.

Why a registry of its own rather than clock sources in `visualizer.live.sources`: a source gives
the audio the picture reacts to and the show's timeline, a tempo source gives the beat grid, and a
show needs both at once from different places - the mixer's sound through a sound card and the
DJ's tempo through MIDI clock or Ableton Link. They are two choices (``--input``/``--audio`` and
``--tempo``), so two registries; a clock-only show (``--no-audio``) pairs the silent ``clock``
source with any tempo source.

A tempo source answers `TempoSource.reading`: its grid at a time ``at`` in seconds of
`time.monotonic` (the frame's display time, which may be a little ahead of now): the position in
beats on the source's own count, the tempo and whether it plays. Times are monotonic seconds
everywhere, so a MIDI pulse, a tap and a frame compare directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from visualizer.errors import TempoError

MIN_BPM, MAX_BPM = 20.0, 400.0  # tempos a control may set (x2 and /2 stay inside)


@dataclass(frozen=True)
class Grid:
    """A tempo source's beat grid at one moment."""

    beat: float  # position in beats on the source's own count (0 = its start)
    bpm: float  # beats per minute, > 0
    playing: bool  # False: stopped (MIDI Stop), the position holds
    epoch: int = 0  # bumps when the source resets its count (MIDI Start, a song position):
    # the beat clock then drops the cue and nudges made on the old count


class TempoSource:
    """Base of the tempo sources. A member sets ``name`` and ``summary`` and implements
    ``reading``; the rest has defaults."""

    name: ClassVar[str] = "tempo"  # the registry key (--tempo NAME)
    summary: ClassVar[str] = ""  # a few words for --help and the page
    # x2 and /2 change the source's own tempo (tap; Link, where the peers follow) instead of
    # scaling what it reads (the audio tracker, MIDI clock: the sender owns that tempo)
    owns_tempo: ClassVar[bool] = False
    # the phase is shared with other software (Link aligns beats across peers): cue and nudge
    # would break that alignment, so they are refused, as other Link-enabled tools do
    shares_phase: ClassVar[bool] = False

    @classmethod
    def open(cls, spec: str) -> TempoSource:
        """The source described by ``spec`` (a port name, a start tempo), opened; a
        `visualizer.errors.VisualizerError` says why it cannot be."""
        return cls()

    def start(self) -> None:
        """Begin listening (a port opens its callback); the default has nothing to start."""

    def stop(self) -> None:
        """End; safe to call once after ``start``."""

    def reading(self, at: float) -> Grid | None:
        """The grid at monotonic time ``at``; None while the source knows no tempo yet."""
        raise NotImplementedError

    def observe(self, row: Any, at: float) -> None:
        """One analysed frame (a `FrameFeatures`) shown at monotonic time ``at``; only the
        audio tracker follows them."""

    def reset(self) -> None:
        """The analysis started over (a seek back): forget what followed the audio."""

    def tap(self, at: float) -> None:
        raise TempoError(f"the {self.name} tempo source has no tap: choose tap as the source")

    def scale_tempo(self, factor: float, at: float) -> None:
        """x2 / 2 for a source that ``owns_tempo``, keeping the position at ``at``."""
        raise TempoError(f"the {self.name} tempo source cannot change its tempo")

    def set_tempo(self, bpm: float, at: float) -> None:
        """Set the tempo (a source that ``owns_tempo``), keeping the position at ``at``."""
        raise TempoError(f"the {self.name} tempo source follows a tempo it does not set")

    def set_beats_per_bar(self, beats: int) -> None:
        """Beats per bar changed (Link sets its quantum); the default needs nothing."""

    def snapshot(self) -> dict[str, Any]:
        """What the page shows about the source (a port, the number of Link peers)."""
        return {}


def check_bpm(value: object) -> float:
    """``value`` as a tempo in MIN_BPM-MAX_BPM, else a TempoError naming it and the range."""
    try:
        bpm = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        bpm = float("nan")
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise TempoError(f"tempo must be {MIN_BPM:g}-{MAX_BPM:g} BPM, got {value!r}")
    return bpm
