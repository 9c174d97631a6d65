"""Options and helpers shared by several commands (render, preview, batch, live, bench).

One definition per option, so that `render`, `batch` and `live` spell and document them alike.
"""

from __future__ import annotations

import argparse
from fractions import Fraction

from visualizer.model.catalog import model_names
from visualizer.model.upscaler import upscaler_names
from visualizer.options import AUTO_MODEL, tracker_spec
from visualizer.progress import ProgressBars as ProgressBars  # the commands' bars


def parse_fps(text: str) -> Fraction:
    """'30', '29.97', '30000/1001' -> an exact Fraction in [1, 240] (argparse type)."""
    from visualizer.mapping.timeline import parse_fps as parse

    try:
        return parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_seconds(text: str) -> float:
    """A non-negative number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: expected seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: expected seconds >= 0")
    return value


def parse_number(text: str) -> float:
    """Any number (argparse type); the command's checks say which are valid, in one line."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: expected seconds") from None


def local_file(text: str) -> str:
    """An audio argument, refused at once when it is a URL (argparse type): tracks are local files.

    Without this a URL reached the file checks as a path ("https:/host/a.mp3: file not found").
    The words are `batch`'s, which checks its inputs and playlists the same way.
    """
    from visualizer.batch.album import NOT_A_FILE, is_url

    if is_url(text):
        raise argparse.ArgumentTypeError(f"{text}: {NOT_A_FILE}")
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected an integer >= 1")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=(AUTO_MODEL, *model_names()),
        default="auto",
        help="generator resolution; auto = biggan-deep-512 on a CUDA device, biggan-deep-128 on "
        "a CPU, where 512 px takes about a second per frame (default: auto)",
    )
    parser.add_argument(
        "--weights",
        metavar="PATH|random",
        default=None,
        help="weights: a folder (config.json + pytorch_model.bin), a .bin/.pt/.safetensors file, "
        "or 'random' for seeded untrained weights (default: the cached download of --model)",
    )
    parser.add_argument(
        "--upscale",
        metavar="MODEL|PATH",
        default=None,
        help="enlarge every frame with a learned upscaler on the generator's device, before "
        f"--size/--fit: {', '.join(upscaler_names())} (downloaded on first use), or a "
        ".pth/.safetensors file of one of their architectures (default: none)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA when present, else Apple MPS, else CPU), cpu, cuda, cuda:N or mps "
        "(default: %(default)s)",
    )


def resolve_model(model: str, device: str) -> str:
    """The model name ``--model`` means: 'auto' depends on where ``device`` resolves."""
    if model != "auto":
        return model
    from visualizer.model.devices import auto_model

    return auto_model(device)


def add_preset_options(
    parser: argparse.ArgumentParser, *, downbeat: bool = True, beats: bool = True
) -> None:
    """--preset, --set, --seed, --fps; --beats unless ``beats`` is False and --downbeat unless
    ``downbeat`` is False (a batch's tracks each have their own bar lines; live follows its own
    beat clock: its --tempo source, not a tracker of the whole track)."""
    parser.add_argument(
        "--preset", default="default", help="preset name or TOML path (default: %(default)s)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one preset value (repeatable), e.g. --set classes.names=tiger,volcano",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: preset's)")
    if beats:
        add_beats_option(parser, downbeat=downbeat)
    parser.add_argument(
        "--fps",
        type=parse_fps,
        default=None,
        help="frame rate, e.g. 24, 30 or 30000/1001 (default: 30, or a saved Timeline's rate)",
    )


def beats_value(text: str) -> str:
    """argparse type of --beats: the tracker's one spelling (`visualizer.options.tracker_spec`)."""
    try:
        return tracker_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_beats_option(parser: argparse.ArgumentParser, *, downbeat: bool = True) -> None:
    """--beats, and --downbeat unless ``downbeat`` is False."""
    parser.add_argument(
        "--beats",
        type=beats_value,
        default="dsp",
        metavar="dsp|dsp:BPM|beat-this|file:PATH",
        help="beat and downbeat tracker: dsp (built in), dsp:BPM (the same, kept near the tempo "
        "you hear when it tracks another, e.g. dsp:128), beat-this (neural, optional: "
        'pip install "visualizer[beats]"; downloads its weights on first use) or file:PATH (a '
        "beat grid made elsewhere: one beat time in seconds per line, optionally its number in "
        "the bar, 1 on a downbeat)",
    )
    if downbeat:
        parser.add_argument(
            "--downbeat",
            type=parse_number,
            default=None,
            metavar="SECONDS",
            help="a time in the track file (from its start, not from --start) where you hear a "
            "bar begin: when the bar lines sit on the wrong beat, the whole bar grid shifts so "
            "the beat nearest it is a downbeat (default: the analysis's bar lines)",
        )


def add_stems_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stems",
        metavar="NAME=FILE,...|DIR",
        default=None,
        help="the track's stems, made by any separator (README, 'Stems'): drums=d.wav,bass=b.wav"
        ",... (names: drums, bass, vocals, other, guitar, piano) or a folder of files named so; "
        "a preset reads them as drums.onsets, bass.energy, ...; stems it reads and that are not "
        "given are stood in for from the mix (drums, bass, vocals, other)",
    )


def add_loop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop",
        action="store_true",
        help="make a seamless loop: the last frame flows back into the first, for VJ clips "
        "(with --duration, a loop of that length; same as --set loop.enabled=true)",
    )


def add_window_options(parser: argparse.ArgumentParser, *, each_track: bool = False) -> None:
    """--start and --duration: the part of the track (of every track, for batch) to use."""
    track = "each track" if each_track else "the track"
    parser.add_argument(
        "--start", type=parse_seconds, default=0.0, help=f"start this many seconds into {track}"
    )
    parser.add_argument(
        "--duration", type=parse_seconds, help=f"use this many seconds of {track} (default: all)"
    )


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars or summary (warnings still show)",
    )
