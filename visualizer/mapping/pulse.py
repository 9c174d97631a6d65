"""Onsets or beats -> pulses that kick the latent and decay (technique e).

A kick sets the pulse to at least its size on the trigger frame (so the pulse peaks there), then
the pulse decays exponentially with a time constant in seconds. The latent moves along one
seeded random direction by the pulse's amount.
"""

from __future__ import annotations

import math


class Pulse:
    """State: the current pulse amount (latent units, >= 0)."""

    def __init__(self) -> None:
        self.amount = 0.0

    def step(self, kick: float, *, decay: float, fps: float) -> float:
        """Decay, then apply this frame's ``kick`` (0 when nothing triggers); the new amount."""
        self.amount *= math.exp(-1.0 / (decay * fps))
        if kick > self.amount:
            self.amount = kick
        return self.amount
