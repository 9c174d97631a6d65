"""The latent stage: the latent techniques composed in one law, then the poses.

Every latent technique acts on standard normal values ``g`` (128,) in a way that keeps their law
(see `visualizer.mapping.walk` and `visualizer.mapping.warp`), and `to_truncated` maps them to
the truncated normal in [-a, a] (a = ``latent.bound``) that BigGAN-deep is sampled from. So at
every frame, whatever the music does, the latent before truncation has the statistics the
generator was trained and sampled with, while its speed follows the music. With the built-in
techniques, in registry order:

1. the walk starts on the seed's home latent and turns each unit's circle by the walk's
   distance (energy, its rise, idle);
2. hallucination folds back large values (strength from its signal);
3. zoom scales the magnitude up while its signal is above its running mean (down below it);
4. a pulse (onset or beat kick, decaying) blends towards one seeded direction by its angle;
5. the rotary circle (one turn per N beats) is blended in by the angle of its radius;
6. `to_truncated` gives u in [-a, a]; the pose techniques (`poses`) then act on u.

Lengths in latent units (pulse amount, rotary radius, walk distance) are angles in radians of
these rotations: for small values they move the latent by that much per unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from visualizer.mapping.technique import Frame, Technique, opt
from visualizer.mapping.truncation import to_truncated


@dataclass(frozen=True)
class LatentOptions:
    # Truncation bound a, 0.1-4: at every frame the latent before truncation follows the
    # truncated normal in [-a, a] that BigGAN-deep is sampled from (|noise| <= a * truncation).
    bound: float = opt(2.0, 0.1, 4.0)


class LatentStage:
    """The latent before truncation, frame by frame, from the latent and pose techniques."""

    def __init__(
        self, latent: Sequence[Technique], poses: Sequence[Technique], *, home: np.ndarray
    ) -> None:
        self._latent = list(latent)
        self._poses = list(poses)
        self._home = home  # float64 (128,) standard normal values: where the chain starts

    def step(self, frame: Frame, bound: float) -> np.ndarray:
        """float64 (128,) the latent before truncation for ``frame``, in [-bound, bound]."""
        g = self._home
        for technique in self._latent:
            g = technique.step(frame, g)
        u = to_truncated(g, bound)
        for technique in self._poses:
            u = technique.step(frame, u)
        return u
