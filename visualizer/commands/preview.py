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
    add_window_options(parser)
    add_loop_option(parser)
    parser.add_argument(
        "--timeline", type=Path, metavar="T.npz", help="sample a saved Timeline instead"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing image")
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from visualizer.commands.render import options_from_args
    from visualizer.errors import AudioError
    from visualizer.files import check_output
    from visualizer.model.inference import load_generator
    from visualizer.pipeline import make_timeline
    from visualizer.rendering.plan import inputs_of
    from visualizer.rendering.storyboard import render_storyboard, save_image

    output = Path(args.output)
    if not Path(args.track).is_file():
        raise AudioError(f"audio file not found: {args.track}")
    options = options_from_args(args)
    inputs = inputs_of(options, Path(args.track))
    check_output(output, inputs, overwrite=args.overwrite, what="storyboard")
    bars = ProgressBars(quiet=args.quiet)
    try:
        timeline = make_timeline(args.track, options, bars)
        generator = load_generator(options, progress=bars)
        image = render_storyboard(timeline, generator, count=args.frames, columns=args.columns)
        save_image(image, output, overwrite=args.overwrite)
    finally:
        bars.close()
    if not args.quiet:
        print(f"wrote {output}: {min(args.frames, timeline.n_frames)} frames", file=sys.stderr)
    return 0
