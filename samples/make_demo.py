"""Make samples/demo.ogg: a 9-second demo track (chords + drums, with a section change).

Run from the repository root:  python samples/make_demo.py
The output is deterministic apart from the Vorbis encoder; it is synthesised from scratch with
numpy, so the project may redistribute it (see samples/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
BPM = 120.0
BEAT = 60.0 / BPM
SECONDS = 9.0
# Two sections of chords (pitch classes, C = 0): a calm A section, then a louder B section.
SECTION_A = [[0, 4, 7], [9, 0, 4], [5, 9, 0], [7, 11, 2]]  # C Am F G
SECTION_B = [[2, 5, 9], [10, 2, 5], [7, 10, 2], [9, 1, 4]]  # Dm Bb Gm A


def hz(pitch_class: int, octave: int) -> float:
    return 440.0 * 2.0 ** ((pitch_class - 9) / 12 + (octave - 4))


def chord(pitches: list[int], seconds: float, octave: int, bright: bool) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    for pc in pitches:
        f = hz(pc, octave)
        out += np.sin(2 * np.pi * f * t) + (0.3 * np.sin(4 * np.pi * f * t) if bright else 0)
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-t * (1.2 if bright else 0.6))
    return out * envelope / len(pitches)


def kick() -> np.ndarray:
    t = np.arange(int(0.25 * SR)) / SR
    return np.sin(2 * np.pi * (50 + 90 * np.exp(-t * 30)) * t) * np.exp(-t * 14)


def noise_hit(seconds: float, decay: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return rng.standard_normal(t.size) * np.exp(-t * decay)


def add(out: np.ndarray, sound: np.ndarray, at: float, gain: float) -> None:
    start = int(at * SR)
    end = min(out.size, start + sound.size)
    if start < end:
        out[start:end] += gain * sound[: end - start]


def make(seconds: float = SECONDS, seed: int = 0) -> np.ndarray:
    """Stereo float32 (n, 2) in [-1, 1]: 4.5 s of section A, then section B."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR))
    change = 4.5
    bar = 4 * BEAT / 2  # one chord per half bar keeps both sections moving in 9 s
    t = 0.0
    while t < seconds:
        b = t >= change
        progression = SECTION_B if b else SECTION_A
        pitches = progression[int(t / bar) % 4]
        add(out, chord(pitches, bar + 0.3, 5 if b else 4, bright=b), t, 0.35 if b else 0.25)
        add(out, chord(pitches[:1], bar, 2, bright=False), t, 0.3 if b else 0.0)
        t += bar
    for k in range(int(seconds / (BEAT / 2))):
        at = k * BEAT / 2
        loud = at >= change
        if k % 2 == 0:
            add(out, kick(), at, 0.9 if loud else 0.5)
        if k % 4 == 2:
            add(out, noise_hit(0.2, 18, rng), at, 0.35 if loud else 0.15)  # snare
        if loud:
            add(out, noise_hit(0.05, 60, rng), at + BEAT / 4, 0.12)  # hats
    out *= 0.8 / np.abs(out).max()
    fade = np.minimum(1.0, (out.size - np.arange(out.size)) / (0.3 * SR))
    out *= fade
    # A little width: the right channel is delayed by 7 ms.
    right = np.concatenate([np.zeros(int(0.007 * SR)), out])[: out.size]
    return np.stack([out, 0.85 * out + 0.15 * right], axis=1).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else Path(__file__).with_name("demo.ogg")
    sf.write(path, make(), SR, format="OGG", subtype="VORBIS")
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB, {SECONDS:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
