"""`visualizer bench`: generator speed against a plain eager reference on this machine."""

from __future__ import annotations

import argparse

from visualizer.commands.common import MODEL_NAMES, ProgressBars, add_quiet_option, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", choices=MODEL_NAMES, default="biggan-deep-128", help="(default: %(default)s)"
    )
    parser.add_argument("--batch-size", type=positive_int, default=1, help="(default: 1)")
    parser.add_argument(
        "--frames",
        type=positive_int,
        default=4,
        help="frames timed per implementation (default: 4)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "fp16", "bf16"),
        default="auto",
        help="our generator's precision; the reference always runs fp32 (default: fp16 on CUDA, "
        "fp32 on CPU)",
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also time a full render (audio -> video) when that benchmark is available",
    )
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:
    from visualizer.bench import run_generator_bench

    bars = ProgressBars(quiet=args.quiet)
    try:
        result = run_generator_bench(
            args.model,
            batch_size=args.batch_size,
            frames=args.frames,
            device=args.device,
            precision=args.precision,
            progress=bars,
        )
    finally:
        bars.close()
    print("\n".join(result.lines()))
    if args.end_to_end:
        try:
            from visualizer.pipeline_bench import run_end_to_end_bench
        except ImportError:
            print("end-to-end benchmark: not available in this version")
            return 0
        import json

        print("end to end:", json.dumps(run_end_to_end_bench(args), indent=1))
    return 0
