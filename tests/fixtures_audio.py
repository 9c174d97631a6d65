"""Generated test audio: deterministic, fast, nothing downloaded or committed.

Every generator returns mono float32 samples in [-1, 1] with shape (n,). Import these from any
test (`from tests.fixtures_audio import music_like, write_wav`); the repository root is on the
pytest path.

- `click_track`: broadband clicks at given times (onset ground truth).
- `chord_track`: sustained sine chords, one set of pitch classes per segment (chroma truth).
- `drum_loop`: kick / snare / hi-hat at a steady tempo (beat and tempo truth).
- `music_like`: chords + drums in sections that change every few bars (end-to-end renders).
- `bar_pattern`: bars of 3 or 4 beats with accented downbeats, optionally changing tempo
  (beat, downbeat and meter truth from `bar_pattern_times`).
- `write_wav`, `write_with_ffmpeg`: files on disk in wav, flac, ogg, mp3, m4a or opus.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from visualizer.ffmpeg import ffmpeg_exe

SR = 22050
A4 = 440.0

# container suffix -> ffmpeg encoder arguments (the encoders the imageio-ffmpeg binary ships)
FFMPEG_CODECS: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "m4a": ["-c:a", "aac", "-b:a", "128k"],
    "aac": ["-c:a", "aac", "-b:a", "128k", "-f", "adts"],
    "opus": ["-c:a", "libopus", "-b:a", "96k"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "4"],
    "flac": ["-c:a", "flac"],
    "wav": ["-c:a", "pcm_s16le"],
}


def _n(seconds: float, sr: int) -> int:
    return int(round(seconds * sr))


def _burst(sr: int, seconds: float, decay: float, seed: int) -> np.ndarray:
    """Seeded white noise with an exponential decay (time constant ``decay`` seconds)."""
    n = max(1, _n(seconds, sr))
    t = np.arange(n) / sr
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    return (noise * np.exp(-t / decay)).astype(np.float32)


def _add_at(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Mix ``sound`` into ``out`` from sample ``start``, cropping at the end."""
    if start >= out.size or start < 0:
        return
    stop = min(out.size, start + sound.size)
    out[start:stop] += sound[: stop - start]


def _normalize(y: np.ndarray, peak: float = 0.8) -> np.ndarray:
    top = float(np.max(np.abs(y))) if y.size else 0.0
    return (y * (peak / top) if top > 0 else y).astype(np.float32)


def click_track(times: Sequence[float], sr: int = SR, duration: float | None = None) -> np.ndarray:
    """Broadband clicks (20 ms decaying noise bursts) starting at ``times`` seconds.

    Returns float32 (round(duration * sr),); ``duration`` defaults to the last click + 0.5 s.
    """
    times = [float(t) for t in times]
    if duration is None:
        duration = (max(times) if times else 0.0) + 0.5
    out = np.zeros(_n(duration, sr), np.float32)
    click = _burst(sr, 0.05, 0.008, seed=1)
    for t in times:
        _add_at(out, click, _n(t, sr))
    return np.clip(out * 0.8, -1.0, 1.0)


def pitch_hz(pitch_class: int, octave: int = 4) -> float:
    """Frequency of ``pitch_class`` (C=0 .. B=11) in ``octave`` (A4 = 440 Hz)."""
    midi = 12 * (octave + 1) + pitch_class
    return A4 * 2.0 ** ((midi - 69) / 12)


def _chord(pitch_classes: Sequence[int], n: int, sr: int, octaves=(3, 4)) -> np.ndarray:
    t = np.arange(n) / sr
    y = np.zeros(n, np.float64)
    for pc in pitch_classes:
        for octave in octaves:
            y += np.sin(2 * np.pi * pitch_hz(pc, octave) * t)
    # 10 ms fades so segment edges are not clicks
    fade = min(n // 2, _n(0.01, sr))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[n - fade :] *= ramp[::-1]
    return y.astype(np.float32)


def chord_track(
    pitch_classes_per_segment: Sequence[Sequence[int]],
    seg_seconds: float = 1.0,
    sr: int = SR,
) -> np.ndarray:
    """Sine chords (octaves 3 and 4), one segment of ``seg_seconds`` per pitch-class set.

    ``[[0, 4, 7], [9, 0, 4]]`` is C major then A minor. An empty set is silence.
    Returns float32 (len(segments) * round(seg_seconds * sr),).
    """
    n = _n(seg_seconds, sr)
    parts = [_chord(pcs, n, sr) for pcs in pitch_classes_per_segment]
    y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return _normalize(y, 0.5)


def _kick(sr: int) -> np.ndarray:
    n = _n(0.25, sr)
    t = np.arange(n) / sr
    freq = 50.0 + 100.0 * np.exp(-t / 0.03)  # the pitch drop that makes a kick
    phase = 2 * np.pi * np.cumsum(freq) / sr
    return (np.sin(phase) * np.exp(-t / 0.08)).astype(np.float32)


def drum_loop(bpm: float, seconds: float, sr: int = SR, *, hats: bool = True) -> np.ndarray:
    """A steady 4/4 loop: kick on every beat, snare on 2 and 4, hi-hats on eighths.

    The first beat is at t = 0. Returns float32 (round(seconds * sr),).
    """
    out = np.zeros(_n(seconds, sr), np.float32)
    period = 60.0 / bpm
    kick = _kick(sr)
    snare = _burst(sr, 0.2, 0.05, seed=2) * 0.6
    hat = _burst(sr, 0.05, 0.01, seed=3) * 0.25
    n_beats = int(np.ceil(seconds / period))
    for b in range(n_beats):
        start = _n(b * period, sr)
        _add_at(out, kick, start)
        if b % 2 == 1:
            _add_at(out, snare, start)
        if hats:
            _add_at(out, hat, start)
            _add_at(out, hat, _n((b + 0.5) * period, sr))
    return _normalize(out)


# Chord progressions for music_like sections (pitch-class sets)
_PROGRESSIONS = [
    [[0, 4, 7], [9, 0, 4], [5, 9, 0], [7, 11, 2]],  # C Am F G
    [[2, 5, 9], [7, 11, 2], [0, 4, 7], [9, 0, 4]],  # Dm G C Am
    [[4, 7, 11], [0, 4, 7], [7, 11, 2], [2, 6, 9]],  # Em C G D
    [[1, 5, 8], [10, 1, 5], [6, 10, 1], [8, 0, 3]],  # Db Bbm Gb Ab
]


def music_like(seconds: float, sr: int = SR, seed: int = 0, *, bpm: float = 120.0) -> np.ndarray:
    """Chords + drums in sections of 8 bars that change key, texture and loudness.

    Deterministic for a given ``seed``. Even sections are quiet pads without hats, odd sections
    are loud with full drums and a bass line, so energy, chroma and sections all move.
    Returns float32 (round(seconds * sr),).
    """
    rng = np.random.default_rng(seed)
    n_total = _n(seconds, sr)
    beat = 60.0 / bpm
    section_seconds = 8 * 4 * beat
    drums_quiet = drum_loop(bpm, section_seconds, sr, hats=False) * 0.4
    drums_loud = drum_loop(bpm, section_seconds, sr)
    out = np.zeros(n_total, np.float32)
    start, index = 0, 0
    while start < n_total:
        progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
        loud = index % 2 == 1
        bar = _n(4 * beat, sr)
        chords = np.concatenate(
            [
                _chord(progression[b % 4], bar, sr, octaves=(4, 5) if loud else (3, 4))
                for b in range(8)
            ]
        )
        if loud:
            bass = np.concatenate([_chord(progression[b % 4][:1], bar, sr, (2,)) for b in range(8)])
            section = 0.25 * chords + 0.3 * bass + drums_loud[: chords.size]
        else:
            section = 0.15 * chords + drums_quiet[: chords.size]
        _add_at(out, section.astype(np.float32), start)
        start += chords.size
        index += 1
    return _normalize(out)


def bar_pattern_times(
    meter: int, bpm: float, seconds: float, *, bpm_after: float | None = None, change_at=None
) -> tuple[np.ndarray, np.ndarray]:
    """(beat times, downbeat times) in seconds of `bar_pattern` with the same arguments.

    The first beat (a downbeat) is at t = 0; the tempo steps from ``bpm`` to ``bpm_after`` on the
    first bar line at or after ``change_at`` seconds.
    """
    beats, downbeats, t, index = [], [], 0.0, 0
    while t < seconds - 1e-9:
        if index % meter == 0:
            if bpm_after is not None and change_at is not None and t >= change_at:
                bpm = bpm_after
            downbeats.append(t)
        beats.append(t)
        t += 60.0 / bpm
        index += 1
    return np.asarray(beats), np.asarray(downbeats)


def bar_pattern(
    meter: int,
    bpm: float,
    seconds: float,
    sr: int = SR,
    *,
    bpm_after: float | None = None,
    change_at: float | None = None,
) -> np.ndarray:
    """Bars of ``meter`` beats: on each downbeat a kick, a low bass note and a new chord; the
    other beats a snare-like noise burst and a hi-hat, softer. The chords cycle through a
    four-bar progression, so harmony changes on every bar line. Returns float32
    (round(seconds * sr),); times in `bar_pattern_times`.
    """
    beats, downbeats = bar_pattern_times(
        meter, bpm, seconds, bpm_after=bpm_after, change_at=change_at
    )
    out = np.zeros(_n(seconds, sr), np.float32)
    kick, snare = _kick(sr), _burst(sr, 0.15, 0.04, seed=2) * 0.35
    hat = _burst(sr, 0.05, 0.01, seed=3) * 0.2
    bar_ends = np.append(downbeats[1:], seconds)
    for bar, (start, stop) in enumerate(zip(downbeats, bar_ends, strict=True)):
        chord = _PROGRESSIONS[0][bar % 4]
        n = _n(stop - start, sr)
        _add_at(out, 0.12 * _chord(chord, n, sr, octaves=(4,)), _n(start, sr))
        _add_at(out, 0.3 * _chord(chord[:1], n, sr, octaves=(2,)), _n(start, sr))
        _add_at(out, kick, _n(start, sr))
    for t in beats:
        if not np.isclose(downbeats, t).any():
            _add_at(out, snare, _n(t, sr))
        _add_at(out, hat, _n(t, sr))
    return _normalize(out)


def write_wav(path: str | os.PathLike, samples: np.ndarray, sr: int = SR) -> Path:
    """Write ``samples`` ((n,) or (n, channels), float in [-1, 1]) as 16-bit PCM wav."""
    path = Path(path)
    sf.write(path, np.asarray(samples, np.float32), sr, subtype="PCM_16")
    return path


def write_with_ffmpeg(
    path: str | os.PathLike, samples: np.ndarray, sr: int = SR, codec: str | None = None
) -> Path:
    """Encode ``samples`` with the imageio-ffmpeg binary; ``codec`` defaults to the suffix.

    ``codec`` is one of `FFMPEG_CODECS` (mp3, m4a, aac, opus, ogg, flac, wav). Opus only takes
    8/12/16/24/48 kHz input, so ffmpeg resamples to 48 kHz for it.
    """
    path = Path(path)
    codec = codec or path.suffix.lstrip(".").lower()
    if codec not in FFMPEG_CODECS:
        raise ValueError(f"unknown codec {codec!r}: expected one of {', '.join(FFMPEG_CODECS)}")
    samples = np.asarray(samples, np.float32)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y"]
    args += ["-f", "f32le", "-ar", str(sr), "-ac", str(channels), "-i", "pipe:0"]
    if codec == "opus":
        args += ["-ar", "48000"]
    args += FFMPEG_CODECS[codec] + [str(path)]
    subprocess.run(args, input=samples.tobytes(), check=True, capture_output=True)
    return path


def temp_audio_dir() -> Path:
    """A fresh temporary folder (for scripts outside pytest, e.g. benchmarks)."""
    return Path(tempfile.mkdtemp(prefix="visualizer-audio-"))
