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
With ``m = 0`` and one pose the latent holds still, as a class morph wants (`morph.still`: the
pose is then the seed's home latent).
"""

from __future__ import annotations

import math
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visualizer.analysis.features import Features
from visualizer.errors import PresetError, TimelineError
from visualizer.mapping.crossfade import min_segment
from visualizer.mapping.interpolate import Segments, check_times, ease, slerp
from visualizer.mapping.technique import Frame, Setup, Technique, check_seed, opt
from visualizer.mapping.timeline import load as load_timeline
from visualizer.mapping.truncation import to_truncated, truncated_normal
from visualizer.options import LATENT_SIZE

MAX_POSE_BYTES = 1 << 20  # a pose .npy holds 128 numbers (about 1 KB)


def check_pose(key: str, item: Any) -> int | str:
    """A seed (0 to 2**63-1) or a saved latent reference ("pose.npy", "clip.npz@FRAME")."""
    if isinstance(item, int) and not isinstance(item, bool):
        return check_seed(item)
    if isinstance(item, str) and item.endswith(".npy"):
        return item
    if isinstance(item, str) and ".npz@" in item and item.rpartition("@")[2].isdigit():
        return item
    raise PresetError(
        f"{key} must list seeds or saved latents ('pose.npy', 'clip.npz@FRAME'), got {item!r}"
    )


@dataclass(frozen=True)
class PosesOptions:
    # Latent keyframes (m): seeds (integers) or saved latents ("pose.npy" holding 128 values
    # before truncation, or "clip.npz@120" for frame 120 of a saved Timeline); the latent glides
    # from pose to pose (slerp) while the classes do what classes.mode says. Empty = off.
    seeds: tuple = opt((), kind="poses", check=check_pose)
    # What starts the glide to the next pose: "sections", every `every` "beats", or "times".
    key: str = opt("sections", choices=("sections", "beats", "times"))
    # Beats per pose when key = "beats", 1-256.
    every: int = opt(8, 1, 256)
    # Pose start times in seconds when key = "times", increasing, >= 0 (0 is implied).
    times: tuple = opt((), kind="times")
    # Share of the music-driven motion (walk, pulse, ...) kept around the poses, 0-1 (0 = the
    # latent follows the poses alone). Mixed so the latent keeps its statistics.
    motion: float = opt(0.3, 0.0, 1.0)
    # Seconds assumed for a segment whose end is not known yet (live mode), 0.5-600.
    guess: float = opt(16.0, 0.5, 600.0)


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
            pose = np.load(_pose_file(Path(path)), allow_pickle=False)
    except (OSError, ValueError, TimelineError) as error:
        raise PresetError(f"poses.seeds: cannot read the pose {item!r} ({error})") from None
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (LATENT_SIZE,) or not np.isfinite(pose).all():
        raise PresetError(
            f"poses.seeds: {item!r} must hold {LATENT_SIZE} finite numbers, got shape {pose.shape}"
        )
    return np.clip(pose, -bound, bound)


def _pose_file(path: Path) -> Path:
    """``path`` once it is a regular file of at most `MAX_POSE_BYTES` (a FIFO would hold the
    render for ever, a huge file fill memory); OSError saying why otherwise."""
    status = path.stat()  # FileNotFoundError names the path
    if not stat.S_ISREG(status.st_mode):
        raise OSError(f"not a regular file: {path}")
    if status.st_size > MAX_POSE_BYTES:
        raise OSError(f"{status.st_size:,} bytes, more than a pose of {LATENT_SIZE} numbers")
    return path


class Poses(Technique):
    """The latent between poses, frame by frame; inactive when the preset asks for no poses
    and no still morph."""

    name, Options, stage = "poses", PosesOptions, "pose"
    reads = ("is_section_start", "is_beat", "tempo")

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._home = setup.home  # the seed's own latent: the pose of a still morph without poses
        self._segments = Segments(setup.fps)

    @classmethod
    def check(cls, preset: Any) -> None:
        check_times(cls.name, preset.poses, bool(preset.poses.seeds))

    def set_preset(self, preset: Any) -> None:
        super().set_preset(preset)
        p, bound = self.options, preset.latent.bound
        self.active = bool(p.seeds) or (preset.classes.mode == "morph" and preset.morph.still)
        home = [to_truncated(self._home, bound)]
        self._poses = [load_pose(item, bound) for item in p.seeds] or home
        self._motion = p.motion if p.seeds else 0.0

    def plan(self, features: Features) -> None:
        gap = min_segment(self.preset.classes.crossfade, features.tempo, self.fps)
        self._segments.plan(features, self.options, min_gap=gap)

    def step(self, frame: Frame, value: np.ndarray) -> np.ndarray:
        """The latent (128,) before truncation: ``value`` itself when inactive, else the pose
        of this frame with ``poses.motion`` of the music-driven ``value`` mixed in."""
        if not self.active:
            return value
        segment, progress = self._segments.step(frame.row, self.options)
        poses = self._poses
        a, b = poses[segment % len(poses)], poses[(segment + 1) % len(poses)]
        # A slerp of two such latents is a rotation: their law is kept, the bound is not quite.
        bound = self.preset.latent.bound
        pose = a if a is b else np.clip(slerp(a, b, ease(progress)), -bound, bound)
        m = self._motion
        return math.sqrt(1.0 - m * m) * pose + m * value if m > 0 else pose.copy()
