"""Time the mapping stage: a 4-minute track at 30 fps (7200 frames), every built-in preset.

    python benchmarks/mapping_bench.py [--minutes 4] [--fps 30] [--repeat 3]

Prints the best of ``--repeat`` runs per preset, offline (look-ahead) and causal, and the cost of
one live `CausalMapper.step`. Features are synthetic (the mapping cost does not depend on the
music), so the numbers measure the mapping alone.
"""

from __future__ import annotations

import argparse
import platform
import time
from fractions import Fraction

import numpy as np

from visualizer.analysis.bars import every_nth_beat, musical_time
from visualizer.analysis.features import Features, frame_features
from visualizer.mapping import CausalMapper, build_timeline
from visualizer.mapping.presets import list_presets, load_preset


def synthetic(n: int, fps: Fraction, tempo: float = 124.0) -> Features:
    rng = np.random.default_rng(0)
    chroma = rng.random((12, n)).astype(np.float32)
    chroma /= chroma.max(axis=0, keepdims=True)
    energy = (0.5 + 0.5 * np.sin(np.arange(n) / 40.0)).astype(np.float32)
    beats = np.round(np.arange(0, n, 60.0 / tempo * float(fps))).astype(np.int64)
    beats = beats[beats < n]
    onsets = np.unique(np.concatenate([beats, rng.choice(n, n // 10, replace=False)]))
    sections = np.arange(0, n, int(30 * float(fps)), dtype=np.int64)
    musical = musical_time(beats, every_nth_beat(beats, 4), 4, sections, n_frames=n, tempo=tempo)
    return Features(
        fps=fps,
        n_frames=n,
        duration=n / float(fps),
        chroma=chroma,
        onset_strength=rng.random(n).astype(np.float32),
        onsets=onsets,
        energy=energy,
        energy_rise=rng.random(n).astype(np.float32),
        bands=rng.random((3, n)).astype(np.float32),
        beats=beats,
        tempo=tempo,
        sections=sections,
        **musical,
    )


def best_of(repeat: int, function) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--fps", type=Fraction, default=Fraction(30))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = round(args.minutes * 60 * args.fps)
    features = synthetic(n, args.fps)
    print(f"mapping {n} frames ({args.minutes:g} min at {args.fps} fps), best of {args.repeat}")
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"{'preset':<10} {'offline s':>10} {'causal s':>10}")
    worst = 0.0
    for name, _ in list_presets():
        preset = load_preset(name)
        offline = best_of(args.repeat, lambda p=preset: build_timeline(features, p))
        causal = best_of(args.repeat, lambda p=preset: build_timeline(features, p, causal=True))
        worst = max(worst, offline, causal)
        print(f"{name:<10} {offline:>10.3f} {causal:>10.3f}")
    mapper = CausalMapper(load_preset("default"), fps=args.fps)
    rows = [frame_features(features, i) for i in range(min(n, 2000))]
    per_frame = best_of(args.repeat, lambda: [mapper.step(row) for row in rows]) / len(rows)
    print(f"slowest preset: {worst:.3f} s (target <= 1 s)")
    print(f"live CausalMapper.step: {per_frame * 1e6:.0f} us per frame")


if __name__ == "__main__":
    main()
