"""Latent keyframes (technique m): the latent glides between chosen poses while the class holds.

A pose is a latent before truncation (128 values, the truncated normal the seed draws): a seed
(``7`` draws the pose seed 7 gives), a saved ``.npy`` of 128 values, or ``clip.npz@120`` (frame
120 of a saved Timeline, ``noise / truncation``). Poses change on sections, every N beats or at
given times (`visualizer.mapping.interpolate` segments, exact endpoints, smoothstep), gliding by
spherical interpolation, so the composition morphs while the classes do whatever classes.mode
says: the "moves in latent space as well as class space" effect.

The music-driven motion is mixed in as ``sqrt(1 - m^2) * pose + m * motion`` (``m`` =
`poses.motion`): for two independent latents with the same law the mix keeps that law (the
weights' squares sum to 1), so the latent keeps the truncated-normal statistics BigGAN expects.
With ``m = 0`` and one pose the latent holds still, as a class morph wants (`morph.still`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from visualizer.analysis.features import Features, FrameFeatures
from visualizer.errors import PresetError, TimelineError
from visualizer.mapping.crossfade import min_segment
from visualizer.mapping.interpolate import Segmenter, boundaries, ease, segments_offline, slerp
from visualizer.mapping.presets import Preset
from visualizer.mapping.timeline import load as load_timeline
from visualizer.mapping.truncation import truncated_normal
from visualizer.options import LATENT_SIZE


def load_pose(item: int | str, bound: float) -> np.ndarray:
    """float64 (128,) latent before truncation, within [-bound, bound], for one pose item."""
    if isinstance(item, int):
        return truncated_normal(np.random.default_rng(item), LATENT_SIZE, bound)
    path, _, frame = item.rpartition("@") if ".npz@" in item else (item, "", "")
    try:
        if frame:
            saved = load_timeline(path)
            index = int(frame)
            if index >= saved.n_frames:
                raise PresetError(
                    f"poses.seeds: {item!r} asks for frame {index} of a {saved.n_frames}-frame "
                    "timeline"
                )
            pose = saved.noise[index] / saved.truncation[index]
        else:
            pose = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError, TimelineError) as error:
        raise PresetError(f"poses.seeds: cannot read the pose {item!r} ({error})") from None
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (LATENT_SIZE,) or not np.isfinite(pose).all():
        raise PresetError(
            f"poses.seeds: {item!r} must hold {LATENT_SIZE} finite numbers, got shape {pose.shape}"
        )
    return np.clip(pose, -bound, bound)


class PoseTrack:
    """The latent between poses, frame by frame; inactive when the preset asks for no poses."""

    def __init__(self, preset: Preset, *, home: np.ndarray, fps: float) -> None:
        self._home = home  # the seed's own latent: the pose of a still morph without poses
        self._fps = fps
        self._segmenter = Segmenter()
        self._planned: list[tuple[int, float]] | None = None
        self.set_preset(preset)

    def set_preset(self, preset: Preset) -> None:
        p = preset.poses
        self.preset = preset
        still = preset.classes.mode == "morph" and preset.morph.still
        self.active = bool(p.seeds) or still
        bound = preset.latent.bound
        self._poses = [load_pose(item, bound) for item in p.seeds] or [self._home]
        self._motion = p.motion if p.seeds else 0.0
        times = [round(t * self._fps) for t in p.times]
        self._time_starts = np.array(sorted({0, *times}), dtype=np.int64)

    def plan(self, features: Features) -> None:
        """Use the exact segment ends of the whole track (offline look-ahead)."""
        p = self.preset.poses
        starts = boundaries(
            p.key, features.n_frames, sections=features.sections, beats=features.beats,
            every=p.every, times=p.times, fps=self._fps,
            min_gap=min_segment(self.preset.classes.crossfade, features.tempo, self._fps),
        )  # fmt: skip
        index, progress = segments_offline(starts, features.n_frames)
        self._planned = list(zip(index.tolist(), progress.tolist(), strict=True))

    def step(self, frame: FrameFeatures, motion: np.ndarray) -> np.ndarray:
        """The latent (128,) before truncation: ``motion`` itself when inactive, else the pose
        of this frame with ``poses.motion`` of the music-driven ``motion`` mixed in."""
        if not self.active:
            return motion
        p = self.preset.poses
        if self._planned is not None:
            segment, progress = self._planned[frame.index]
        else:
            segment, progress = self._segmenter.step(
                frame.index, key=p.key, is_section_start=frame.is_section_start,
                is_beat=frame.is_beat, every=p.every, time_starts=self._time_starts,
                tempo=frame.tempo, fps=self._fps, guess=p.guess,
            )  # fmt: skip
        poses = self._poses
        a, b = poses[segment % len(poses)], poses[(segment + 1) % len(poses)]
        # A slerp of two such latents is a rotation: their law is kept, the bound is not quite.
        bound = self.preset.latent.bound
        pose = a if a is b else np.clip(slerp(a, b, ease(progress)), -bound, bound)
        m = self._motion
        return math.sqrt(1.0 - m * m) * pose + m * motion if m > 0 else pose.copy()
