"""Energy -> latent motion (technique d): a noise walk whose step follows energy and its rise.

Every latent unit moves in its own direction (+1 or -1) at its own random speed factor in
[0.5, 1]; a unit that reaches the truncation bound ``a`` turns back, so the walk stays in
[-a, a] for ever without drifting to the edges.
"""

from __future__ import annotations

import numpy as np


class NoiseWalk:
    """State: position (128,) in [-a, a] and direction (128,) of +-1."""

    def __init__(self, start: np.ndarray, directions: np.ndarray, speeds: np.ndarray) -> None:
        self.position = start.astype(np.float64)
        self.direction = directions.astype(np.float64)
        self.speeds = speeds.astype(np.float64)

    def step(self, distance: float, bound: float) -> np.ndarray:
        """Move by ``distance`` latent units (times each unit's speed factor); the position."""
        position = self.position
        position += (distance * self.direction) * self.speeds
        high = position >= bound
        low = position <= -bound
        self.direction[high] = -1.0
        self.direction[low] = 1.0
        np.clip(position, -bound, bound, out=position)
        return position


def walk_distance(
    signal: float, rise: float, *, speed: float, rise_gain: float, idle: float, fps: float
) -> float:
    """Latent units to move this frame: (idle + speed*signal + rise_gain*rise) / fps."""
    return (idle + speed * signal + rise_gain * rise) / fps
