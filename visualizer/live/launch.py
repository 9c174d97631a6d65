"""Quantised launches: a scene, palette, preset or class change armed now, landing on the beat.

A launch is armed with a quantisation - ``now``, the next ``beat``, the next ``bar``, or the next
``2bars`` / ``4bars`` boundary (counted from bar 1) - chosen on the surface for every launch or
given per MIDI or OSC trigger. Its target is the first such boundary after the beat *heard* when
it is armed; it lands on the first mapped frame whose beat (`visualizer.live.beat.BeatClock.frame`,
which adds the output latency) reaches the target, so with a latency of L ms the change is
computed L ms early and seen on the beat as heard. It is shown as pending until then. Without a
running beat (no tempo yet, the clock stopped) a launch lands at once; a clock that stops while a
launch waits lets it land `GRACE_S` after its expected time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from visualizer.errors import PresetError
from visualizer.live.beat import BeatState, FrameBeat

QUANTIZE = ("now", "beat", "bar", "2bars", "4bars")
BARS = {"bar": 1, "2bars": 2, "4bars": 4}
GRACE_S = 2.0  # a launch waiting on a stopped clock lands this long after it was due


def check_quantize(value: object) -> str:
    """``value`` if it is one of QUANTIZE, else a PresetError naming it and the choices."""
    if value not in QUANTIZE:
        raise PresetError(f"quantize must be one of {', '.join(QUANTIZE)}, got {value!r}")
    return str(value)


def later(a: str, b: str) -> str:
    """The coarser of two quantisations ("bar" over "beat")."""
    return max(a, b, key=QUANTIZE.index)


def target_beat(state: BeatState, quantize: str) -> float | None:
    """The beat a launch armed at ``state`` lands on; None: at once."""
    if quantize == "now" or not state.playing or state.bpm <= 0:
        return None
    unit = 1 if quantize == "beat" else BARS[quantize] * state.beats_per_bar
    return float((math.floor(state.beat / unit + 1e-9) + 1) * unit)


@dataclass(frozen=True)
class Launch:
    """A change waiting for its beat."""

    preset: Any  # the Preset to switch to
    label: str  # what it is, for the page: a scene name, "palette", "classes"
    quantize: str
    target: float | None  # the beat it lands on (None: the next frame)
    epoch: int  # the beat count it was armed on (a new count lands it at once)
    deadline: float  # monotonic time after which it lands even if the beat never comes
    fade: float | None = None  # the scene crossfade in seconds (None: the surface's)
    scene: str | None = None  # the scene it loads (a preset name or saved file), if it is one
    changes: dict[str, str] = field(default_factory=dict)  # or the keys it changes ...
    base: tuple = ()  # ... and the overrides they were made on

    @classmethod
    def arm(cls, preset: Any, label: str, quantize: str, state: BeatState, now: float,
            **extra: Any) -> Launch:  # fmt: skip
        target = target_beat(state, quantize)
        wait = 0.0 if target is None else (target - state.beat) * 60.0 / state.bpm
        return cls(preset, label, quantize, target, state.epoch, now + wait + GRACE_S, **extra)

    def due(self, beat: FrameBeat, now: float) -> bool:
        """Whether it lands with the frame whose beat is ``beat``."""
        if self.target is None or beat.state.epoch != self.epoch or now >= self.deadline:
            return True
        return beat.state.playing and beat.state.beat >= self.target - 1e-9

    def describe(self, beats_per_bar: int) -> dict[str, Any]:
        """For the page: what lands, on which quantisation, and at which bar:beat."""
        at = None
        if self.target is not None:
            whole = round(self.target)
            at = f"{whole // beats_per_bar + 1}:{whole % beats_per_bar + 1}"
        return {"label": self.label, "quantize": self.quantize, "at": at, "scene": self.scene}
