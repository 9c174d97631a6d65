"""`visualizer analyze TRACK`: the features of a track on the video frame clock.

Prints a short summary; writes the arrays (.npz, keys in README.md) only with ``-o`` and a PNG
of them only with ``--plot``, so the command writes nothing it was not asked for. The analysis
is cached, so rendering the same track afterwards skips it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from visualizer.commands.common import (
    add_beats_option,
    add_quiet_option,
    add_window_options,
    local_file,
    parse_fps,
)
from visualizer.options import DEFAULT_FPS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "track", type=local_file, help="audio file (wav, flac, ogg, mp3, m4a, opus, ...)"
    )
    parser.add_argument(
        "--fps", type=parse_fps, default=DEFAULT_FPS, help="frame rate, e.g. 30 or 30000/1001"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="FEATURES.npz",
        help="write the arrays to this .npz file (default: none, only the summary is printed)",
    )
    parser.add_argument("--plot", type=Path, default=None, metavar="PNG", help="also draw a PNG")
    add_window_options(parser)
    add_beats_option(parser)
    parser.add_argument("--no-cache", action="store_true", help="analyse again, ignore the cache")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from visualizer.analysis.features import save_features
    from visualizer.analysis.track import analyze_file
    from visualizer.commands.common import ProgressBars
    from visualizer.files import check_output

    track = Path(args.track)
    output = args.output
    rules = dict(overwrite=args.overwrite, make_folder=True)  # folders are made, as before
    if output is not None:
        check_output(output, [track], what="features file", **rules)
    if args.plot:
        check_output(args.plot, [track, output], what="--plot", **rules)
    bars = ProgressBars(quiet=args.quiet)
    try:
        features = analyze_file(
            track,
            fps=args.fps,
            start=args.start,
            duration=args.duration,
            progress=bars,
            cache=not args.no_cache,
            tracker=args.beats,
        )
    finally:
        bars.close()
    if output is not None:
        save_features(features, output)
    if args.plot:
        from visualizer.analysis.plot import plot_features

        plot_features(features, args.plot, title=track.name)
    if not args.quiet:
        print(summary(features, output, args.plot))
    return 0


def summary(features, output: Path | None, plot: Path | None) -> str:
    """A few lines a user reads after `analyze`."""
    lines = [
        f"frames:   {features.n_frames} at {features.fps} fps ({features.duration:.2f} s of audio)",
        f"tempo:    {features.tempo:.1f} BPM, {features.beats.size} beats",
        f"bars:     {features.downbeats.size} downbeats, "
        + (f"{features.meter} beats per bar" if features.meter else "no meter")
        + f", {features.phrases.size} phrases",
        f"onsets:   {features.onsets.size}",
        f"sections: {features.sections.size} (starting at "
        + ", ".join(f"{float(i / features.fps):.1f}" for i in features.sections[:12].tolist())
        + (" ..." if features.sections.size > 12 else "")
        + " s)",
    ]
    written = [str(path) for path in (output, plot) if path is not None]
    saved = ", ".join(written) or "nothing (-o FEATURES.npz saves the arrays)"
    lines.append(f"wrote:    {saved}")
    return "\n".join(lines)
