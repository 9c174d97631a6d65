"""One picture of a track's features, readable at a glance (matplotlib, Agg backend).

Three panels over a shared time axis in seconds: energy and the three band energies; the chroma
heat map (C at the bottom); the onset envelope with onsets and beats as ticks. Section starts
are dashed vertical lines through every panel.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from visualizer.analysis.features import Features, frame_times
from visualizer.files import atomic_output

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def plot_features(features: Features, path: str | os.PathLike, *, title: str = "") -> Path:
    """Draw ``features`` into a PNG at ``path`` (written atomically); returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    t = frame_times(features.n_frames, features.fps)
    end = max(features.duration, float(t[-1]) if t.size else 0.0, 1e-3)
    fig = Figure(figsize=(14, 8), dpi=100, layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, height_ratios=(1.2, 1.2, 1.0))
    _energy_panel(axes[0], t, features)
    _chroma_panel(axes[1], features, end)
    _events_panel(axes[2], t, features)
    sections = features.sections[features.sections > 0]
    for ax in axes:
        for start in sections:
            ax.axvline(
                float(t[start]), color="black", linestyle="--", linewidth=1.2, alpha=0.6, zorder=0
            )
        ax.set_xlim(0.0, end)
    axes[-1].set_xlabel("time (s)")
    summary = (
        f"{features.n_frames} frames at {_fps_text(features)} fps, {features.duration:.2f} s | "
        f"tempo {features.tempo:.1f} BPM, {features.beats.size} beats, "
        f"{features.downbeats.size} downbeats ({features.meter} per bar), "
        f"{features.onsets.size} onsets, {features.sections.size} sections (dashed lines)"
    )
    fig.suptitle(f"{title}\n{summary}" if title else summary, fontsize=11)
    return _save(fig, Path(path))


def _fps_text(features: Features) -> str:
    fps = features.fps
    return str(fps.numerator) if fps.denominator == 1 else f"{fps} (~{float(fps):.3f})"


def _energy_panel(ax, t: np.ndarray, features: Features) -> None:
    colors = ("tab:red", "tab:green", "tab:blue")
    for band, name, color in zip(features.bands, ("low", "mid", "high"), colors, strict=True):
        ax.plot(t, band, color=color, linewidth=0.8, alpha=0.7, label=f"{name} band")
    ax.fill_between(t, features.energy, color="0.3", alpha=0.35, label="energy (RMS)")
    ax.plot(t, features.energy_rise, color="tab:orange", linewidth=0.8, label="energy rise")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("energy")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)


def _chroma_panel(ax, features: Features, end: float) -> None:
    n = max(features.n_frames, 1)
    span = n / float(features.fps)
    ax.imshow(
        features.chroma,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        extent=(0.0, span, -0.5, 11.5),
        cmap="magma",
        vmin=0.0,
        vmax=1.0,
    )
    ax.set_yticks(range(12), PITCH_CLASSES, fontsize=8)
    ax.set_ylabel("chroma (harmonic)")


def _events_panel(ax, t: np.ndarray, features: Features) -> None:
    ax.plot(t, features.onset_strength, color="0.4", linewidth=0.7, label="onset strength")
    onsets, beats = t[features.onsets], t[features.beats]
    ax.vlines(onsets, 1.05, 1.3, color="tab:purple", linewidth=0.8, label="onsets")
    ax.vlines(beats, 1.35, 1.6, color="tab:green", linewidth=1.0, label="beats")
    # downbeats: taller, darker ticks through the beats' row, so bars read at a glance
    ax.vlines(t[features.downbeats], 1.35, 1.9, color="darkgreen", linewidth=2.0, label="downbeats")
    ax.set_ylim(0, 1.95)
    ticks = [0, 0.5, 1.0, 1.175, 1.475, 1.75]
    ax.set_yticks(ticks, ["0", "0.5", "1", "onsets", "beats", "downbeats"], fontsize=8)
    ax.set_ylabel("onsets / beats / bars")


def _save(fig, path: Path) -> Path:
    with atomic_output(path, suffix=".partial.png") as tmp:
        fig.savefig(tmp, format="png")
    return path
