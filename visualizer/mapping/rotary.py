"""Rotary motion (technique i): the latent circles in a seeded random plane, locked to the beat.

The plane is spanned by two orthogonal directions with one latent unit of RMS per component; one
turn takes ``beats`` beats at the current tempo (or ``seconds`` while the tempo is unknown).
"""

from __future__ import annotations

import math

import numpy as np


def random_plane(rng: np.random.Generator, dim: int = 128) -> np.ndarray:
    """(2, dim) orthogonal directions, each with RMS 1 per component."""
    q, _ = np.linalg.qr(rng.standard_normal((dim, 2)))
    return q.T * math.sqrt(dim)


def period_frames(tempo: float, beats: float, seconds: float, fps: float) -> float:
    """Frames per turn: ``beats`` beats at ``tempo`` BPM, else ``seconds``."""
    return (beats * 60.0 / tempo if tempo > 0 else seconds) * fps


class Rotary:
    """State: the phase in radians (0 on the first frame)."""

    def __init__(self) -> None:
        self.phase = None

    def step(self, period: float) -> tuple[float, float]:
        """Advance one frame; (cos, sin) of the phase."""
        self.phase = 0.0 if self.phase is None else self.phase + 2.0 * math.pi / period
        return math.cos(self.phase), math.sin(self.phase)
