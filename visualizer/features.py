"""Audio features on the video frame clock.

Frame ``i`` is shown at ``t_i = i / fps``; every per-frame array describes the audio at ``t_i``.
(The analysis code is being written; the data types below are the contract other stages use.)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Features:
    """Per-frame features of a track. T = n_frames. All float arrays are float32."""

    fps: Fraction  # exact frame rate
    n_frames: int  # T; video and audio durations differ by < 1 frame period
    duration: float  # seconds of audio analysed
    chroma: np.ndarray  # (12, T) in [0, 1]; each column max-normalised (all 0 in silence); C=0
    onset_strength: np.ndarray  # (T,) in [0, 1]; percussive onset envelope, max-pooled per frame
    onsets: np.ndarray  # (K,) int64 sorted unique frame indices of detected onsets
    energy: np.ndarray  # (T,) in [0, 1]; loudness (RMS), normalised over the track
    energy_rise: np.ndarray  # (T,) in [0, 1]; positive part of energy's rise, normalised
    bands: np.ndarray  # (3, T) in [0, 1]; low / mid / high band energies, each normalised
    beats: np.ndarray  # (B,) int64 sorted unique frame indices of beats
    tempo: float  # beats per minute (0.0 when no beat was found)
    sections: np.ndarray  # (S,) int64 sorted frame indices where sections start; [0] when T > 0


@dataclass(frozen=True)
class FrameFeatures:
    """One frame's features, as the causal (frame-by-frame) mapping and live mode consume them.

    Same definitions and ranges as the matching column of `Features`.
    """

    index: int  # frame index i
    chroma: np.ndarray  # (12,) in [0, 1]
    onset_strength: float  # [0, 1]
    is_onset: bool
    energy: float  # [0, 1]
    energy_rise: float  # [0, 1]
    bands: np.ndarray  # (3,) in [0, 1]
    is_beat: bool
    is_section_start: bool
    tempo: float  # current tempo estimate in BPM (0.0 when unknown)


def frame_features(features: Features, index: int) -> FrameFeatures:
    """The row of ``features`` at frame ``index`` (0 <= index < n_frames)."""
    return FrameFeatures(
        index=index,
        chroma=features.chroma[:, index],
        onset_strength=float(features.onset_strength[index]),
        is_onset=bool(np.isin(index, features.onsets)),
        energy=float(features.energy[index]),
        energy_rise=float(features.energy_rise[index]),
        bands=features.bands[:, index],
        is_beat=bool(np.isin(index, features.beats)),
        is_section_start=bool(np.isin(index, features.sections)),
        tempo=features.tempo,
    )
