"""`visualizer analyze TRACK`: the features of a track on the video frame clock.

Prints a short summary; writes the arrays (.npz, keys in README.md) only with ``-o`` and a PNG
of them only with ``--plot``, so the command writes nothing it was not asked for. The analysis
is cached, so rendering the same track afterwards skips it. With ``--stems`` each stem is
analysed too (its own cache entry), and the summary says which stems are real and which a preset
would read as stand-ins derived from the mix; ``-o OUT.npz`` then also writes each real stem's
arrays to ``OUT.NAME.npz``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from visualizer.commands.common import (
    add_beats_option,
    add_quiet_option,
    add_stems_option,
    add_window_options,
    local_file,
    parse_fps,
)
from visualizer.options import DEFAULT_FPS, beat_file_of


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
    parser.add_argument(
        "--beats-out",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the whole track's beat grid as a beats file (a time and its number in "
        "the bar per line), to correct and give back with --beats file:FILE",
    )
    add_stems_option(parser)
    add_window_options(parser)
    add_beats_option(parser)
    parser.add_argument("--no-cache", action="store_true", help="analyse again, ignore the cache")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_quiet_option(parser)


def stem_output(output: Path, name: str) -> Path:
    """Where ``-o OUT.npz`` writes the arrays of the stem ``name``: OUT.NAME.npz."""
    return output.with_name(f"{output.stem}.{name}.npz")


def run(args: argparse.Namespace) -> int:
    from visualizer.analysis.features import excerpt, save_features
    from visualizer.analysis.stems import analyze_stem, check_stems
    from visualizer.analysis.track import analyze_window
    from visualizer.commands.common import ProgressBars
    from visualizer.errors import StemError
    from visualizer.files import check_output
    from visualizer.inputs import check_input_file
    from visualizer.pipeline.stems import MAX_STEM_BYTES, parse_stems

    track = Path(args.track)
    stems = dict(parse_stems(args.stems))
    for name, path in stems.items():
        check_input_file(path, f"stem {name}", limit=MAX_STEM_BYTES, error=StemError)
    output, inputs = args.output, [track, *stems.values()]
    rules = dict(overwrite=args.overwrite, make_folder=True)  # folders are made, as before
    written = [] if output is None else [output, *(stem_output(output, n) for n in stems)]
    for path in written:
        check_output(path, inputs, what="features file", **rules)
    if args.plot:
        check_output(args.plot, [*inputs, *written], what="--plot", **rules)
    if args.beats_out:
        given = beat_file_of(args.beats)  # the grid read must not be the grid written
        check_output(
            args.beats_out, [*inputs, given, *written, args.plot], what="--beats-out", **rules
        )
    if stems:
        check_stems(track, stems, args.fps)  # the lengths, before any analysis
    bars = ProgressBars(quiet=args.quiet)
    try:
        whole, first, count = analyze_window(
            track, fps=args.fps, start=args.start, duration=args.duration, progress=bars,
            cache=not args.no_cache, tracker=args.beats, downbeat=args.downbeat,
        )  # fmt: skip
        analysed = {
            name: analyze_stem(
                name,
                path,
                whole,
                track=track,
                progress=bars,
                cache=not args.no_cache,
                tracker=args.beats,
                downbeat=args.downbeat,
            )  # fmt: skip
            for name, path in stems.items()
        }
    finally:
        bars.close()
    sources = {"mix": whole, **analysed}
    if args.start or args.duration is not None:
        sources = {name: excerpt(features, first, count) for name, features in sources.items()}
    for name, features in sources.items():
        if output is not None:
            save_features(features, output if name == "mix" else stem_output(output, name))
    if args.plot:
        from visualizer.analysis.plot import plot_features

        plot_features(sources["mix"], args.plot, title=track.name)
    if args.beats_out:
        write_grid(args.beats_out, whole, track, args.beats)
    if not args.quiet:
        print(summary(sources["mix"], [*written, *filter(None, [args.beats_out])], args.plot))
        print(stems_summary(whole, stems, sources, first, count))
    return 0


def write_grid(path: Path, whole, track: Path, tracker: str) -> None:
    """The whole track's beats and bars (``whole``: its Features) as a beats file at ``path``."""
    from visualizer.analysis.beat_file import grid_text
    from visualizer.files import write_text_atomic

    fps = float(whole.fps)
    header = (
        f"beats of {track.name} (visualizer analyze --beats {tracker}), on the {whole.fps} fps "
        "frame clock\nseconds from the start of the file, then the beat's number in its bar "
        "(1 on a downbeat)"
    )
    text = grid_text(whole.beats / fps, whole.downbeats / fps, whole.meter, header=header)
    write_text_atomic(path, text)


def summary(features, written: list[Path], plot: Path | None) -> str:
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
    paths = [str(path) for path in (*written, plot) if path is not None]
    saved = ", ".join(paths) or "nothing (-o FEATURES.npz saves the arrays)"
    lines.append(f"wrote:    {saved}")
    return "\n".join(lines)


def stems_summary(whole, stems: dict[str, Path], sources: dict, first: int, count: int) -> str:
    """One line per stem a preset can read: real (its file, its onsets) or derived from the
    mix (what of the mix stands in for it, and the onsets that gives)."""
    from visualizer.analysis.features import excerpt
    from visualizer.mapping.stand_in import MADE_OF, stand_in_features
    from visualizer.options import STEMS

    lines: list[str] = []
    for name in STEMS:
        if name in stems:
            what = f"real: {stems[name]}, {sources[name].onsets.size} onsets"
        elif name in MADE_OF:
            derived = excerpt(stand_in_features(whole, name), first, count)
            what = f"derived from {MADE_OF[name]}, {derived.onsets.size} onsets"
        else:
            what = "not given (no stand-in: a preset that reads it needs --stems)"
        lines.append(f"{'stems:' if not lines else '':9} {name:7} {what}")
    return "\n".join(lines)
