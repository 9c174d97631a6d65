"""Onsets or beats -> pulses that kick the latent and decay (technique e).

A kick sets the pulse to at least its size on the trigger frame (so the pulse peaks there), then
the pulse decays exponentially with a time constant in seconds. The latent turns towards one
seeded random direction by the pulse's amount (an angle: `visualizer.mapping.warp.blend`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from visualizer.analysis.features import FrameFeatures
from visualizer.mapping.routing import signal, split_signal
from visualizer.mapping.technique import Frame, Setup, Technique, opt
from visualizer.mapping.warp import blend
from visualizer.options import LATENT_SIZE


@dataclass(frozen=True)
class PulseOptions:
    # What kicks the latent: "onsets", "beats" or "none", of the mix or of a stem
    # ("drums.onsets"); a kick is scaled by the strength of the onset under it, in that source.
    trigger: str = signal("onsets", ("onsets", "beats"), words=("none",))
    # Kick size in latent units, 0-4: an angle in radians towards a seeded direction (the law is
    # kept; pi/2 and above replace the latent by that direction for a moment).
    amount: float = opt(0.4, 0.0, 4.0)
    # Seconds for a kick to fall to 1/e, 0.01-10.
    decay: float = opt(0.2, 0.01, 10.0)


class Envelope:
    """State: the current pulse amount (latent units, >= 0)."""

    def __init__(self) -> None:
        self.amount = 0.0

    def step(self, kick: float, *, decay: float, fps: float) -> float:
        """Decay, then apply this frame's ``kick`` (0 when nothing triggers); the new amount."""
        self.amount *= math.exp(-1.0 / (decay * fps))
        if kick > self.amount:
            self.amount = kick
        return self.amount


class Pulse(Technique):
    """Draws the kick direction (rms 1 per unit); state: the envelope."""

    name, Options, stage = "pulse", PulseOptions, "latent"
    reads = ("is_onset", "is_beat", "onset_strength")

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        kick = setup.rng.standard_normal(LATENT_SIZE)
        self._kick = kick / math.sqrt(float(kick @ kick) / LATENT_SIZE)
        self._envelope = Envelope()

    def step(self, frame: Frame, value: np.ndarray) -> np.ndarray:
        source, trigger = split_signal(self.options.trigger)
        return blend(value, self._kick, self._amount(frame.sources.get(source), trigger))

    def _amount(self, row: FrameFeatures | None, trigger: str) -> float:
        # A kick's size follows the onset that triggers it (a beat falls on an onset too), so
        # the latent's speed follows the music's attacks, not just their times.
        p, kick = self.options, 0.0
        triggered = row is not None and (row.is_onset if trigger == "onsets" else row.is_beat)
        if row is not None and trigger != "none" and triggered:
            kick = p.amount * (0.5 + 0.5 * row.onset_strength)
        return self._envelope.step(kick, decay=p.decay, fps=self.fps)
