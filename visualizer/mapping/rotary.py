"""Rotary motion (technique i): the latent circles in a seeded random plane, locked to the music.

The plane is spanned by two orthogonal directions with one latent unit of RMS per component; one
turn takes ``bars`` bars counted on the analysis's downbeats, else ``beats`` beats counted on its
beats (`visualizer.mapping.musical.Cycle`: driven by the bar or beat phase, so the circle stays in
phase with the bar lines through tempo changes), or ``seconds`` while no beats are known. The
circle is blended in at the angle of its radius, so the latent keeps its law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from visualizer.mapping.musical import READS, Cycle, per
from visualizer.mapping.technique import Frame, Setup, Technique, opt
from visualizer.mapping.warp import blend
from visualizer.options import LATENT_SIZE


@dataclass(frozen=True)
class RotaryOptions:
    # Radius of the circle in latent units per component, 0-2 (0 = off): an angle in radians,
    # blended in so the latent keeps its law.
    radius: float = opt(0.0, 0.0, 2.0)
    # Beats per turn, 0.25-64, counted on the beats (the circle follows the tempo); used when
    # `bars` is 0.
    beats: float = opt(4.0, 0.25, 64.0)
    # Bars per turn, 0-64 (0 = count `beats` instead): counted on the downbeats and locked to
    # the bar phase, so a turn starts on a bar line whatever the meter and tempo.
    bars: float = opt(0.0, 0.0, 64.0)
    # Seconds per turn while no beats are known, 0.1-600.
    seconds: float = opt(2.0, 0.1, 600.0)


def random_plane(rng: np.random.Generator, dim: int = 128) -> np.ndarray:
    """(2, dim) orthogonal directions, each with RMS 1 per component."""
    q, _ = np.linalg.qr(rng.standard_normal((dim, 2)))
    return q.T * math.sqrt(dim)


class Rotary(Technique):
    """Draws the plane; state: where the turn is (its `Cycle`), moving even while the radius is
    0, so a live radius change does not restart the circle."""

    name, Options, stage = "rotary", RotaryOptions, "latent"
    reads = READS

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._plane = random_plane(setup.rng, LATENT_SIZE)
        self._cycle = Cycle(setup.fps)

    def step(self, frame: Frame, value: np.ndarray) -> np.ndarray:
        r = self.options
        turns = self._cycle.step(frame.row, *per(r.beats, r.bars), r.seconds)
        if r.radius <= 0:
            return value
        phase = 2.0 * math.pi * turns
        circle = math.cos(phase) * self._plane[0] + math.sin(phase) * self._plane[1]
        return blend(value, circle, r.radius)
