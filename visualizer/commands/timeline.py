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
    add_window_options,
    local_file,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("track", type=local_file, help="audio file")
    parser.add_argument("-o", "--output", required=True, help="Timeline file to write (.npz)")
    add_preset_options(parser)
    add_window_options(parser)
    add_loop_option(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from fractions import Fraction

    from visualizer.commands.render import loop_override
    from visualizer.errors import AudioError, OutputError, RenderError
    from visualizer.files import check_output
    from visualizer.mapping import timeline as timeline_io
    from visualizer.pipeline import make_timeline
    from visualizer.rendering.plan import RenderOptions

    track, output = Path(args.track), Path(args.output)
    if not track.is_file():
        raise AudioError(f"audio file not found: {track}")
    inputs = [track, args.preset if args.preset and Path(args.preset).is_file() else None]
    check_output(output, inputs, overwrite=args.overwrite, what="timeline")
    if output.suffix.lower() != ".npz":
        raise OutputError(f"invalid output {output}: a Timeline is a .npz file")
    if args.duration is not None and args.duration <= 0:
        raise RenderError(f"invalid --duration {args.duration}: expected seconds > 0")
    options = RenderOptions(
        preset=args.preset,
        overrides=(*args.overrides, *loop_override(args)),
        seed=args.seed,
        fps=None if args.fps is None else Fraction(args.fps),
        start=args.start,
        duration=args.duration,
    )
    bars = ProgressBars(quiet=args.quiet)
    try:
        timeline = make_timeline(track, options, bars)
    finally:
        bars.close()
    timeline_io.save(timeline, output)
    if not args.quiet:
        print(
            f"wrote {output}: {timeline.n_frames} frames at {float(timeline.fps):.6g} fps, "
            f"seed {timeline.seed}",
            file=sys.stderr,
        )
    return 0
