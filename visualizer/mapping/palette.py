"""Chroma -> class blend over a palette (technique a) and palettes switched by sections (j):
classes.mode = "chroma", and the [classes] section every class technique shares. A section's
palette can wait for the next beat, bar, phrase (`classes.quantize`; `visualizer.mapping.musical`).

A palette is any number N of distinct classes. The 12 pitch classes are spread evenly around the
palette's circle: with N = 12 pitch k drives class k alone; with fewer classes each class pools
neighbouring pitches; with more, pitches share classes between them (a triangular kernel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from visualizer.errors import PresetError
from visualizer.mapping.arithmetic import spec_vectors
from visualizer.mapping.classmix import one_hot
from visualizer.mapping.musical import QUANTIZE, READS, Quantizer
from visualizer.mapping.routing import signal, source_of
from visualizer.mapping.technique import CLASS_MODES, Classes, Drive, Frame, Setup, Technique, opt
from visualizer.options import N_CLASSES


@dataclass(frozen=True)
class ClassesOptions:
    # How the class mix is made: "chroma" blend over a palette (a), "keyframes" interpolation (b),
    # "breed" two classes (c), "morph" a steady glide through a list (l), or another registered
    # class technique.
    mode: str = opt("chroma", choices=CLASS_MODES)
    # Palette for "chroma": class names, indices 0-999, themes ("big-cats") or class arithmetic
    # ("tiger + 0.5 volcano"), any count; empty = a seeded random palette of `count` classes
    # (an explicit choice: the built-in presets all name their classes). Also the keyframes /
    # breed / morph classes when those leave names empty, so `--set classes.names=...` works
    # with every mode. A palette is a set: a class listed twice is used once.
    names: tuple = opt((), kind="classes")
    # Size of a random palette (and of each random section palette), 1-1000.
    count: int = opt(12, 1, 1000)
    # Exponent on the per-class chroma weights, 0-20: 0 = an even mix of the whole palette,
    # 1 = proportional to chroma, higher = the strongest pitch class dominates.
    sensitivity: float = opt(3.0, 0.0, 20.0)
    # Time constant of the chroma smoothing in seconds, 0-10 (0 = follow every frame).
    smoothing: float = opt(0.3, 0.0, 10.0)
    # The pitch classes that weigh the palette, of the mix or of a stem ("other.chroma": the
    # harmony without the drums' noise and the bass's roots).
    feature: str = signal("chroma", ("chroma",))
    # "sections": every new section switches to the next palette (j), the mix's sections or a
    # stem's ("vocals.sections": when the singing changes); "none": one palette.
    switch: str = signal("none", ("sections",), words=("none",))
    # Further palettes used in turn at section starts (after `names`); empty = seeded random
    # palettes of `count` classes.
    palettes: tuple = opt((), kind="palettes")
    # A change of classes (a section's palette, a live change of which classes show) waits for
    # the next "beat", "bar", "phrase" or "section" ("none": at once).
    quantize: str = opt("none", choices=QUANTIZE)
    # Beats over which a change of classes (a section's palette, a keyframe, a live preset
    # change) crossfades, 0-16 (0 = a hard cut); 120 BPM is assumed while the tempo is unknown.
    crossfade: float = opt(1.0, 0.0, 16.0)


@cache
def chroma_matrix(n: int) -> np.ndarray:
    """(12, n) float64 weights from pitch classes to palette slots; every column sums > 0."""
    pitch = np.arange(12)[:, None] * (n / 12.0)  # each pitch's position on the palette circle
    slot = np.arange(n)[None, :]
    distance = np.abs(pitch - slot)
    distance = np.minimum(distance, n - distance)  # around the circle
    width = max(1.0, n / 12.0)
    matrix = np.maximum(0.0, 1.0 - distance / width)
    matrix.setflags(write=False)
    return matrix


def chroma_weights(chroma: np.ndarray, matrix: np.ndarray, sensitivity: float) -> np.ndarray:
    """Palette weights (n,) summing to 1 from one chroma column (12,) in [0, 1].

    ``sensitivity`` is an exponent: 0 gives an even mix, larger values let the strongest pitch
    dominate. Silence (all-zero chroma) gives an even mix.
    """
    weights = (chroma @ matrix + 1e-3) ** sensitivity
    return weights / weights.sum()


def random_palette(order: np.ndarray, number: int, count: int) -> np.ndarray:
    """Palette ``number``: ``count`` distinct class indices in turn from a seeded permutation."""
    start = number * count
    return order[(start + np.arange(min(count, N_CLASSES))) % N_CLASSES]


def palette_for_section(
    section: int,
    names: np.ndarray,
    palettes: list[np.ndarray],
    random: Callable[[int], np.ndarray],
    switch: bool,
) -> np.ndarray:
    """The palette rows (n, 1000) in use during ``section`` (0 = the first section).

    Section 0 uses ``names`` (or ``random(0)``, seeded random palette 0, when empty). With
    ``switch``, later sections cycle through ``[names, *palettes]`` when palettes are given,
    else each takes the next seeded random palette. Without ``switch`` every section uses
    section 0's palette.
    """
    if not switch:
        section = 0
    first = names if len(names) else random(0)
    if palettes:
        return [first, *palettes][section % (len(palettes) + 1)]
    return first if section == 0 else random(section)


class Palette(Technique):
    """The chroma weights over the section's palette; a new palette is a cut."""

    name, Options, stage, mode = "classes", ClassesOptions, "classes", "chroma"
    reads = READS

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._quantizer = Quantizer()  # section starts whose palette waits for the grid
        self._order = setup.rng.permutation(N_CLASSES)  # behind every random palette
        self._key: tuple | None = None  # (section, switch) of the palette in use
        self._palette = np.zeros((0, N_CLASSES), dtype=np.float32)  # its rows (n, 1000)
        self._matrix = chroma_matrix(1)  # pitch classes -> its rows (12, n)

    @classmethod
    def check(cls, preset: Any) -> None:
        c = preset.classes
        for i, palette in enumerate(c.palettes):
            if not palette:
                raise PresetError(f"classes.palettes[{i}] is empty: list at least one class")
        if c.palettes and c.switch == "none":
            raise PresetError('classes.palettes is only used with classes.switch = "sections"')

    def drive(self, options: ClassesOptions) -> Drive:
        return Drive(options.feature, options.smoothing)

    def set_preset(self, preset: Any) -> None:
        super().set_preset(preset)
        self._names = spec_vectors(self.options.names, unique=True)
        self._palettes = [spec_vectors(p, unique=True) for p in self.options.palettes]
        self._key = None  # recompute the palette on the next frame

    def step(self, frame: Frame, value: None) -> Classes:
        source = source_of(self.options.switch)  # a section of the mix's or of a stem's
        row = frame.sources[source]
        started = int(row.is_section_start and row.index > 0)
        self._quantizer.step(frame.row, self.options.quantize, started)
        cut = self._update_palette(frame.sections[source] - self._quantizer.waiting)
        self.changed = cut
        weights = chroma_weights(frame.drives[self.name], self._matrix, self.options.sensitivity)
        return Classes(weights @ self._palette, cut)

    def _update_palette(self, section: int) -> bool:
        """Pick the palette of ``section``; True when it changed."""
        c = self.options
        key = (section, c.switch)
        if key == self._key:
            return False

        def random(number: int) -> np.ndarray:
            return one_hot(random_palette(self._order, number, c.count))

        switch = c.switch != "none"
        palette = palette_for_section(section, self._names, self._palettes, random, switch)
        changed = self._key is not None and not np.array_equal(palette, self._palette)
        self._palette, self._key = palette, key
        self._matrix = chroma_matrix(len(palette))
        return changed
