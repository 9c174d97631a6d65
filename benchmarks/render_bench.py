"""Render benchmark: end-to-end time over generator-only time, and peak RSS vs track length.

    python benchmarks/render_bench.py                       # ratio at 128 px, random weights
    python benchmarks/render_bench.py --rss                 # + 1-minute vs 10-minute peak RSS
    python benchmarks/render_bench.py --model biggan-deep-512 --device cuda --seconds 20 --fps 30

Prints one JSON object; BENCHMARKS.md records the numbers with the machine.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction

from visualizer.bench.end_to_end import EndToEndOptions, run_end_to_end_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="track length (default 3)")
    parser.add_argument("--fps", default="8", help="frame rate (default 8)")
    parser.add_argument("--model", default="biggan-deep-128")
    parser.add_argument("--weights", default="random", help="weights (default: random)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs (best kept)")
    parser.add_argument("--rss", action="store_true", help="also compare peak RSS 1 vs 10 min")
    parser.add_argument("--rss-fps", default="2", help="fps of the RSS renders (default 2)")
    args = parser.parse_args(argv)
    options = EndToEndOptions(
        seconds=args.seconds,
        fps=Fraction(args.fps),
        model=args.model,
        weights=args.weights,
        device=args.device,
        batch_size=args.batch_size,
        repeats=args.repeats,
        rss=args.rss,
        rss_fps=Fraction(args.rss_fps),
    )
    print(json.dumps(run_end_to_end_bench(options), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
