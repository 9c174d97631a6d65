"""`visualizer preview TRACK -o storyboard.png`: the look of the whole song before the render.

A contact sheet of ``--frames`` frames sampled across the song, each with its time, from the same
Timeline the final render uses (same preset, seed and fps). For a quick draft video instead, use
`visualizer render TRACK -o draft.mp4 --draft` (every Nth frame of that same Timeline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from visualizer.commands.common import (
    ProgressBars,
    add_loop_option,
    add_model_options,
    add_preset_options,
    add_quiet_option,
    add_stems_option,
    add_window_options,
    local_file,
    positive_int,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("track", type=local_file, help="audio file")
    parser.add_argument("-o", "--output", required=True, help="image to write (.png or .jpg)")
    parser.add_argument(
        "--frames", type=positive_int, default=12, help="frames on the sheet (default: 12)"
    )
    parser.add_argument("--columns", type=positive_int, help="frames per row (default: ~16:9)")
    add_model_options(parser)
    add_preset_options(parser)
    add_stems_option(parser)
    add_window_options(parser)
    add_loop_option(parser)
    parser.add_argument(
        "--timeline", type=Path, metavar="T.npz", help="sample a saved Timeline instead"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing image")
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from visualizer.commands.render import options_from_args
    from visualizer.pipeline.preview import render_preview

    options = options_from_args(args)
    bars = ProgressBars(quiet=args.quiet)
    try:
        shown = render_preview(
            args.track,
            args.output,
            options,
            count=args.frames,
            columns=args.columns,
            overwrite=args.overwrite,
            progress=bars,
        )
    finally:
        bars.close()
    if not args.quiet:
        print(f"wrote {args.output}: {shown} frames", file=sys.stderr)
    return 0
