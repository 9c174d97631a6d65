"""Energy -> latent motion (technique d): a walk whose stationary law is the latent's own.

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

import numpy as np

QUARTER = 0.5 * math.pi


class LatentWalk:
    """State: each unit's circle (a, b), phase in [0, pi/2), speed factor, and the generator
    that draws the next circles. ``step`` returns float64 (128,) standard normal values."""

    def __init__(self, rng: np.random.Generator, start: np.ndarray, speeds: np.ndarray) -> None:
        self._rng = rng
        self.a = np.asarray(start, dtype=np.float64).copy()
        self.b = rng.standard_normal(self.a.shape[0])
        self.phase = np.zeros(self.a.shape[0])
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
