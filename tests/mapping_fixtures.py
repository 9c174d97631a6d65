"""Synthetic `Features` for mapping tests: known beats, onsets, sections and tempo."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from visualizer.analysis.bars import every_nth_beat, musical_time
from visualizer.analysis.features import Features


def synthetic_features(
    n: int = 300,
    fps: Fraction | int = 30,
    *,
    seed: int = 0,
    tempo: float = 120.0,
    onsets: list[int] | None = None,
    sections: list[int] | None = None,
    meter: int = 4,
) -> Features:
    """``n`` frames of random chroma and bands, a sine energy, beats exactly at ``tempo``, a bar
    every ``meter`` beats from the first."""
    fps = Fraction(fps)
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    beat_period = 60.0 / tempo * float(fps) if tempo > 0 else float("inf")
    beats = np.unique(np.round(np.arange(0, n, beat_period)).astype(np.int64)) if tempo else []
    beats = np.asarray(beats, dtype=np.int64)
    beats = beats[beats < n]  # rounding may land the last beat on frame n
    if onsets is None:
        onsets = np.unique(np.concatenate([beats, rng.choice(n, n // 20, replace=False)]))
    onsets = np.asarray(onsets, dtype=np.int64)
    chroma = rng.random((12, n)).astype(np.float32)
    chroma /= chroma.max(axis=0, keepdims=True)
    energy = (0.5 + 0.5 * np.sin(t / 20.0)).astype(np.float32)
    rise = np.maximum(0.0, np.diff(energy, prepend=energy[:1]))
    rise = (rise / max(float(rise.max(initial=0.0)), 1e-9)).astype(np.float32)
    strength = np.full(n, 0.1, dtype=np.float32)
    strength[onsets] = 1.0
    if sections is None:
        sections = [0, n // 3, 2 * n // 3]
    sections = np.asarray(sections, dtype=np.int64)
    musical = musical_time(
        beats, every_nth_beat(beats, meter), meter, sections, n_frames=n, tempo=float(tempo)
    )
    return Features(
        fps=fps,
        n_frames=n,
        duration=n / float(fps),
        chroma=chroma,
        onset_strength=strength,
        onsets=onsets,
        energy=energy,
        energy_rise=rise,
        bands=rng.random((3, n)).astype(np.float32),
        beats=np.asarray(beats, dtype=np.int64),
        tempo=float(tempo),
        sections=sections,
        **musical,
    )
