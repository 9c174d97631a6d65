"""How the music drives the picture, per built-in preset, on a real track.

    python benchmarks/reactivity_bench.py TRACK [--fps 30] [--start S --duration S] [--preset NAME]

Analyses TRACK (cached), maps it with every built-in preset (or the named ones) and prints, per
preset: rms of the latent before truncation u and its shares beyond 1.5 and 2 (BigGAN-deep's
truncated normal: 0.88, 9.2 %, 0), the correlation of the latent's per-frame speed with onset
strength and with energy, the best lag of the correlation with what drives the preset (onsets or
energy) and the classes mixed per frame. Statistics, not timings: run it on any machine. No
generator is loaded.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction

from visualizer.analysis.track import analyze_file
from visualizer.bench.reactivity import driver_of, reactivity
from visualizer.mapping import build_timeline
from visualizer.mapping.presets import list_presets, load_preset

HEADER = (
    "| preset | driver | rms(u) | abs(u) > 1.5 | abs(u) > 2 | speed~onset | speed~energy "
    "| best lag | classes/frame | goals |"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("track")
    parser.add_argument("--fps", type=Fraction, default=Fraction(30))
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--preset", action="append", help="only these presets (repeatable)")
    args = parser.parse_args(argv)
    features = analyze_file(args.track, fps=args.fps, start=args.start, duration=args.duration)
    print(f"{args.track}: {features.n_frames} frames at {args.fps} fps, tempo {features.tempo:.1f}")
    print(HEADER)
    print("|" + " --- |" * HEADER.count(" | ") + " --- |")
    failures = 0
    for name in args.preset or [name for name, _ in list_presets()]:
        preset = load_preset(name)
        r = reactivity(build_timeline(features, preset), features, driver_of(preset))
        failures += not r.meets_goals()
        print(
            f"| {name} | {r.driver} | {r.rms:.3f} | {100 * r.beyond_1_5:.1f} % "
            f"| {100 * r.beyond_2:.2f} % | {r.onset_correlation:.2f} | {r.energy_correlation:.2f} "
            f"| {r.best_lag} | {r.classes_mixed:.1f} | {'yes' if r.meets_goals() else 'NO'} |"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
