"""`visualizer render TRACK -o OUT.mp4`: the whole pipeline, with progress bars and a summary."""

from __future__ import annotations

import argparse
import logging
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
    resolve_model,
)
from visualizer.options import COMPILE_MODES, CUDNN_MODES, FITS, PRECISIONS
from visualizer.pipeline.preview import DRAFT_FPS
from visualizer.rendering.codecs import (
    BEST_QUALITY,
    CODEC_NAMES,
    ENCODER_PRESETS,
    ENCODERS,
    WORST_QUALITY,
)

log = logging.getLogger("visualizer")


def parse_size_arg(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080) for argparse (even sides; a bad value exits with status 2)."""
    from visualizer.errors import RenderError
    from visualizer.rendering.video import parse_size

    try:
        return parse_size(text)
    except RenderError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not BEST_QUALITY <= value <= WORST_QUALITY:
        raise argparse.ArgumentTypeError(
            f"invalid quality {text!r}: expected {BEST_QUALITY} (best) to {WORST_QUALITY}"
        )
    return value


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Options of the video file itself (shared with `batch`)."""
    parser.add_argument(
        "--size",
        type=parse_size_arg,
        metavar="WxH",
        help="output size, even numbers, e.g. 1920x1080 (default: the model's square size)",
    )
    parser.add_argument(
        "--fit",
        choices=FITS,
        default="pad",
        help="how square frames fill a non-square --size: pad = whole frame, letterboxed with "
        "black bars; crop = fill the frame, cutting the overflow (top and bottom for 16:9); "
        "mirror = fill the sides with mirrored copies of the frame (default: %(default)s)",
    )
    parser.add_argument(
        "--codec",
        choices=CODEC_NAMES,
        default=None,
        help="video codec: h264 (default), hevc, av1, vp9 to watch and share; prores, dnxhr to "
        "edit; hap, hap-q for VJ software (intra-only, decoded on the GPU). The container comes "
        "from the output's suffix (.mp4, .mov, .mkv, .webm) and must hold the codec",
    )
    parser.add_argument(
        "--quality",
        type=parse_quality,
        default=18,
        help="quality on H.264's constant-quality scale, 0 (lossless) to 51 (worst); 18 looks "
        "lossless (default). Each codec maps it: CRF for hevc, av1, vp9; a profile band for "
        "prores and dnxhr; none for hap. 0 is lossless where the codec has a lossless mode",
    )
    parser.add_argument(
        "--encoder",
        choices=ENCODERS,
        default="auto",
        help="video encoder of the codec: auto = NVENC on a CUDA machine whose ffmpeg has it "
        "(h264, hevc, av1), else the codec's software encoder",
    )
    parser.add_argument(
        "--encoder-preset",
        choices=ENCODER_PRESETS,
        default="auto",
        metavar="PRESET",
        help="the encoder's speed for its size: libx264 ultrafast ... slower, NVENC p1 ... p7; "
        "auto = medium (p5 for NVENC), veryfast on a CUDA machine, where the generator outruns "
        "medium (BENCHMARKS.md gives the quality cost); part of what a resume must keep",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="generator arithmetic: auto = fp16 on CUDA, fp32 on CPU and MPS; MPS has no bf16 "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        default="off",
        help="torch.compile the generator (CUDA speed; the first compile takes minutes, later "
        "runs reuse the cached kernels): auto = reduce-overhead (CUDA graphs) on CUDA, off on "
        "CPU (default: %(default)s)",
    )
    parser.add_argument(
        "--cudnn",
        choices=CUDNN_MODES,
        default="deterministic",
        help="how cuDNN picks convolution algorithms on CUDA: deterministic = the same in every "
        "process, so a resumed render equals an uninterrupted one bit for bit; benchmark = "
        "timed in each process, can be faster (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, help="frames per generator call (default: automatic)"
    )
    parser.add_argument(
        "--segment-frames",
        type=positive_int,
        default=256,
        help="frames per video segment, the unit --resume restarts from (default: %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted render of the same output with the same options",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("track", type=local_file, help="audio file (wav, flac, ogg, mp3, m4a, ...)")
    parser.add_argument(
        "-o", "--output", required=True, help="video file to write (.mp4, .mov, .mkv, .webm)"
    )
    add_model_options(parser)
    add_preset_options(parser)
    add_stems_option(parser)
    add_window_options(parser)
    add_loop_option(parser)
    add_output_options(parser)
    parser.add_argument(
        "--timeline", type=Path, metavar="T.npz", help="render a saved Timeline instead"
    )
    parser.add_argument("--timeline-out", type=Path, metavar="T.npz", help="save the Timeline used")
    parser.add_argument("--frames-dir", type=Path, metavar="DIR", help="also write PNG frames")
    parser.add_argument(
        "--draft",
        action="store_true",
        help=f"quick draft: every Nth frame of the same Timeline (about {DRAFT_FPS} fps)",
    )
    add_quiet_option(parser)


def options_from_args(args: argparse.Namespace):
    """RenderOptions from parsed `render`, `batch` or `preview` arguments.

    Every RenderOptions field whose name the command defines is taken from ``args``; the others
    keep their defaults, so each command only declares the options it offers.
    """
    import dataclasses
    from fractions import Fraction

    from visualizer.pipeline.options import RenderOptions
    from visualizer.pipeline.preview import draft_step
    from visualizer.pipeline.stems import parse_stems

    if args.duration is not None and args.duration <= 0:
        from visualizer.errors import RenderError

        raise RenderError(f"invalid --duration {args.duration}: expected seconds > 0")
    values = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(RenderOptions)
        if getattr(args, field.name, None) is not None
    }
    values["overrides"] = (*args.overrides, *loop_override(args))
    values["stems"] = parse_stems(getattr(args, "stems", None))
    values["model"] = resolve_model(args.model, args.device)
    if args.fps is not None:
        values["fps"] = Fraction(args.fps)
    if getattr(args, "draft", False):
        values["frame_step"] = draft_step(args.fps)
    return RenderOptions(**values)


def loop_override(args: argparse.Namespace) -> tuple[str, ...]:
    """``--loop`` as the preset override it stands for, so the saved preset records it."""
    return ("loop.enabled=true",) if getattr(args, "loop", False) else ()


def summary(result) -> str:
    """One closing line: frames, duration, wall time, fps."""
    minutes, seconds = divmod(result.video_seconds, 60)
    fps = result.n_frames / result.wall_seconds if result.wall_seconds > 0 else 0.0
    return (
        f"wrote {result.output}: {result.n_frames} frames, {int(minutes)}:{seconds:04.1f} at "
        f"{float(result.fps):.6g} fps, in {result.wall_seconds:.1f} s ({fps:.1f} frames/s)"
    )


# Seconds a frame costs end to end on a CPU, fp32, by frame size: measured on the 2-core x86_64
# test machine (BENCHMARKS.md). 128 px: 3.56 s per second of music at 30 fps (the "Goals" table,
# render_bench.py --seconds 20 --fps 30); 512 px: the generator alone, 1.56 frames/s at batch 1
# ("Memory"); 256 px: not measured, scaled from 512 px by the FLOPs of a frame (58.80 / 75.99).
CPU_SECONDS_PER_FRAME = {128: 3.56 / 30, 256: 58.80 / 75.99 / 1.56, 512: 1 / 1.56}


def cost_estimate(track: str, options) -> str | None:
    """One line saying what the render of ``track`` will cost, from measured figures, before
    any work starts (None when there is nothing to go on: a GPU, an unreadable track)."""
    from visualizer.errors import VisualizerError
    from visualizer.model.catalog import resolution_of
    from visualizer.model.devices import resolve_device

    try:
        if resolve_device(options.device).type != "cpu":
            return None  # not measured on a GPU yet (BENCHMARKS.md): the bar's estimate follows
        size = resolution_of(options.model)
        frames = _frames_of(track, options)
    except (VisualizerError, OSError, ValueError):
        return None  # the render's own checks name the problem
    per_frame = CPU_SECONDS_PER_FRAME.get(size)
    if per_frame is None or not frames:
        return None
    seconds = frames * per_frame
    spent = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    return (
        f"{frames} frames at {size} px on the CPU: about {spent} of rendering "
        f"({per_frame:.2f} s a frame on a 2-core CPU, BENCHMARKS.md), after the analysis and "
        "the model load; the bar's estimate follows this machine"
    )


def _frames_of(track: str, options) -> int:
    """The frames the render will draw: the saved timeline's, or the track's window's."""
    import math

    from visualizer.options import DEFAULT_FPS

    if options.timeline is not None:
        from visualizer.mapping.timeline import check_headers

        return math.ceil(check_headers(options.timeline) / options.frame_step)
    from visualizer.analysis.decode import probe_duration

    seconds = max(0.0, probe_duration(track) - options.start)
    if options.duration is not None:
        seconds = min(seconds, options.duration)
    fps = options.fps or DEFAULT_FPS
    return math.ceil(round(seconds * fps) / options.frame_step)


def run(args: argparse.Namespace) -> int:
    from visualizer.pipeline.render import render_track
    from visualizer.pipeline.workdir import work_dir_for

    options = options_from_args(args)
    if not args.quiet and (estimate := cost_estimate(args.track, options)):
        log.info(estimate)
    bars = ProgressBars(quiet=args.quiet)
    output = Path(args.output)
    try:
        result = render_track(args.track, output, options, progress=bars)
    except KeyboardInterrupt:
        bars.close()
        if work_dir_for(output).is_dir():
            # Printed even with --quiet: it is the one thing to know after a Ctrl-C.
            print(f"to continue: the same command with --resume ({output})", file=sys.stderr)
        raise
    finally:
        bars.close()
    if not args.quiet:
        print(summary(result), file=sys.stderr)
    return 0
