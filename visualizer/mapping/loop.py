"""Seamless loops (o): the end of a whole Timeline bent back into its start, the [loop] section.

For VJ clip libraries a clip must repeat without a seam. Over the last L frames every path is
pulled towards frame 0, with a smoothstep weight that reaches 1 one frame after the clip ends:
the last frame is one small step before frame 0, as if the clip went on into its own start.
Class vectors blend linearly (rows keep their sum); the latent before truncation glides by
spherical interpolation, which keeps its norm (a linear blend of two latents would shrink it and
soften the picture); the truncation blends linearly. With ``--duration`` the loop has that length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visualizer.mapping.interpolate import ease, slerp
from visualizer.mapping.technique import opt
from visualizer.mapping.timeline import Timeline

AUTO_SHARE = 0.25  # an automatic blend covers a quarter of the clip ...
AUTO_MAX_SECONDS = 2.0  # ... and at most this many seconds


@dataclass(frozen=True)
class LoopOptions:
    # Close the clip into a seamless loop: the last frame flows back into the first (`--loop`).
    enabled: bool = opt(False)
    # Seconds over which the end is bent back to the start, 0-30 (0 = a quarter of the clip,
    # at most 2 seconds).
    seconds: float = opt(0.0, 0.0, 30.0)


def blend_frames(n_frames: int, fps: float, seconds: float) -> int:
    """Frames L bent back to the start: ``seconds`` (0 = automatic), at most n_frames - 1."""
    if seconds > 0:
        wanted = round(seconds * fps)
    else:
        wanted = min(round(AUTO_SHARE * n_frames), round(AUTO_MAX_SECONDS * fps))
    return max(0, min(wanted, n_frames - 1))


def close_loop(timeline: Timeline, seconds: float = 0.0) -> Timeline:
    """A copy of ``timeline`` whose last frame flows back into its first (the path is closed).

    Frame ``T - L + j`` (j = 0 ... L-1) moves ``ease((j + 1) / (L + 1))`` of the way to frame 0;
    frames before the blend are untouched. Timelines of fewer than 3 frames come back as is.
    """
    n = timeline.n_frames
    length = blend_frames(n, float(timeline.fps), seconds)
    if length < 2:
        return timeline
    classes = timeline.class_vectors.copy()
    truncation = timeline.truncation.copy()
    latent = timeline.noise.astype(np.float64) / timeline.truncation[:, None]
    first = latent[0].copy()
    for j in range(length):
        i = n - length + j
        w = ease((j + 1) / (length + 1))
        classes[i] = (1.0 - w) * classes[i] + w * classes[0]
        truncation[i] = (1.0 - w) * truncation[i] + w * truncation[0]
        latent[i] = slerp(latent[i], first, w)
    noise = (latent * truncation[:, None].astype(np.float64)).astype(np.float32)
    noise[: n - length] = timeline.noise[: n - length]  # untouched rows stay bit-identical
    return Timeline(classes, noise, truncation, timeline.fps, timeline.seed, timeline.preset)
