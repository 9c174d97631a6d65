"""Rotary motion (technique i): the latent circles in a seeded random plane, locked to the beat.

The plane is spanned by two orthogonal directions with one latent unit of RMS per component; one
turn takes ``beats`` beats at the current tempo (or ``seconds`` while the tempo is unknown). The
circle is blended in at the angle of its radius, so the latent keeps its law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from visualizer.mapping.technique import Frame, Setup, Technique, opt
from visualizer.mapping.warp import blend
from visualizer.options import LATENT_SIZE


@dataclass(frozen=True)
class RotaryOptions:
    # Radius of the circle in latent units per component, 0-2 (0 = off): an angle in radians,
    # blended in so the latent keeps its law.
    radius: float = opt(0.0, 0.0, 2.0)
    # Beats per turn, 0.25-64: the period is locked to the tempo.
    beats: float = opt(4.0, 0.25, 64.0)
    # Seconds per turn while the tempo is unknown, 0.1-600.
    seconds: float = opt(2.0, 0.1, 600.0)


def random_plane(rng: np.random.Generator, dim: int = 128) -> np.ndarray:
    """(2, dim) orthogonal directions, each with RMS 1 per component."""
    q, _ = np.linalg.qr(rng.standard_normal((dim, 2)))
    return q.T * math.sqrt(dim)


def period_frames(tempo: float, beats: float, seconds: float, fps: float) -> float:
    """Frames per turn: ``beats`` beats at ``tempo`` BPM, else ``seconds``."""
    return (beats * 60.0 / tempo if tempo > 0 else seconds) * fps


class Rotary(Technique):
    """Draws the plane; state: the phase in radians (0 on the first frame, turning even while
    the radius is 0, so a live radius change does not restart the circle)."""

    name, Options, stage = "rotary", RotaryOptions, "latent"
    reads = ("tempo",)

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._plane = random_plane(setup.rng, LATENT_SIZE)
        self._phase: float | None = None

    def step(self, frame: Frame, value: np.ndarray) -> np.ndarray:
        r = self.options
        period = period_frames(frame.row.tempo, r.beats, r.seconds, self.fps)
        phase = 0.0 if self._phase is None else self._phase + 2.0 * math.pi / period
        self._phase = phase
        if r.radius <= 0:
            return value
        circle = math.cos(phase) * self._plane[0] + math.sin(phase) * self._plane[1]
        return blend(value, circle, r.radius)
