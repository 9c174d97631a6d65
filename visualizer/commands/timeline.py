"""`visualizer timeline TRACK -o T.npz`: the Timeline a render would use, without a generator.

Analyses the track (cached) and maps it with the render's preset, seed, fps, start, duration and
loop options, then writes the per-frame generator inputs (class vectors, noise, truncation, fps,
seed and the resolved preset) as a `.npz` file: seconds, not minutes, since no model is loaded.
Inspect or edit it, then render exactly it with ``visualizer render TRACK --timeline T.npz``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from visualizer.commands.common import (
    ProgressBars,
    add_loop_option,
    add_preset_options,
    add_quiet_option,
    add_stems_option,
    add_window_options,
    local_file,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("track", type=local_file, help="audio file")
    parser.add_argument("-o", "--output", required=True, help="Timeline file to write (.npz)")
    add_preset_options(parser)
    add_stems_option(parser)
    add_window_options(parser)
    add_loop_option(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from fractions import Fraction

    from visualizer.commands.render import loop_override
    from visualizer.errors import RenderError
    from visualizer.pipeline.options import RenderOptions
    from visualizer.pipeline.stems import parse_stems
    from visualizer.pipeline.timeline import write_timeline

    output = Path(args.output)
    if args.duration is not None and args.duration <= 0:
        raise RenderError(f"invalid --duration {args.duration}: expected seconds > 0")
    options = RenderOptions(
        preset=args.preset,
        overrides=(*args.overrides, *loop_override(args)),
        seed=args.seed,
        fps=None if args.fps is None else Fraction(args.fps),
        start=args.start,
        duration=args.duration,
        beats=args.beats,
        downbeat=args.downbeat,
        stems=parse_stems(args.stems),
    )
    bars = ProgressBars(quiet=args.quiet)
    try:
        timeline = write_timeline(
            args.track, output, options, overwrite=args.overwrite, progress=bars
        )
    finally:
        bars.close()
    if not args.quiet:
        print(
            f"wrote {output}: {timeline.n_frames} frames at {float(timeline.fps):.6g} fps, "
            f"seed {timeline.seed}",
            file=sys.stderr,
        )
    return 0
