"""Stems: the separated parts of a track (drums, bass, vocals, ...) on the mix's frame clock.

A stem is analysed as any track is (`visualizer.analysis.track.analyze_whole`: its own cache
entry, keyed by its bytes), always whole: the mapping reads every source over the whole track and
an excerpt keeps the same frames of each, so an excerpt with stems is the same video as those
seconds of the full render. Its Features then hold exactly the mix's frames (`conform`): a
separator may pad or cut the end, so a stem may differ from the mix's length by up to one frame
period; more is a `StemError` naming the stem.

Sample rate and channels may differ from the mix's: every source is decoded to mono at the
analysis rate (`visualizer.analysis.decode`), so a 44.1 kHz stereo stem of a 48 kHz mix is
resampled and downmixed exactly as the mix is, and `check_stems` says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.analysis.bars import anchor_bars
from visualizer.analysis.decode import AudioFormat, probe_format
from visualizer.analysis.features import Features, excerpt
from visualizer.analysis.track import analyze_whole
from visualizer.errors import StemError
from visualizer.progress import ProgressCallback


def check_stems(track: Path, stems: Mapping[str, Path], fps: Fraction) -> list[str]:
    """Before any work, from the files' headers: a `StemError` for the first stem whose length
    differs from the mix's by more than one frame period at ``fps``; the notes to show for the
    stems whose sample rate or channels differ from the mix's (read as the mix is)."""
    mix = probe_format(track)
    notes = []
    for name, path in stems.items():
        stem = probe_format(path)
        check_length(name, path, stem.duration, track, mix.duration, fps)
        if (stem.sr, stem.channels) != (mix.sr, mix.channels):
            notes.append(
                f"stem {name} ({path}) is {_shape(stem)} and the mix {_shape(mix)}: every source "
                "is read as mono at the analysis rate, so it is resampled and downmixed as the "
                "mix is"
            )
    return notes


def _shape(audio: AudioFormat) -> str:
    channels = {1: "mono", 2: "stereo"}.get(audio.channels, f"{audio.channels} channels")
    return f"{audio.sr} Hz {channels}"


def check_length(
    name: str, path: Path, seconds: float, track: Path, mix_seconds: float, fps: Fraction
) -> None:
    """StemError unless a stem of ``seconds`` matches the mix's ``mix_seconds`` within one frame
    period at ``fps``."""
    period = 1.0 / float(fps)
    if abs(seconds - mix_seconds) > period + 1e-9:
        raise StemError(
            f"stem {name} ({path}) is {seconds:.3f} s long and the mix ({track}) "
            f"{mix_seconds:.3f} s: a stem must match the mix's length within one frame "
            f"({period:.3f} s at {float(fps):g} fps); give the stems the separator wrote for "
            "this track"
        )


def analyze_stem(
    name: str,
    path: str | Path,
    mix: Features,
    *,
    track: Path,
    progress: ProgressCallback | None = None,
    cache: bool = True,
    tracker: str = "dsp",
    downbeat: float | None = None,
) -> Features:
    """The Features of stem ``name`` (the file ``path``) on the frame clock of ``mix``, the
    Features of the whole ``track``: analysed whole, checked against the mix's length
    (`check_length`) and `conform`-ed to the mix's frames.

    ``downbeat`` (the mix's ``--downbeat``, checked with it): the stem's own bar grid is
    shifted to the same time, so its bar lines (and the sections on them) fall where the mix's
    do; a stem whose analysis found no bar lines (a vocal without beats) keeps its analysis."""
    features = analyze_whole(Path(path), mix.fps, progress, cache, tracker)
    check_length(name, Path(path), features.duration, track, mix.duration, mix.fps)
    if downbeat is not None and features.downbeats.size:  # a stem may end a frame early
        features = anchor_bars(features, min(downbeat, features.duration))
    return conform(features, mix.n_frames)


def conform(features: Features, n_frames: int) -> Features:
    """``features`` with exactly ``n_frames`` rows: cut at the end (events beyond it dropped),
    or extended by repeating the last row (no new events). The identity when they match."""
    have = features.n_frames
    if have == n_frames:
        return features
    if have > n_frames:
        return excerpt(features, 0, n_frames)
    extra = n_frames - have

    def extend(array: np.ndarray) -> np.ndarray:
        last = array[..., -1:] if have else np.zeros(array.shape[:-1] + (1,), array.dtype)
        return np.concatenate([array, np.repeat(last, extra, axis=-1)], axis=-1)

    return dataclasses.replace(
        features,
        n_frames=n_frames,
        chroma=extend(features.chroma),
        onset_strength=extend(features.onset_strength),
        energy=extend(features.energy),
        energy_rise=extend(features.energy_rise),
        bands=extend(features.bands),
        beat_phase=extend(features.beat_phase),
        bar_phase=extend(features.bar_phase),
    )
