"""Class morph (technique l): classes.mode = "morph", a steady glide through a list of classes,
one class every `morph.bars` bars (counted on the downbeats) or `morph.beats` beats (on the
beats), locked to the bar or beat phase (`visualizer.mapping.musical.Cycle`), resting on each for
`morph.hold` of its step, while the latent holds still (`morph.still`, applied by
`visualizer.mapping.poses`) so one pose changes species. The glide ends, and the new class
arrives, on the step's boundary: with `bars` a bar line."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from visualizer.mapping.classmix import check_sequence, glide, sequence
from visualizer.mapping.interpolate import ease
from visualizer.mapping.musical import READS, Cycle, per
from visualizer.mapping.technique import Classes, Frame, Setup, Technique, opt
from visualizer.options import N_CLASSES


@dataclass(frozen=True)
class MorphOptions:
    # Classes the morph glides through in order and cycles (empty = classes.names, else a
    # seeded random sequence). Used when classes.mode = "morph".
    names: tuple = opt((), kind="classes")
    # Beats from one class to the next, 0.25-256, counted on the beats; used when `bars` is 0.
    beats: float = opt(4.0, 0.25, 256.0)
    # Bars from one class to the next, 0-64 (0 = count `beats` instead): counted on the
    # downbeats, so each class arrives on a bar line whatever the meter and tempo.
    bars: float = opt(0.0, 0.0, 64.0)
    # Seconds from one class to the next while no beats are known, 0.1-600.
    seconds: float = opt(2.0, 0.1, 600.0)
    # Share of each step that rests on its class before gliding on, 0-0.9.
    hold: float = opt(0.25, 0.0, 0.9)
    # Hold the latent still (the seed's pose) so the same pose changes species.
    still: bool = opt(True)


class Morph(Technique):
    """State: where the morph is (its `Cycle`, in steps) and the step shown last."""

    name, Options, stage, mode = "morph", MorphOptions, "classes", "morph"
    reads = READS

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._order = setup.rng.permutation(N_CLASSES)  # a random sequence when none is named
        self._cycle = Cycle(setup.fps)
        self._step: int | None = None

    @classmethod
    def check(cls, preset: Any) -> None:
        check_sequence(preset, cls.name)

    def set_preset(self, preset: Any) -> None:
        super().set_preset(preset)
        self._rows = sequence(self.options.names or preset.classes.names, self._order)

    def step(self, frame: Frame, value: None) -> Classes:
        """Rest on row i for `hold` of the step, then glide (slerp, eased) to row i+1."""
        m, rows = self.options, self._rows
        position = self._cycle.step(frame.row, *per(m.beats, m.bars), m.seconds)
        step = math.floor(position)
        self.changed = self._step is not None and step != self._step
        self._step = step
        u = ease(max(0.0, (position - step - m.hold) / (1.0 - m.hold)))
        vector = glide(rows[step % len(rows)], rows[(step + 1) % len(rows)], u, "slerp")
        return Classes(vector, False)
