"""Energy -> latent motion (technique d): a walk whose stationary law is the latent's own.

The first latent technique: it starts on the seed's home latent and replaces it, every frame, by
its position on its circles; the other latent techniques act on that position.

Every latent unit ``i`` turns on a circle spanned by two independent standard normal values:
``g_i = cos(phi_i) * a_i + sin(phi_i) * b_i``, which is N(0, 1) at every phase. The music sets how
far the phases turn each frame (``walk_distance``, times each unit's random speed factor in
[0.5, 1]); a unit that completes a quarter turn (``g_i = b_i``) continues on a fresh circle
(``a_i <- b_i``, ``b_i <-`` a new draw). So the walk travels as fast as the music asks, never
reaches an edge to bounce off, and its values keep the normal law for ever: it neither drifts to
the extremes nor flattens towards a uniform law, as a walk that bounces between bounds does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from visualizer.mapping.routing import signal, source_of
from visualizer.mapping.technique import FEATURES, Drive, Frame, Setup, Technique, opt
from visualizer.options import LATENT_SIZE

QUARTER = 0.5 * math.pi


@dataclass(frozen=True)
class WalkOptions:
    # Latent units per second at full drive, 0-20 (each unit also gets a random factor 0.5-1);
    # the walk keeps the latent's law at any speed.
    speed: float = opt(0.6, 0.0, 20.0)
    # Extra speed per unit of energy rise (attacks push harder), 0-20.
    rise: float = opt(2.0, 0.0, 20.0)
    # Latent units per second even in silence, 0-5.
    idle: float = opt(0.05, 0.0, 5.0)
    # Signal that sets the step, of the mix or of a stem ("drums.energy"); its rise is read
    # from the same source.
    feature: str = signal("energy", FEATURES)


class LatentWalk:
    """State: each unit's circle (a, b), phase in [0, pi/2), speed factor, and the generator
    that draws the next circles. ``step`` returns float64 (128,) standard normal values."""

    def __init__(self, rng: np.random.Generator, start: np.ndarray, speeds: np.ndarray) -> None:
        self._rng = rng
        self.a = np.asarray(start, dtype=np.float64).copy()
        self.b = rng.standard_normal(len(self.a))
        self.phase = np.zeros(len(self.a))
        self.speeds = np.asarray(speeds, dtype=np.float64)

    def position(self) -> np.ndarray:
        return np.cos(self.phase) * self.a + np.sin(self.phase) * self.b

    def step(self, distance: float) -> np.ndarray:
        """Turn every unit by ``distance`` radians (times its speed factor); the new values.

        Each unit then moves by about ``distance`` latent units (rms over units).
        """
        self.phase += distance * self.speeds
        done = self.phase >= QUARTER
        while done.any():  # a long step may complete several quarter turns
            self.a[done] = self.b[done]
            self.b[done] = self._rng.standard_normal(int(done.sum()))
            self.phase[done] -= QUARTER
            done = self.phase >= QUARTER
        return self.position()


def walk_distance(
    signal: float, rise: float, *, speed: float, rise_gain: float, idle: float, fps: float
) -> float:
    """Latent units to move this frame: (idle + speed*signal + rise_gain*rise) / fps."""
    return (idle + speed * signal + rise_gain * rise) / fps


class Walk(Technique):
    """Draws each unit's speed factor and second circle point, then a point per finished turn."""

    name, Options, stage = "walk", WalkOptions, "latent"
    reads = ("energy_rise",)

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        speeds = setup.rng.uniform(0.5, 1.0, LATENT_SIZE)
        self._walk = LatentWalk(setup.rng, setup.home, speeds)

    def drive(self, options: WalkOptions) -> Drive:
        return Drive(options.feature, 0.0)  # unsmoothed: the walk's speed follows every attack

    def step(self, frame: Frame, value: np.ndarray) -> np.ndarray:
        w = self.options
        rise = frame.sources[source_of(w.feature)].energy_rise
        distance = walk_distance(
            frame.drives[self.name], rise,
            speed=w.speed, rise_gain=w.rise, idle=w.idle, fps=self.fps,
        )  # fmt: skip
        return self._walk.step(distance)
