"""Analyse a track: decode it, compute its Features on the frame clock, cache the result.

The one entry point from a file to Features (`analyze_file`) and from decoded samples
(`analyze`); the CLI, the pipeline and the Python API all go through it.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

from visualizer.analysis.bars import anchor_bars, check_anchor
from visualizer.analysis.beat_file import read_beat_file
from visualizer.analysis.cache import cache_key, read_cached, write_cached
from visualizer.analysis.decode import DEFAULT_SR, Audio, check_file, check_window, stream_audio
from visualizer.analysis.features import Features, excerpt, excerpt_frames, parse_fps_value
from visualizer.analysis.neural import check_tracker
from visualizer.errors import AudioError, FeaturesError
from visualizer.options import beat_file_of, split_tracker
from visualizer.progress import ProgressCallback, report

log = logging.getLogger("visualizer")


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
    tracker: str = "dsp",
    downbeat: float | None = None,
) -> Features:
    """Features of ``path`` (see `analyze`), or of its excerpt [start, start + duration).

    ``tracker`` finds beats and downbeats: "dsp" (the project's own, `visualizer.analysis.beats`),
    "dsp:BPM" (the same, asked for the beat at about BPM: the tempo the user hears, where the
    tracker picks another), "beat-this" (the optional neural tracker,
    `visualizer.analysis.neural`) or "file:PATH" (a beats file made elsewhere,
    `visualizer.analysis.beat_file`: FeaturesError when it is unreadable or malformed, or holds
    under 2 beats within the track). ``downbeat``:
    seconds into the file where a bar begins, when the analysis put its bar lines on another beat
    (see `analyze_window`).

    An excerpt is a window of the whole track's analysis (`excerpt`): its rows equal the full
    track's rows for the same frames, with the track's normalisation, tempo, beats and sections,
    and the window's edges are not onsets. So a 30-second try-out shows what the full render
    shows for those seconds.
    """
    features, first, count = analyze_window(
        path,
        fps=fps,
        start=start,
        duration=duration,
        progress=progress,
        cache=cache,
        tracker=tracker,
        downbeat=downbeat,
    )
    if start == 0 and duration is None:
        return features
    return excerpt(features, first, count)


def analyze_window(
    path: str | os.PathLike,
    *,
    fps: Fraction | int | str,
    start: float = 0.0,
    duration: float | None = None,
    progress: ProgressCallback | None = None,
    cache: bool = True,
    tracker: str = "dsp",
    downbeat: float | None = None,
) -> tuple[Features, int, int]:
    """The whole track's Features and its window [start, start + duration) as (first frame,
    frame count): what a render maps (the whole track, whose walk and sections run from its
    start) and which of its frames it keeps. ``features.duration`` is the audio's length.

    The window is checked before anything is analysed (AudioError: under half a frame, or a
    start beyond the end once the length is known). The whole track's analysis is cached under
    a hash of the file's bytes, ``fps``, the beat ``tracker`` and the analysis version, so a
    re-render with another preset, or another excerpt, skips the analysis. A cache hit reports
    one "analyze" progress event labelled "cached".

    ``downbeat`` (``--downbeat``): seconds into the file where the user hears a bar begin; the
    whole track's bar grid is shifted to it (`visualizer.analysis.bars.anchor_bars`) after the
    cache (which keeps the analysis's own grid) and before the window is cut, so every excerpt
    has the same bars. FeaturesError for a time that is no number >= 0 (before the analysis),
    past the end, or in a track without beats or bar lines.
    """
    path = Path(path)
    fps = parse_fps_value(fps)
    tracker = check_tracker(tracker)
    check_file(path)  # a missing file is an AudioError before anything is hashed
    check_window(path, start, duration)
    check_window_length(path, duration, fps)  # before the analysis, not after it
    if downbeat is not None:
        check_anchor(downbeat)
    features = analyze_whole(path, fps, progress, cache, tracker)
    if ogg_truncated(path):  # libsndfile and ffmpeg decode what is there without a word
        log.warning(
            "%s is truncated (its last Ogg page has no end-of-stream mark): using the %.2f s "
            "that decode",
            path,
            features.duration,
        )
    if downbeat is not None:
        features = anchor_bars(features, downbeat)
    first, count = excerpt_window(path, features, start, duration)
    return features, first, count


def ogg_truncated(path: Path) -> bool:
    """True for an Ogg file whose last page is cut short or lacks the end-of-stream flag (a
    download or copy that stopped early). Reads the first 4 and the last 64 KiB bytes only."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"OggS":
            return False
        handle.seek(max(0, os.fstat(handle.fileno()).st_size - (1 << 16)))
        tail = handle.read()
    page = tail[tail.rfind(b"OggS") :] if b"OggS" in tail else b""
    if len(page) < 27 or len(page) < 27 + page[26]:
        return True  # the page header itself is cut
    body = sum(page[27 : 27 + page[26]])  # the segment table: the page's body size
    return len(page) < 27 + page[26] + body or not page[5] & 0x04  # cut, or no EOS flag


def check_window_length(path: str | os.PathLike, duration: float | None, fps: Fraction) -> None:
    """AudioError when a ``duration`` window holds no frame at ``fps`` (under half a frame)."""
    if duration is not None and duration * fps < 0.5:
        raise AudioError(
            f"{path}: a window of {duration:g} s is too short: under half a frame at "
            f"{float(fps):g} fps (--duration at least {0.5 / float(fps):.4g} s)"
        )


def excerpt_window(
    path: str | os.PathLike, features: Features, start: float, duration: float | None
) -> tuple[int, int]:
    """(first frame, frame count) of ``path``'s excerpt in its whole-track ``features``.

    See `visualizer.analysis.features.excerpt_frames`; raises AudioError naming the file when
    ``start`` lies at or beyond the end of the audio.
    """
    if start >= features.duration:
        raise AudioError(
            f"{path}: start {start:g} s is beyond the end of the audio ({features.duration:.3f} s)"
        )
    return excerpt_frames(start, duration, features.fps, features.n_frames)


def analyze_whole(
    path: Path, fps: Fraction, progress: ProgressCallback | None, cache: bool, tracker: str
) -> Features:
    """The whole of ``path``'s Features (checked file, checked ``tracker``), read from the
    cache when it holds them (keyed by the file's bytes) and written there when not."""
    given = None
    beat_file = beat_file_of(tracker)
    if beat_file is not None:  # read (and checked) first: the cache key holds its bytes
        given = read_beat_file(beat_file)
    key = cache_key(path, fps=fps, sr=DEFAULT_SR, tracker=tracker) if cache else ""
    if cache and (features := read_cached(key)) is not None:
        report(progress, "analyze", 1, 1, "step", "analyze (cached)")
        return features
    from visualizer.analysis.spectral import analyze_stream  # scipy: only when analysing

    name, tempo_hint = split_tracker(tracker)
    if name == "beat-this":  # the network reads the whole track at once
        from visualizer.analysis.decode import load_audio
        from visualizer.analysis.neural import beat_times

        given = beat_times(load_audio(path).samples, DEFAULT_SR, progress=progress)
    # decoded and analysed block by block: memory does not grow with the track's length
    features = analyze_stream(
        stream_audio(path),
        DEFAULT_SR,
        fps=fps,
        progress=progress,
        given_beats=given,
        tempo_hint=tempo_hint,
    )
    if beat_file is not None and features.beats.size < 2:
        raise FeaturesError(
            f"beats file {beat_file}: fewer than 2 of its beats lie within {path.name} "
            f"(0 to {features.duration:.2f} s): is it this track's grid?"
        )
    if cache:
        write_cached(key, features)
    return features
