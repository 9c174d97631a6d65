"""The latent's motion: walk, zoom, hallucination, kicks and circles, composed in one law.

Every technique acts on standard normal values ``g`` (128,) in a way that keeps their law (see
`visualizer.mapping.walk` and `visualizer.mapping.warp`), and `to_truncated` maps them to the
truncated normal in [-a, a] that BigGAN-deep is sampled from. So at every frame, whatever the
music does, the latent before truncation has the statistics the generator was trained and
sampled with, while its speed follows the music:

1. the walk turns each unit's circle by the walk's distance (energy, its rise, idle);
2. hallucination folds back large values (strength from its signal);
3. zoom scales the magnitude up while its signal is above its running mean (down below it);
4. a pulse (onset or beat kick, decaying) blends towards one seeded direction by its angle;
5. the rotary circle (one turn per N beats) is blended in by the angle of its radius;
6. `to_truncated` gives u in [-a, a].

Lengths in latent units (pulse amount, rotary radius, walk distance) are angles in radians of
these rotations: for small values they move the latent by that much per unit, as before.
"""

from __future__ import annotations

import math

import numpy as np

from visualizer.analysis.features import FrameFeatures
from visualizer.mapping.presets import Preset
from visualizer.mapping.pulse import Pulse
from visualizer.mapping.rotary import Rotary, period_frames, random_plane
from visualizer.mapping.signals import ema_alpha
from visualizer.mapping.truncation import to_truncated
from visualizer.mapping.walk import LatentWalk, walk_distance
from visualizer.mapping.warp import blend, hallucinate, zoom, zoom_scale
from visualizer.options import LATENT_SIZE

ZOOM_MEAN_SECONDS = 8.0  # zoom follows its signal relative to its mean over this long


class LatentMotion:
    """The latent before truncation, frame by frame. Draws from ``rng`` at construction (start,
    speed factors, second circle points, kick direction, rotation plane) and as the walk goes."""

    def __init__(self, rng: np.random.Generator, *, fps: float) -> None:
        self._fps = fps
        start = rng.standard_normal(LATENT_SIZE)
        speeds = rng.uniform(0.5, 1.0, LATENT_SIZE)
        kick = rng.standard_normal(LATENT_SIZE)
        self._kick = kick / math.sqrt(float(kick @ kick) / LATENT_SIZE)  # rms 1 per unit
        self._plane = random_plane(rng, LATENT_SIZE)
        self._walk = LatentWalk(rng, start, speeds)
        self._pulse = Pulse()
        self._rotary = Rotary()
        self._zoom_mean: float | None = None
        self._zoom_alpha = ema_alpha(ZOOM_MEAN_SECONDS, fps)

    def home(self, bound: float) -> np.ndarray:
        """float64 (128,) the latent of frame 0 before any motion, in [-bound, bound]."""
        return to_truncated(self._walk.position(), bound)

    def step(
        self,
        preset: Preset,
        frame: FrameFeatures,
        walk: float,
        hallucination: float,
        zoom_drive: float,
    ) -> np.ndarray:
        """float64 (128,) the latent before truncation for ``frame``, in [-a, a].

        ``walk``, ``hallucination`` and ``zoom_drive`` are the techniques' signals in [0, 1]
        (the last two smoothed).
        """
        p = preset
        distance = walk_distance(
            walk,
            frame.energy_rise,
            speed=p.walk.speed,
            rise_gain=p.walk.rise,
            idle=p.walk.idle,
            fps=self._fps,
        )
        g = self._walk.step(distance)
        h = p.hallucinate
        g = hallucinate(g, h.amount * hallucination, h.frequency, p.latent.bound)
        g = zoom(g, self._zoom(p.zoom.amount, zoom_drive))
        g = blend(g, self._kick, self._pulse_amount(p, frame))
        r = p.rotary
        cos, sin = self._rotary.step(period_frames(frame.tempo, r.beats, r.seconds, self._fps))
        if r.radius > 0:
            g = blend(g, cos * self._plane[0] + sin * self._plane[1], r.radius)
        return to_truncated(g, p.latent.bound)

    def _zoom(self, amount: float, drive: float) -> float:
        # The running mean is kept even while zoom is off, so turning it on live does not jump.
        mean = drive if self._zoom_mean is None else self._zoom_mean
        self._zoom_mean = mean + self._zoom_alpha * (drive - mean)
        return zoom_scale(drive, mean, amount) if amount > 0 else 1.0

    def _pulse_amount(self, p: Preset, frame: FrameFeatures) -> float:
        # A kick's size follows the onset that triggers it (a beat falls on an onset too), so
        # the latent's speed follows the music's attacks, not just their times.
        kick = 0.0
        triggered = frame.is_onset if p.pulse.trigger == "onsets" else frame.is_beat
        if p.pulse.trigger != "none" and triggered:
            kick = p.pulse.amount * (0.5 + 0.5 * frame.onset_strength)
        return self._pulse.step(kick, decay=p.pulse.decay, fps=self._fps)
