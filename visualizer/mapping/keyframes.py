"""Class keyframes (technique b): classes.mode = "keyframes", linear or spherical glides.

The class moves from keyframe s to keyframe s+1 over segment s (sections, every N beats, bars or
phrases, or given times, optionally quantised to the next beat, bar, phrase or section;
`visualizer.mapping.interpolate`), with exact endpoints; the list cycles. A new segment is
a cut, so a live segment that starts before its estimated end crossfades instead of jumping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from visualizer.analysis.features import Features
from visualizer.mapping.classmix import check_sequence, glide, sequence
from visualizer.mapping.crossfade import min_segment
from visualizer.mapping.interpolate import Segments, check_times, ease
from visualizer.mapping.musical import KEYS, QUANTIZE, READS
from visualizer.mapping.technique import Classes, Frame, Setup, Technique, opt
from visualizer.options import N_CLASSES


@dataclass(frozen=True)
class KeyframesOptions:
    # Keyframe classes visited in order and cycled (names or indices); empty = a seeded random
    # sequence. Used when classes.mode = "keyframes".
    names: tuple = opt((), kind="classes")
    # What starts a new segment: each of the "sections", every `every` "beats", "bars" or
    # "phrases" (counted on the analysis's beats, downbeats and phrase starts), or the "times".
    key: str = opt("sections", choices=KEYS)
    # Beats, bars or phrases per segment (the unit `key` names), 1-256.
    every: int = opt(8, 1, 256)
    # A new segment waits for the next "beat", "bar", "phrase" or "section" ("none": at once).
    quantize: str = opt("none", choices=QUANTIZE)
    # Segment start times in seconds when key = "times", increasing, >= 0 (0 is implied).
    times: tuple = opt((), kind="times")
    # "linear" or "slerp" (spherical, constant-speed) between consecutive keyframes.
    interpolation: str = opt("slerp", choices=("linear", "slerp"))
    # Smoothstep the progress (slow in, slow out); segment endpoints stay exact.
    ease: bool = opt(True)
    # Seconds assumed for a segment whose end is not known yet (live mode), 0.5-600.
    guess: float = opt(16.0, 0.5, 600.0)


class Keyframes(Technique):
    """State: the segments so far and the segment shown last."""

    name, Options, stage, mode = "keyframes", KeyframesOptions, "classes", "keyframes"
    reads = READS

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._order = setup.rng.permutation(N_CLASSES)  # a random sequence when none is named
        self._segments = Segments(setup.fps)
        self._segment = 0

    @classmethod
    def check(cls, preset: Any) -> None:
        check_sequence(preset, cls.name)
        check_times(cls.name, preset.keyframes, preset.classes.mode == cls.mode)

    def set_preset(self, preset: Any) -> None:
        super().set_preset(preset)
        self._rows = sequence(self.options.names or preset.classes.names, self._order)

    def plan(self, features: Features) -> None:
        gap = min_segment(self.preset.classes.crossfade, features.tempo, self.fps)
        self._segments.plan(features, self.options, min_gap=gap)

    def step(self, frame: Frame, value: None) -> Classes:
        index, progress = self._segments.step(frame.row, self.options)
        cut, self._segment = index != self._segment, index
        self.changed = cut
        rows, k = self._rows, self.options
        a, b = rows[index % len(rows)], rows[(index + 1) % len(rows)]
        u = ease(progress) if k.ease else progress
        return Classes(glide(a, b, u, k.interpolation), cut)
