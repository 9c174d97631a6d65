"""Background hallucination (technique g): the seeds' ``sin(z)`` fold, strength from a signal.

Small latent values stay, large ones fold back (`visualizer.mapping.warp.hallucinate`, which
keeps the normal law), so as the latent moves its large units turn round and backgrounds churn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visualizer.mapping.routing import signal
from visualizer.mapping.technique import FEATURES, Drive, Frame, Technique, opt
from visualizer.mapping.warp import hallucinate


@dataclass(frozen=True)
class HallucinateOptions:
    # Strength of the sin(z) fold at full signal, 0-1 (0 = off): small values stay, values
    # beyond the fold point fold back (the law is kept).
    amount: float = opt(0.0, 0.0, 1.0)
    # Frequency of the sine, 0.25-8: at full strength values fold back from where
    # sin(frequency * z) turns, pi / (2 * frequency).
    frequency: float = opt(2.0, 0.25, 8.0)
    # Signal that sets the strength, of the mix or of a stem ("vocals.energy").
    feature: str = signal("high", FEATURES)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = opt(0.5, 0.0, 10.0)


class Hallucinate(Technique):
    """No state beyond its smoothed signal."""

    name, Options, stage = "hallucinate", HallucinateOptions, "latent"

    def drive(self, options: HallucinateOptions) -> Drive:
        return Drive(options.feature, options.smoothing)

    def step(self, frame: Frame, value: np.ndarray) -> np.ndarray:
        h = self.options
        strength = h.amount * frame.drives[self.name]
        return hallucinate(value, strength, h.frequency, self.preset.latent.bound)
