"""Class morph (technique l): classes.mode = "morph", a steady, tempo-locked glide through a list
of classes, resting on each for `morph.hold` of its step, while the latent holds still
(`morph.still`, applied by `visualizer.mapping.poses`) so one pose changes species."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from visualizer.mapping.classmix import check_sequence, glide, sequence
from visualizer.mapping.interpolate import ease
from visualizer.mapping.technique import Classes, Frame, Setup, Technique, opt
from visualizer.options import N_CLASSES


@dataclass(frozen=True)
class MorphOptions:
    # Classes the morph glides through in order and cycles (empty = classes.names, else a
    # seeded random sequence). Used when classes.mode = "morph".
    names: tuple = opt((), kind="classes")
    # Beats from one class to the next, 0.25-256: the glide is locked to the tempo.
    beats: float = opt(4.0, 0.25, 256.0)
    # Seconds from one class to the next while the tempo is unknown, 0.1-600.
    seconds: float = opt(2.0, 0.1, 600.0)
    # Share of each step that rests on its class before gliding on, 0-0.9.
    hold: float = opt(0.25, 0.0, 0.9)
    # Hold the latent still (the seed's pose) so the same pose changes species.
    still: bool = opt(True)


class Morph(Technique):
    """State: the steps done so far, fractional."""

    name, Options, stage, mode = "morph", MorphOptions, "classes", "morph"
    reads = ("tempo",)

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._order = setup.rng.permutation(N_CLASSES)  # a random sequence when none is named
        self._phase = 0.0

    @classmethod
    def check(cls, preset: Any) -> None:
        check_sequence(preset, cls.name)

    def set_preset(self, preset: Any) -> None:
        super().set_preset(preset)
        self._rows = sequence(self.options.names or preset.classes.names, self._order)

    def step(self, frame: Frame, value: None) -> Classes:
        """Rest on row i for `hold` of the step, then glide (slerp, eased) to row i+1."""
        m, rows, tempo = self.options, self._rows, frame.row.tempo
        step = int(self._phase)
        u = self._phase - step
        u = ease(max(0.0, (u - m.hold) / (1.0 - m.hold)))
        vector = glide(rows[step % len(rows)], rows[(step + 1) % len(rows)], u, "slerp")
        seconds = m.beats * 60.0 / tempo if tempo > 0 else m.seconds
        self._phase += 1.0 / (seconds * self.fps)
        return Classes(vector, False)
