"""Analyse a track: decode it, compute its Features on the frame clock, cache the result.

The one entry point from a file to Features (`analyze_file`) and from decoded samples
(`analyze`); the CLI, the pipeline and the Python API all go through it.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from visualizer.analysis.cache import cache_key, read_cached, write_cached
from visualizer.analysis.decode import DEFAULT_SR, Audio, check_file, load_audio
from visualizer.analysis.features import Features, parse_fps_value
from visualizer.progress import ProgressCallback, report


def analyze(
    audio: Audio, *, fps: Fraction | int | str, progress: ProgressCallback | None = None
) -> Features:
    """Features of ``audio`` (a `visualizer.analysis.decode.Audio`) on the frame clock of ``fps``.

    ``n_frames = n_frames_for(audio.duration, fps)``. Silence gives zero arrays, no onsets, no
    beats, tempo 0 and one section. See `Features` for every array's shape and range.
    """
    from visualizer.analysis.spectral import analyze_samples  # scipy: only when analysing

    fps = parse_fps_value(fps)
    return analyze_samples(audio.samples, audio.sr, fps=fps, progress=progress)


def analyze_file(
    path: str | os.PathLike,
    *,
    fps: Fraction | int | str,
    start: float = 0.0,
    duration: float | None = None,
    progress: ProgressCallback | None = None,
    cache: bool = True,
) -> Features:
    """Load and analyse ``path`` (see `analyze`), reusing a cached result when there is one.

    The cache key is a hash of the file's bytes, ``fps``, ``start``, ``duration`` and the
    analysis version, so a re-render with another preset skips the analysis. A cache hit reports
    one "analyze" progress event labelled "cached".
    """
    path = Path(path)
    fps = parse_fps_value(fps)
    check_file(path)  # a missing file is an AudioError before anything is hashed
    key = cache_key(path, fps=fps, start=start, duration=duration, sr=DEFAULT_SR) if cache else ""
    if cache and (features := read_cached(key)) is not None:
        report(progress, "analyze", 1, 1, "step", "analyze (cached)")
        return features
    audio = load_audio(path, start=start, duration=duration)
    features = analyze(audio, fps=fps, progress=progress)
    if cache:
        write_cached(key, features)
    return features
