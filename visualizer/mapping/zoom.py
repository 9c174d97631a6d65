"""Natural zoom (technique h): a signal scales the latent's magnitude around its running mean.

Loud bass (above its 8-second mean) scales the latent up, so the subject grows; below the mean it
shrinks, so over a track the latent keeps its statistics (`visualizer.mapping.warp.zoom_scale`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visualizer.mapping.routing import signal
from visualizer.mapping.signals import ema_alpha
from visualizer.mapping.technique import FEATURES, Drive, Frame, Setup, Technique, opt
from visualizer.mapping.warp import zoom, zoom_scale

ZOOM_MEAN_SECONDS = 8.0  # zoom follows its signal relative to its mean over this long


@dataclass(frozen=True)
class ZoomOptions:
    # How much the signal scales the latent's magnitude up around its 8-second mean, 0-1 (0 =
    # off): loud bass zooms in on the subject.
    amount: float = opt(0.0, 0.0, 1.0)
    # Signal that sets the zoom, of the mix or of a stem ("bass.energy").
    feature: str = signal("low", FEATURES)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = opt(0.3, 0.0, 10.0)


class Zoom(Technique):
    """State: the running mean of its signal."""

    name, Options, stage = "zoom", ZoomOptions, "latent"

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._mean: float | None = None
        self._alpha = ema_alpha(ZOOM_MEAN_SECONDS, setup.fps)

    def drive(self, options: ZoomOptions) -> Drive:
        return Drive(options.feature, options.smoothing)

    def step(self, frame: Frame, value: np.ndarray) -> np.ndarray:
        # The running mean is kept even while zoom is off, so turning it on live does not jump.
        drive, amount = frame.drives[self.name], self.options.amount
        mean = drive if self._mean is None else self._mean
        self._mean = mean + self._alpha * (drive - mean)
        return zoom(value, zoom_scale(drive, mean, amount)) if amount > 0 else value
