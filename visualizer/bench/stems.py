"""Stems measured: a song built from separately generated stems, and what its kicks follow.

`stem_song` synthesises drums, bass and chords apart (numpy only), so the truth is known: the
time of every drum hit and of every bass note, which never fall on the same sixteenth. The mix
is their sum. `kick_figures` maps a preset twice, as it is and with its pulse off, and measures
the **kick motion**: ``d_t``, the rms over the 128 units of the latent before truncation
(``u = noise / truncation``) of the difference between the two mappings (the pulse's share of
the latent), and ``k_t = max(0, d_t - d_{t-1})``, how much of it a kick adds at frame ``t`` (0
while a kick decays). Its Pearson correlation at lag 0 with a train of ones on the frames of the
drum hits (``round(t * fps)``) says whether the kicks follow the drums; with the bass notes' train,
whether a bass note kicks too. The latent's law (rms(u), shares beyond 1.5 and 2) is measured on
the preset as it is. Statistics, not timings (`benchmarks/stems_bench.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from visualizer.analysis.features import Features
from visualizer.bench.reactivity import lagged_correlation
from visualizer.mapping.timeline import Timeline

PROGRESSION = ((0, 4, 7), (9, 0, 4), (5, 9, 0), (7, 11, 2))  # C Am F G, a bar each
BASS_STEPS = (1, 3, 7, 9, 11, 15)  # sixteenths of a bar with a bass note: none on an eighth


@dataclass(frozen=True)
class StemSong:
    """A generated song: ``mix`` = the sum of ``stems`` (mono float32 at ``sr``)."""

    mix: np.ndarray
    stems: dict[str, np.ndarray]  # "drums", "bass", "other" (the chords)
    sr: int
    drum_hits: np.ndarray  # (D,) seconds: every kick, snare and hi-hat
    bass_notes: np.ndarray  # (B,) seconds: every bass note's start


def stem_song(seconds: float, sr: int = 22050, *, bpm: float = 120.0, seed: int = 0) -> StemSong:
    """Drums (kick on 1 and 3, snare on 2 and 4, a hi-hat on every eighth), a bass line on
    off-beat sixteenths (`BASS_STEPS`) and sustained chords (`PROGRESSION`), ``seconds`` long."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    sixteenth = 15.0 / bpm
    steps = np.arange(int(seconds / sixteenth) + 1)
    drums, bass, chords = (np.zeros(n, np.float32) for _ in range(3))
    hits, notes = [], []
    for step in steps:
        t, place = step * sixteenth, int(step % 16)
        if place % 2 == 0:  # an eighth: hi-hat, and a kick or a snare on the beats
            _add(drums, _noise(sr, 0.04, 0.008, rng) * 0.3, t, sr)
            if place in (0, 8):
                _add(drums, _kick(sr), t, sr)
            elif place in (4, 12):
                _add(drums, _noise(sr, 0.18, 0.045, rng) * 0.6, t, sr)
            hits.append(t)
        if place in BASS_STEPS:
            root = PROGRESSION[int(step // 16) % len(PROGRESSION)][0]
            _add(bass, _bass_note(sr, 55.0 * 2 ** (root / 12), 0.3, rng), t, sr)
            notes.append(t)
        if place == 0:
            chord = PROGRESSION[int(step // 16) % len(PROGRESSION)]
            _add(chords, _pad(sr, chord, 16 * sixteenth), t, sr)
    stems = {"drums": drums, "bass": 1.2 * bass, "other": 0.25 * chords}
    mix = drums + stems["bass"] + stems["other"]
    scale = 0.9 / max(float(np.abs(mix).max()), 1e-9)  # the stems add up to the mix
    stems = {name: (stem * scale).astype(np.float32) for name, stem in stems.items()}
    inside = lambda times: np.asarray([t for t in times if t < seconds])  # noqa: E731
    return StemSong((mix * scale).astype(np.float32), stems, sr, inside(hits), inside(notes))


def _add(out: np.ndarray, sound: np.ndarray, t: float, sr: int) -> None:
    start = int(round(t * sr))
    stop = min(out.size, start + sound.size)
    if start < stop:
        out[start:stop] += sound[: stop - start]


def _noise(sr: int, seconds: float, decay: float, rng: np.random.Generator) -> np.ndarray:
    time = np.arange(int(seconds * sr)) / sr
    return (rng.uniform(-1, 1, time.size) * np.exp(-time / decay)).astype(np.float32)


def _kick(sr: int) -> np.ndarray:
    time = np.arange(int(0.25 * sr)) / sr
    phase = 2 * np.pi * np.cumsum(50.0 + 100.0 * np.exp(-time / 0.03)) / sr
    return (np.sin(phase) * np.exp(-time / 0.08)).astype(np.float32)


def _bass_note(sr: int, hz: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A picked bass: a few harmonics decaying over 0.12 s after the pick's click (broadband,
    5 ms), which a mix's onset detector hears as a hit."""
    time = np.arange(int(seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * hz * k * time) / k for k in (1, 2, 3))
    pluck = tone * np.minimum(1.0, time / 0.005) * np.exp(-time / 0.12)
    return (pluck + _noise(sr, seconds, 0.005, rng)).astype(np.float32)


def _pad(sr: int, chord: tuple[int, ...], seconds: float) -> np.ndarray:
    """A sustained chord (octaves 4 and 5) fading in and out over 50 ms."""
    time = np.arange(int(seconds * sr)) / sr
    tone = sum(
        np.sin(2 * np.pi * 261.63 * 2 ** (pc / 12 + octave) * time)
        for pc in chord
        for octave in (0, 1)
    )
    envelope = np.minimum(1.0, np.minimum(time, seconds - time) / 0.05)
    return (tone * envelope / 6.0).astype(np.float32)


def onset_train(times: np.ndarray, fps: Fraction, n_frames: int) -> np.ndarray:
    """(T,) float64: 1 on the frame ``round(t * fps)`` of each time, 0 elsewhere."""
    train = np.zeros(n_frames)
    frames = np.floor(np.asarray(times, np.float64) * float(fps) + 0.5).astype(np.int64)
    train[frames[(frames >= 0) & (frames < n_frames)]] = 1.0
    return train


def latent(timeline: Timeline) -> np.ndarray:
    """(T, 128) float64: the latent before truncation, ``noise / truncation``."""
    return timeline.noise.astype(np.float64) / timeline.truncation[:, None].astype(np.float64)


def kick_motion(kicked: Timeline, still: Timeline) -> np.ndarray:
    """(T,) ``k_t``: how much the pulse's share of the latent grows at each frame (see the
    module's docstring); ``kicked`` and ``still`` are one preset mapped with and without it."""
    share = np.sqrt(np.mean((latent(kicked) - latent(still)) ** 2, axis=1))
    return np.maximum(0.0, np.diff(share, prepend=share[:1]))


@dataclass(frozen=True)
class KickFigures:
    drums: float  # correlation of the kick motion with the drum hits' train, lag 0
    bass: float  # ... with the bass notes' train
    rms: float  # rms(u) of the preset as it is
    beyond_1_5: float  # share of |u| > 1.5
    beyond_2: float  # share of |u| > 2

    def meets_goals(self) -> bool:
        """Kicks on the drums (>= 0.7), not on the bass (<= 0.2), the latent in its law."""
        in_law = 0.80 <= self.rms <= 0.95 and self.beyond_1_5 <= 0.11 and self.beyond_2 <= 0.005
        return self.drums >= 0.7 and self.bass <= 0.2 and in_law


def kick_figures(
    song: StemSong, features: Features, kicked: Timeline, still: Timeline
) -> KickFigures:
    """The figures of ``kicked`` (a preset mapped from ``features``, the mix's) against the
    truth of ``song``; ``still`` is the same mapping with the pulse off."""
    motion = kick_motion(kicked, still)
    n, fps = features.n_frames, features.fps
    u = latent(kicked)
    return KickFigures(
        drums=lagged_correlation(motion, onset_train(song.drum_hits, fps, n), 0),
        bass=lagged_correlation(motion, onset_train(song.bass_notes, fps, n), 0),
        rms=float(np.sqrt(np.mean(u**2))),
        beyond_1_5=float(np.mean(np.abs(u) > 1.5)),
        beyond_2=float(np.mean(np.abs(u) > 2.0)),
    )
