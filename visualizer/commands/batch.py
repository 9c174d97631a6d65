"""`visualizer batch INPUT... -o OUTDIR`: render an album or playlist, locally or on Ray.

Every `render` option applies to every track; an album TOML adds per-track overrides. The run is
recorded in OUTDIR/manifest.json, so the same command run again skips finished tracks, resumes
interrupted ones and retries failed ones. Exit status 1 (with a summary table) when any failed.
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
    positive_int,
)
from visualizer.commands.render import add_output_options
from visualizer.errors import printable
from visualizer.pipeline.preview import DRAFT_FPS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="audio files, folders (searched for audio files) and playlists (.m3u, .m3u8, .txt)",
    )
    parser.add_argument(
        "-o", "--output", dest="outdir", required=True, metavar="OUTDIR", help="output folder"
    )
    parser.add_argument(
        "--name-template",
        default=None,
        help="output file name per track; fields {stem} {name} {parent} {index}, "
        "e.g. '{index:02d} {stem}.mp4' (default: {stem}.mp4, {stem}.mov for the codecs MP4 "
        "cannot hold, such as --codec hap or prores)",
    )
    parser.add_argument(
        "--album",
        type=Path,
        metavar="ALBUM.toml",
        help='per-track overrides: [tracks."<stem or path>"] with preset, classes, set, '
        "start, duration, seed, stems, downbeat, beats",
    )
    parser.add_argument(
        "--stems",
        dest="stems_root",
        type=Path,
        metavar="DIR",
        help="a folder with a folder of stems per track, named after the track's file without "
        "its suffix (DIR/<track>/drums.wav, bass.wav, ..., as Demucs writes them); a track "
        "without one reads the stand-ins (default: none)",
    )
    add_model_options(parser)
    add_preset_options(parser, downbeat=False)  # per track: the album's `downbeat`
    add_window_options(parser, each_track=True)
    add_loop_option(parser)
    add_output_options(parser)
    parser.add_argument(
        "--draft",
        action="store_true",
        help=f"quick drafts: every Nth frame of the same Timeline (about {DRAFT_FPS} fps)",
    )
    ray = parser.add_argument_group("Ray cluster (pip install 'visualizer[ray]')")
    ray.add_argument(
        "--ray",
        metavar="auto|local|ADDRESS",
        help="render on Ray: 'auto' = the cluster this machine belongs to (ray start), 'local' "
        "= a cluster started for this run, or a head address such as 10.0.0.5:6379",
    )
    ray.add_argument(
        "--workers",
        type=positive_int,
        help="at most this many worker actors (default: one per GPU, else one per CPU)",
    )
    ray.add_argument(
        "--split",
        action="store_true",
        help="spread each track's segments over all workers, then join them (long tracks)",
    )
    ray.add_argument(
        "--retries",
        type=int,
        default=2,
        help="times a track is retried when its worker dies (default: %(default)s)",
    )
    add_quiet_option(parser)


def default_template(codec: str | None, encoder: str) -> str:
    """``{stem}`` in the container a video of the codec is written in by default."""
    from visualizer.rendering.codecs import default_suffix

    return "{stem}" + default_suffix(codec, encoder)


def run(args: argparse.Namespace) -> int:
    from visualizer.batch.runner import BatchOptions, run_batch
    from visualizer.commands.render import options_from_args
    from visualizer.errors import VisualizerError
    from visualizer.options import beat_file_of

    if (args.workers or args.split) and args.ray is None:
        raise VisualizerError("--workers and --split need --ray (auto, local or an address)")
    if args.retries < 0:
        raise VisualizerError(f"invalid --retries {args.retries}: expected an integer >= 0")
    if beat_file_of(args.beats) is not None:
        raise VisualizerError(
            "--beats file:PATH is one track's beat grid: give it per track in the --album TOML "
            '(beats = "file:PATH" under [tracks."<stem>"])'
        )
    base = options_from_args(args)
    batch = BatchOptions(
        outdir=Path(args.outdir),
        name_template=args.name_template or default_template(base.codec, base.encoder),
        album=args.album,
        ray=args.ray,
        workers=args.workers,
        split=args.split,
        retries=args.retries,
        stems_root=args.stems_root,
    )
    bars = BatchBars(quiet=args.quiet)
    try:
        result = run_batch(args.inputs, base, batch, progress=bars)
    finally:
        bars.close()
    if not args.quiet or not result.ok:
        print(summary_table(result.tracks), file=sys.stderr)
    return 0 if result.ok else 1


def summary_table(rows: list[dict]) -> str:
    """A plain-text table: one line per track (status, frames, durations, wall time, reason)."""
    header = ("#", "track", "status", "frames", "video s", "wall s", "note")
    lines = [header]
    for row in rows:
        status = row.get("status", "?")
        note = row.get("error") or ""
        if row.get("last_run") == "skipped":
            status, note = "skipped", "done earlier, settings unchanged"
        elif row.get("last_run") == "resumed":
            note = "resumed"
        lines.append(
            (
                str(row.get("index", "")),
                printable(str(row.get("name", ""))),  # a file's name: shown, never obeyed
                status,
                _fmt(row.get("frames"), "d") if status != "failed" else "",
                _fmt(row.get("video_seconds"), ".1f") if status != "failed" else "",
                _fmt(row.get("wall_seconds"), ".1f"),
                printable(note),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  "
        + line[-1]
        for line in lines
    ]
    done = sum(1 for r in rows if r.get("status") == "done")
    failed = len(rows) - done
    text.append(f"{done} of {len(rows)} tracks done" + (f", {failed} failed" if failed else ""))
    return "\n".join(line.rstrip() for line in text)


def _fmt(value: object, spec: str) -> str:
    if value is None:
        return ""
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


class BatchBars(ProgressBars):
    """Progress bars for `batch`: the album (frames, tracks done, ETA) stays on the first line;
    one bar per running track comes and goes below it."""

    def _bar_options(self, event) -> dict:
        album = event.stage == "album"
        return dict(leave=album, position=0 if album else None)

    def _update(self, bar, event) -> None:
        if event.stage == "album":
            bar.set_description(f"album {event.label}", refresh=False)

    def _finished(self, event) -> bool:
        return event.stage != "album" and super()._finished(event)
