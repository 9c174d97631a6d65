"""`visualizer clips TRACK -o DIR`: a pack of seamless loops of whole bars for VJ clip libraries.

Each clip is ``--bars`` bars long, starts on a bar line and loops without a seam; the clips are
spread over the track's sections. The folder also gets ``index.json`` and ``contact.png``
(`visualizer.pipeline.clips`).
"""

from __future__ import annotations

import argparse
import sys

from visualizer.commands.common import (
    ProgressBars,
    add_model_options,
    add_preset_options,
    add_quiet_option,
    add_stems_option,
    local_file,
    positive_int,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from visualizer.commands.render import add_output_options
    from visualizer.rendering.codecs import VJ_CODEC

    parser.add_argument("track", type=local_file, help="audio file (wav, flac, ogg, mp3, m4a, ...)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="folder to write the pack into"
    )
    parser.add_argument(
        "--bars", type=positive_int, default=8, help="bars per clip (default: %(default)s)"
    )
    parser.add_argument(
        "--count", type=positive_int, default=8, help="clips in the pack (default: %(default)s)"
    )
    add_model_options(parser)
    add_preset_options(parser)
    add_stems_option(parser)
    add_output_options(parser)
    parser.set_defaults(codec=VJ_CODEC)  # VJ software's codec, unless --codec says
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from visualizer.commands.render import options_from_args
    from visualizer.pipeline.clips import render_clips

    args.start, args.duration = 0.0, None  # the clips choose their own windows
    options = options_from_args(args)
    bars = ProgressBars(quiet=args.quiet)
    try:
        pack = render_clips(
            args.track, args.output, options, bars=args.bars, count=args.count, progress=bars
        )
    finally:
        bars.close()
    if not args.quiet:
        print(
            f"wrote {len(pack.clips)} clips of {args.bars} bars to {pack.folder} "
            f"({pack.index.name}, {pack.sheet.name})",
            file=sys.stderr,
        )
    return 0
