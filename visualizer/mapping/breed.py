"""Breeding two classes (technique c): classes.mode = "breed", ``y = a*y1 + (1-a)*y2`` with
``a`` driven by a signal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from visualizer.errors import PresetError
from visualizer.mapping.arithmetic import spec_vectors
from visualizer.mapping.classmix import one_hot
from visualizer.mapping.routing import signal
from visualizer.mapping.technique import FEATURES, Classes, Drive, Frame, Setup, Technique, opt
from visualizer.options import N_CLASSES


@dataclass(frozen=True)
class BreedOptions:
    # The two classes y1, y2 of `a*y1 + (1-a)*y2`; empty = a seeded random pair.
    names: tuple = opt((), kind="classes")
    # Signal that drives `a`, of the mix or of a stem ("vocals.energy").
    feature: str = signal("energy", FEATURES)
    # `a` when the signal is 0 and when it is 1, each 0-1 (min > max inverts).
    min: float = opt(0.0, 0.0, 1.0)
    max: float = opt(1.0, 0.0, 1.0)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = opt(0.5, 0.0, 10.0)


def breed_weight(signal: float, low: float, high: float) -> float:
    """``a`` in [0, 1] for a signal in [0, 1]: ``low`` at 0, ``high`` at 1 (linear between)."""
    return low + (high - low) * min(1.0, max(0.0, signal))


class Breed(Technique):
    """The pair's mix follows the smoothed signal."""

    name, Options, stage, mode = "breed", BreedOptions, "classes", "breed"

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._pair = one_hot(setup.rng.permutation(N_CLASSES)[:2])  # when none is named

    @classmethod
    def check(cls, preset: Any) -> None:
        count = len(spec_vectors(preset.breed.names))
        if preset.breed.names and count != 2:
            raise PresetError(
                f"breed.names needs exactly 2 classes (or none for a random pair), got {count}"
            )
        count = len(spec_vectors(preset.classes.names))
        if preset.classes.mode == cls.mode and not preset.breed.names and count not in (0, 2):
            raise PresetError(
                f"classes.names (used as breed.names) needs exactly 2 classes, got {count}"
            )

    def drive(self, options: BreedOptions) -> Drive:
        return Drive(options.feature, options.smoothing)

    def set_preset(self, preset: Any) -> None:
        super().set_preset(preset)
        bred = spec_vectors(self.options.names or preset.classes.names)
        self._bred = bred if len(bred) == 2 else self._pair

    def step(self, frame: Frame, value: None) -> Classes:
        b = self.options
        a = breed_weight(frame.drives[self.name], b.min, b.max)
        return Classes(a * self._bred[0] + (1.0 - a) * self._bred[1], False)
