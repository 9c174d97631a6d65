"""Audio features on the video frame clock.

Frame ``i`` is shown at ``t_i = i / fps``; every per-frame array describes the audio at ``t_i``.
The analysis runs at a fine hop (256 samples at 22050 Hz, 11.6 ms) and is then pooled onto the
frames: frame ``i`` gathers the analysis frames whose centres lie in ``[t_i - P/2, t_i + P/2)``
(``P = 1 / fps``). Transient features (onset strength, energy rise) are max-pooled so a short
onset is never lost between frames; steady ones (energy, bands, chroma) are averaged. Event
times (onsets, beats, section starts) become frame ``round(t * fps)``.

One STFT (`visualizer.analysis.spectral`) feeds everything: RMS and three band energies from its
power; median-filter HPSS on its mel spectrogram gives the percussive part, whose log-power flux
is the onset envelope (onsets, tempo, beats: `visualizer.analysis.beats`), and a harmonic mask
that, applied to the linear spectrum below 4 kHz, gives chroma. Sections come from a checkerboard
novelty over beat-synchronous chroma + MFCC (`visualizer.analysis.rhythm`), downbeats and meter
from `visualizer.analysis.downbeats`, phases and phrases from `visualizer.analysis.bars`.
`visualizer.analysis.track` analyses files.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.files import atomic_output


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
    sections: np.ndarray  # (S,) int64 sorted frame indices where sections start, [0] first;
    # the others are downbeats (when there are downbeats)
    # Musical time (`visualizer.analysis.bars` defines the phases and the phrase rule):
    downbeats: np.ndarray  # (D,) int64 sorted unique frame indices of bar starts, a subset of beats
    meter: int  # beats per bar (3, 4, or the detected value); 0 when there are no beats
    beat_phase: np.ndarray  # (T,) in [0, 1); 0 on a beat frame, rising linearly to the next beat
    bar_phase: np.ndarray  # (T,) in [0, 1); 0 on a downbeat frame, rising beat by beat
    phrases: np.ndarray  # (P,) int64 frame indices where phrases (4, 8 or 16 bars) start, a
    # subset of downbeats


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
    beat_phase: float = 0.0  # [0, 1): 0 on a beat, rising to the next
    bar_phase: float = 0.0  # [0, 1): 0 on a downbeat, rising to the next
    is_downbeat: bool = False
    is_phrase_start: bool = False
    meter: int = 4  # beats per bar (0 when there are no beats)


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
        beat_phase=float(features.beat_phase[index]),
        bar_phase=float(features.bar_phase[index]),
        is_downbeat=bool(np.isin(index, features.downbeats)),
        is_phrase_start=bool(np.isin(index, features.phrases)),
        meter=features.meter,
    )


def n_frames_for(duration: float | Fraction, fps: Fraction | int | float) -> int:
    """Number of video frames for ``duration`` seconds of audio at ``fps``: round(duration * fps).

    Rounded to the nearest integer (halves up), so the video (``n / fps`` seconds) and the audio
    differ by at most half a frame period. At least 1: audio shorter than half a frame still
    makes a one-frame video rather than none.
    """
    exact = Fraction(duration) * Fraction(fps)
    return max(1, math.floor(exact + Fraction(1, 2)))


def frame_times(n: int, fps: Fraction | int | float) -> np.ndarray:
    """float64 (n,) times in seconds at which frames 0..n-1 are shown: i / fps."""
    fps = Fraction(fps)
    return np.arange(n, dtype=np.float64) * fps.denominator / fps.numerator


def times_to_frames(times: np.ndarray, fps: Fraction, n_frames: int) -> np.ndarray:
    """Event times (seconds) -> sorted unique int64 frame indices round(t * fps) in [0, T)."""
    fps = Fraction(fps)
    frames = np.floor(np.asarray(times, np.float64) * float(fps) + 0.5).astype(np.int64)
    return np.unique(frames[(frames >= 0) & (frames < n_frames)])


def excerpt_frames(
    start: float, duration: float | None, fps: Fraction, n_total: int
) -> tuple[int, int]:
    """(first frame, frame count) of the excerpt [start, start + duration) of a T-frame track.

    The excerpt starts on the track's frame ``round(start * fps)`` (so its frame ``j`` is the
    track's frame ``first + j``, shown up to half a frame period from ``start + j / fps``) and
    holds ``n_frames_for(duration, fps)`` frames, cut at the end of the track. ``start`` must lie
    before the last frame: the caller checks it against the audio's length first.
    """
    fps = Fraction(fps)
    first = min(max(0, math.floor(Fraction(start) * fps + Fraction(1, 2))), n_total - 1)
    left = n_total - first
    count = left if duration is None else min(left, n_frames_for(duration, fps))
    return first, max(1, count)


def excerpt(features: Features, first: int, count: int) -> Features:
    """Frames ``[first, first + count)`` of ``features``, with the track's context.

    Every array is the matching slice of the whole track's (same normalisation, beat and bar
    phases); events inside the window (onsets, beats, downbeats, phrases) keep their frames,
    shifted by ``first``; ``tempo`` and ``meter`` are the track's; ``sections`` starts with 0 as
    everywhere (the excerpt's first frame opens the section it falls in).
    """
    stop = first + count

    def events(frames: np.ndarray) -> np.ndarray:
        inside = frames[(frames >= first) & (frames < stop)]
        return (inside - first).astype(np.int64)

    sections = events(features.sections)
    if sections.size == 0 or sections[0] != 0:
        sections = np.concatenate([[0], sections]).astype(np.int64)
    fps = Fraction(features.fps)
    return Features(
        fps=fps,
        n_frames=count,
        duration=min(float(Fraction(count) / fps), features.duration - float(first / fps)),
        chroma=features.chroma[:, first:stop],
        onset_strength=features.onset_strength[first:stop],
        onsets=events(features.onsets),
        energy=features.energy[first:stop],
        energy_rise=features.energy_rise[first:stop],
        bands=features.bands[:, first:stop],
        beats=events(features.beats),
        tempo=features.tempo,
        sections=sections,
        downbeats=events(features.downbeats),
        meter=features.meter,
        beat_phase=features.beat_phase[first:stop],
        bar_phase=features.bar_phase[first:stop],
        phrases=events(features.phrases),
    )


def parse_fps_value(fps: Fraction | int | float | str) -> Fraction:
    """``fps`` as an exact positive Fraction; raises FeaturesError naming the bad value."""
    from visualizer.errors import FeaturesError

    try:
        value = Fraction(fps) if not isinstance(fps, float) else Fraction(str(fps))
    except (ValueError, ZeroDivisionError, TypeError):
        raise FeaturesError(
            f"invalid fps {fps!r}: expected a positive number such as 30 or 30000/1001"
        ) from None
    if value <= 0:
        raise FeaturesError(f"invalid fps {fps!r}: expected a positive number")
    return value


# ---------------------------------------------------------------------------------------------
# .npz files: keys are the Features field names, with fps stored as fps_num / fps_den.

_ARRAY_FIELDS = (
    "chroma",
    "onset_strength",
    "onsets",
    "energy",
    "energy_rise",
    "bands",
    "beats",
    "sections",
    "downbeats",
    "beat_phase",
    "bar_phase",
    "phrases",
)
_SCALARS = ("fps_num", "fps_den", "n_frames", "duration", "tempo", "meter")


def save_features(features: Features, path: str | os.PathLike) -> Path:
    """Write ``features`` to ``path`` (.npz) atomically (temporary file renamed when complete).

    Keys: fps_num, fps_den, n_frames, duration, tempo, meter (scalars) and chroma (12, T),
    onset_strength (T,), onsets (K,), energy (T,), energy_rise (T,), bands (3, T), beats (B,),
    sections (S,), downbeats (D,), beat_phase (T,), bar_phase (T,), phrases (P,).
    """

    with atomic_output(path, suffix=".partial.npz") as tmp:
        np.savez(
            tmp,
            fps_num=np.int64(features.fps.numerator),
            fps_den=np.int64(features.fps.denominator),
            n_frames=np.int64(features.n_frames),
            duration=np.float64(features.duration),
            tempo=np.float64(features.tempo),
            meter=np.int64(features.meter),
            **{name: getattr(features, name) for name in _ARRAY_FIELDS},
        )
    return Path(path)


def load_features(path: str | os.PathLike) -> Features:
    """Read a features file written by `save_features`; FeaturesError names file and problem."""
    from visualizer.errors import FeaturesError

    path = Path(path)
    if not path.is_file():
        raise FeaturesError(f"features file not found: {path}")
    keys = (*_SCALARS, *_ARRAY_FIELDS)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in keys if key not in data.files]
            if missing:
                raise FeaturesError(
                    f"{path}: not a features file (missing keys: {', '.join(missing)})"
                )
            arrays = {name: data[name] for name in _ARRAY_FIELDS}
            features = Features(
                fps=Fraction(int(data["fps_num"]), int(data["fps_den"])),
                n_frames=int(data["n_frames"]),
                duration=float(data["duration"]),
                tempo=float(data["tempo"]),
                meter=int(data["meter"]),
                **arrays,
            )
    except FeaturesError:
        raise
    except (OSError, ValueError, EOFError, ZeroDivisionError, KeyError) as error:
        raise FeaturesError(f"{path}: not a readable features .npz ({error})") from None
    except (zipfile.BadZipFile, zlib.error) as error:  # a damaged archive or member
        raise FeaturesError(f"{path}: a damaged features .npz ({error})") from None
    problem = validate_features(features)
    if problem:
        raise FeaturesError(f"{path}: {problem}")
    return features


def validate_features(features: Features) -> str | None:
    """The first inconsistency in ``features`` (shapes, dtypes, ranges) as text, or None."""
    t = features.n_frames
    if t < 0 or features.fps <= 0:
        return f"invalid n_frames {t} or fps {features.fps}"
    shapes = {
        "chroma": (12, t),
        "onset_strength": (t,),
        "energy": (t,),
        "energy_rise": (t,),
        "bands": (3, t),
    }
    for name, shape in shapes.items():
        array = getattr(features, name)
        if array.shape != shape:
            return f"{name} has shape {array.shape}, expected {shape}"
        if not np.isfinite(array).all() or (array.size and (array.min() < 0 or array.max() > 1)):
            return f"{name} must hold finite values in [0, 1]"
    for name in ("beat_phase", "bar_phase"):
        array = getattr(features, name)
        if array.shape != (t,):
            return f"{name} has shape {array.shape}, expected {(t,)}"
        if not np.isfinite(array).all() or (array.size and (array.min() < 0 or array.max() >= 1)):
            return f"{name} must hold finite values in [0, 1)"
    for name in ("onsets", "beats", "sections", "downbeats", "phrases"):
        array = getattr(features, name)
        if array.ndim != 1 or array.dtype.kind not in "iu":
            return f"{name} must be a 1-D integer array, got {array.dtype} {array.shape}"
        if array.size and (array.min() < 0 or array.max() >= t or np.any(np.diff(array) <= 0)):
            return f"{name} must hold sorted unique frame indices in [0, {t})"
    if not math.isfinite(features.tempo) or features.tempo < 0:
        return f"tempo must be >= 0, got {features.tempo}"
    return _musical_time_problem(features)


def _musical_time_problem(features: Features) -> str | None:
    """The first inconsistency between beats, downbeats, phrases and meter, or None."""
    if not np.isin(features.downbeats, features.beats).all():
        return "downbeats must be a subset of beats"
    if not np.isin(features.phrases, features.downbeats).all():
        return "phrases must start on downbeats"
    if features.meter < 0 or (features.beats.size and features.meter == 0):
        return f"meter must be > 0 when there are beats (0 without), got {features.meter}"
    return None
