"""The one beat state of a live show: `BeatClock`, fed by one chosen tempo source, read by all.

Every part of live mode reads its beat from here: the engine (the mapping rows' ``is_beat``,
``tempo``, ``beat_phase``, ``bar_phase``, ``is_downbeat``), the quantised launches, the LFOs
(through those rows), the page's bar:beat counter, OSC and MIDI out. The tempo source
(`visualizer.live.tempo`) gives a grid on its own count; the clock applies the performer's
controls on top:

- **cue** (this beat is 1): the nearest beat becomes beat 1 of a bar;
- **nudge** +/-: the phase moves by `NUDGE_MS` per press (+: the beats come earlier, for a
  picture that was late; -: later);
- **x2** and **/2**: the tempo of a source that owns it (tap, Link: the peers follow); the
  count of one that does not (the audio tracker, MIDI clock) is scaled;
- **beats per bar** (1-16; Link's quantum);
- **output latency** (ms): frames are computed for their display time plus this, so a projector
  or an NDI hop that shows them late still shows each beat as it is heard.

Cue and nudge are refused while a source shares its phase (Link). A source that resets its count
(MIDI Start) drops the cue and nudges, so Start is bar 1, beat 1.

Times are seconds of `time.monotonic`. `BeatClock.frame` is called once per mapped frame, in
order, by the render thread; everything else may be called from any thread.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from visualizer.errors import TempoError
from visualizer.live.tempo import TempoSource
from visualizer.live.tempo_audio import AudioTempo
from visualizer.live.tempo_tap import TapTempo

NUDGE_MS = 10.0  # phase moved by one nudge press
MAX_LATENCY_MS = 1000.0
MAX_BEATS_PER_BAR = 16
BACK_JUMP = 0.5  # beats: a position this far behind the last frame's is a jump back (re-count)


@dataclass(frozen=True)
class BeatState:
    """The beat at one moment. ``beat`` counts beats since bar 1, beat 1 (0.0 there)."""

    bpm: float  # beats per minute; 0.0 while the source knows no tempo
    beat: float  # beats since bar 1 beat 1 (negative before it)
    beats_per_bar: int  # 1-16
    playing: bool  # False: no tempo yet, or the source is stopped (the position holds)
    epoch: int = 0  # bumps when the count starts over (a source change, MIDI Start)

    @property
    def beat_phase(self) -> float:
        """[0, 1): 0 on a beat, rising to the next."""
        return self.beat % 1.0

    @property
    def bar_phase(self) -> float:
        """[0, 1): 0 on a downbeat, rising to the next."""
        return (self.beat / self.beats_per_bar) % 1.0

    @property
    def count(self) -> int:
        """Whole beats since bar 1 beat 1."""
        return math.floor(self.beat)

    @property
    def bar(self) -> int:
        """The bar, 1 for the first."""
        return self.count // self.beats_per_bar + 1

    @property
    def beat_in_bar(self) -> int:
        """The beat within the bar, 1 to ``beats_per_bar``."""
        return self.count % self.beats_per_bar + 1

    def counter(self) -> str:
        """ "bar:beat", as the page and the console show it."""
        return f"{self.bar}:{self.beat_in_bar}"


@dataclass(frozen=True)
class FrameBeat:
    """The beat of one mapped frame: its state, and whether a beat or bar started with it."""

    state: BeatState
    is_beat: bool
    is_downbeat: bool


def _stopped(beats_per_bar: int) -> BeatState:
    return BeatState(0.0, 0.0, beats_per_bar, False)


class BeatClock:
    """The beat state. ``sources`` are opened tempo sources by name (``audio`` and ``tap`` are
    added); ``active`` names the one followed."""

    def __init__(
        self,
        sources: dict[str, TempoSource] | None = None,
        *,
        active: str = "audio",
        beats_per_bar: int = 4,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.RLock()
        self.sources: dict[str, TempoSource] = {"audio": AudioTempo(), "tap": TapTempo()}
        self.sources.update(sources or {})
        self.now = now
        self.active = ""
        self.beats_per_bar = check_beats_per_bar(beats_per_bar)
        self.latency_s = 0.0
        self._scale = 1.0  # x2 / 2 on a source that does not own its tempo
        self._shift = 0.0  # beats added by cue and nudges
        self._epoch = 0  # the clock's own count of restarts
        self._source_epoch = 0
        self._fired: int | None = None  # the last beat a frame started (None: count anew)
        self._last = 0.0
        self.use(active)

    # -- reading ---------------------------------------------------------------------------
    @property
    def source(self) -> TempoSource:
        return self.sources[self.active]

    def state(self, at: float | None = None) -> BeatState:
        """The beat at monotonic time ``at`` (default: now), as heard."""
        at = self.now() if at is None else at
        with self._lock:
            grid = self.source.reading(at)
            if grid is None:
                return _stopped(self.beats_per_bar)
            if grid.epoch != self._source_epoch:  # MIDI Start, a song position: a new count
                self._source_epoch = grid.epoch
                self._shift, self._epoch = 0.0, self._epoch + 1
            beat = self._scale * grid.beat + self._shift
            return BeatState(
                self._scale * grid.bpm, beat, self.beats_per_bar, grid.playing, self._epoch
            )

    def frame(self, shown_at: float) -> FrameBeat:
        """The beat of the next mapped frame, shown at monotonic time ``shown_at``: the state at
        ``shown_at`` plus the output latency. A beat starts with the first frame at or past it;
        each beat starts once, however the position jitters."""
        state = self.state(shown_at + self.latency_s)
        with self._lock:
            if not state.playing or state.bpm <= 0:
                return FrameBeat(state, False, False)
            count = state.count
            if self._fired is None or state.beat < self._last - BACK_JUMP:
                # the first frame with a grid, or a jump back: start counting here; a frame
                # that falls right on a whole beat still starts it
                self._fired = count - (state.beat_phase < 1e-9)
            self._last = state.beat
            started = count > self._fired
            if started:
                self._fired = count
            downbeat = started and count % self.beats_per_bar == 0
            return FrameBeat(state, started, downbeat)

    def observe(self, row: Any, at: float) -> None:
        """An analysed frame shown at ``at``: the audio tracker follows it (even while another
        source leads, so going back to it finds a running grid)."""
        self.sources["audio"].observe(row, at)

    def restart(self) -> None:
        """The analysis started over (a seek back): the audio tracker and the count start anew."""
        with self._lock:
            self.sources["audio"].reset()
            self._fired = None

    @property
    def passes_rows(self) -> bool:
        """True while the mapping rows keep the analysis's own beats: the audio tracker leads
        and nothing was moved, so a live show maps exactly as the offline causal analysis."""
        return self.active == "audio" and not (self._scale != 1.0 or self._shift or self.latency_s)

    def apply(self, row: Any, beat: FrameBeat) -> Any:
        """``row`` (a `FrameFeatures`) with its beat fields from ``beat`` (unchanged while
        `passes_rows`)."""
        if self.passes_rows:
            return row
        state = beat.state
        return dataclasses.replace(
            row,
            is_beat=beat.is_beat,
            tempo=state.bpm if state.playing else row.tempo,
            beat_phase=state.beat_phase,
            bar_phase=state.bar_phase,
            is_downbeat=beat.is_downbeat,
            meter=state.beats_per_bar,
        )

    # -- controls --------------------------------------------------------------------------
    def use(self, name: str) -> None:
        """Follow the tempo source ``name`` (one of ``sources``)."""
        if name not in self.sources:
            valid = ", ".join(self.sources)
            raise TempoError(f"tempo source {name!r} is not open in this show (valid: {valid})")
        with self._lock:
            if name == self.active:
                return
            self.active = name
            self._scale, self._shift, self._fired = 1.0, 0.0, None
            self._epoch += 1
            self._source_epoch = -1  # adopt the new source's epoch on the next reading
            self.source.set_beats_per_bar(self.beats_per_bar)

    def add(self, source: TempoSource) -> None:
        """Offer ``source`` (opened) under its name; `use` follows it."""
        with self._lock:
            self.sources[source.name] = source

    def tap(self, at: float | None = None) -> None:
        """One tap: the tap source takes over from the audio tracker (a MIDI clock or Link that
        leads refuses it)."""
        at = self.now() if at is None else at
        with self._lock:
            if self.active == "audio":
                self.use("tap")
            self.source.tap(at)

    def clear_taps(self) -> None:
        """Forget the taps; a show that followed them goes back to the audio tracker."""
        with self._lock:
            tap = self.sources["tap"]
            assert isinstance(tap, TapTempo)
            tap.clear()
            if self.active == "tap":
                self.use("audio")

    def cue(self, at: float | None = None) -> None:
        """This beat is 1: the beat nearest to ``at`` becomes beat 1 of a bar."""
        at = self.now() if at is None else at
        with self._lock:
            self._refuse_on_shared_phase("cue")
            state = self.state(at)
            if state.bpm <= 0:
                raise TempoError("no tempo yet: tap, or wait for the beat, then cue")
            self._shift -= round(state.beat) % self.beats_per_bar
            self._fired = None

    def nudge(self, direction: int, at: float | None = None) -> None:
        """Move the beats `NUDGE_MS` earlier (+1: the picture was late) or later (-1)."""
        if direction not in (1, -1):
            raise TempoError(f"nudge must be +1 or -1, got {direction!r}")
        at = self.now() if at is None else at
        with self._lock:
            self._refuse_on_shared_phase("nudge")
            bpm = self.state(at).bpm
            self._shift += direction * NUDGE_MS / 1000.0 * bpm / 60.0

    def scale(self, factor: float, at: float | None = None) -> None:
        """x2 (``factor`` 2) or /2 (0.5), keeping the position at ``at``."""
        if factor not in (2.0, 0.5):
            raise TempoError(f"tempo factor must be 2 or 0.5, got {factor!r}")
        at = self.now() if at is None else at
        with self._lock:
            if self.source.owns_tempo:
                self.source.scale_tempo(factor, at)
                return
            before = self.state(at).beat
            self._scale *= factor
            self._shift += before - self.state(at).beat

    def set_tempo(self, bpm: object, at: float | None = None) -> None:
        """Set the tempo of a source that owns it (tap starts from it; Link tells the peers)."""
        at = self.now() if at is None else at
        with self._lock:
            if self.active == "audio":
                self.use("tap")
            self.source.set_tempo(bpm, at)  # type: ignore[arg-type]

    def set_beats_per_bar(self, value: object) -> None:
        beats = check_beats_per_bar(value)
        with self._lock:
            self.beats_per_bar = beats
            self.source.set_beats_per_bar(beats)

    def set_latency_ms(self, value: object) -> None:
        try:
            ms = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            ms = float("nan")
        if not 0 <= ms <= MAX_LATENCY_MS:
            raise TempoError(f"output latency must be 0-{MAX_LATENCY_MS:g} ms, got {value!r}")
        self.latency_s = ms / 1000.0

    def _refuse_on_shared_phase(self, what: str) -> None:
        if self.source.shares_phase:
            raise TempoError(f"{self.active} leads the phase: {what} is off while it is the source")

    # -- lifecycle and the page ------------------------------------------------------------
    def start(self) -> None:
        for source in self.sources.values():
            source.start()

    def stop(self) -> None:
        for source in self.sources.values():
            source.stop()

    def snapshot(self) -> dict[str, Any]:
        """For the page and /state: the source, the choices, the state now and the settings."""
        state = self.state()
        return {
            "source": self.active,
            "sources": list(self.sources),
            "bpm": round(state.bpm, 2),
            "counter": state.counter(),
            "beat": state.beat,
            "playing": state.playing,
            "beats_per_bar": self.beats_per_bar,
            "latency_ms": round(self.latency_s * 1000.0, 1),
            "scale": self._scale,
            "shares_phase": self.source.shares_phase,
            "detail": self.source.snapshot(),
        }


def check_beats_per_bar(value: object) -> int:
    """``value`` as beats per bar 1-16, else a TempoError naming it."""
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else 0
    if not 1 <= number <= MAX_BEATS_PER_BAR or number != int(number):
        raise TempoError(f"beats per bar must be a whole number 1-16, got {value!r}")
    return int(number)
