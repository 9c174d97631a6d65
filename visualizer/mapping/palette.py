"""Chroma -> class blend over a palette (technique a) and palettes switched by sections (j).

A palette is any number N of distinct classes. The 12 pitch classes are spread evenly around the
palette's circle: with N = 12 pitch k drives class k alone; with fewer classes each class pools
neighbouring pitches; with more, pitches share classes between them (a triangular kernel).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from visualizer.options import N_CLASSES


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
