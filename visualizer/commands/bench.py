"""`visualizer bench`: generator speed per precision against a plain eager reference, the
matrix-multiply peak of the device, and optionally a real render timed end to end."""

from __future__ import annotations

import argparse
import json

from visualizer.commands.common import ProgressBars, add_quiet_option, positive_int
from visualizer.model.catalog import model_names
from visualizer.options import COMPILE_MODES, CONCRETE_PRECISIONS, DEVICES, PRECISIONS


def parse_precisions(text: str) -> tuple[str, ...]:
    """'fp32,bf16' -> ('fp32', 'bf16') for argparse (an unknown name exits with status 2)."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    bad = [name for name in names if name not in CONCRETE_PRECISIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"invalid precisions {text!r}: expected a comma list of "
            f"{', '.join(CONCRETE_PRECISIONS)}"
        )
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", choices=model_names(), default="biggan-deep-128", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help="frames per generator call (default: 1 for the generator sweep, automatic for "
        "--end-to-end)",
    )
    parser.add_argument(
        "--frames",
        type=positive_int,
        default=4,
        help="frames timed per implementation and precision (default: 4)",
    )
    parser.add_argument("--device", default="auto", help=DEVICES)
    parser.add_argument(
        "--precisions",
        type=parse_precisions,
        metavar="LIST",
        help="our generator's precisions, comma-separated (default: fp32,fp16,bf16 on CUDA, "
        "fp32,bf16 on CPU); the reference always runs fp32",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="precision of the --end-to-end render (auto: fp16 on CUDA, fp32 on CPU); a value "
        "other than auto is also the only one swept when --precisions is not given",
    )
    parser.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        default="off",
        help="torch.compile our generator (and the end-to-end render); auto = reduce-overhead "
        "on CUDA, off on CPU (default: %(default)s)",
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also time a real render (audio -> MP4) against generator-only on the same frames",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=4.0,
        help="length of the --end-to-end track in seconds (default: 4)",
    )
    parser.add_argument(
        "--fps", default="10", help="frame rate of the --end-to-end render (default: 10)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every number to this file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json")
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from visualizer.bench.generator import run_precision_sweep
    from visualizer.errors import VisualizerError

    if args.seconds <= 0:
        raise VisualizerError(f"invalid --seconds {args.seconds}: expected seconds > 0")
    if args.json:  # checked before minutes of timing, not after them
        from visualizer.files import check_output

        check_output(args.json, overwrite=args.overwrite, what="--json")
    precisions = args.precisions
    if precisions is None and args.precision != "auto":
        precisions = (args.precision,)
    bars = ProgressBars(quiet=args.quiet)
    try:
        sweep = run_precision_sweep(
            args.model,
            precisions=precisions,
            batch_size=args.batch_size or 1,
            frames=args.frames,
            device=args.device,
            compile=args.compile,
            progress=bars,
        )
    finally:
        bars.close()
    print("\n".join(sweep.lines()))
    numbers: dict = {"generator": sweep.to_dict()}
    if args.end_to_end:
        from visualizer.bench.end_to_end import end_to_end_lines, run_end_to_end_bench

        numbers["end_to_end"] = run_end_to_end_bench(_end_to_end_options(args))
        print("\n".join(end_to_end_lines(numbers["end_to_end"])))
    if args.json:
        from visualizer.files import write_text_atomic

        write_text_atomic(args.json, json.dumps(numbers, indent=1) + "\n")
    return 0


def _end_to_end_options(args: argparse.Namespace):

    from visualizer.bench.end_to_end import EndToEndOptions
    from visualizer.errors import VisualizerError
    from visualizer.mapping.timeline import parse_fps

    try:
        fps = parse_fps(str(args.fps))
    except ValueError as error:
        raise VisualizerError(str(error)) from None
    return EndToEndOptions(
        model=args.model,
        device=args.device,
        batch_size=args.batch_size,
        seconds=args.seconds,
        fps=fps,
        precision=args.precision,
        compile=args.compile,
    )
