"""Upscaler benchmark: milliseconds per frame of each published upscaler (`--upscale`).

Runs the `Upscaler` the render uses (uint8 frames in, uint8 frames out, on the device, in the
precision) with seeded random weights of the published architecture and size: the compute is
the published network's, no download is needed. 512 -> 2048 for the x4 models, 512 -> 1024 for
the x2 one.

    python benchmarks/upscale_bench.py                                   # CPU, fp32, 1 frame each
    python benchmarks/upscale_bench.py --device cuda --precision fp16 --batch 8 --repeats 5
    python benchmarks/upscale_bench.py --models realesr-general-x4v3 --side 128

Prints one JSON line: per model its scale, output side, frames per call, ms per frame (the
median over ``--repeats`` timed calls after ``--warmup`` untimed ones) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def published_upscaler(name: str, device, dtype):
    """The `Upscaler` of ``name`` with seeded random weights of its published size."""
    import torch

    from visualizer.model.upscale_loading import ARCHITECTURES, build_upscaler
    from visualizer.model.upscaler import PUBLISHED

    row = PUBLISHED[name]
    arch = ARCHITECTURES[row.architecture]
    sizes = {"srvgg": {"features": 64, "convs": 32}, "rrdb": {"features": 64, "growth": 32}}
    torch.manual_seed(0)
    module = arch.build(**sizes[row.architecture], scale=row.scale)
    return build_upscaler(module.state_dict(), name).to(device, dtype)


def measure(name: str, side: int, batch: int, repeats: int, warmup: int, device, dtype) -> dict:
    import torch

    upscaler = published_upscaler(name, device, dtype)
    frames = torch.randint(0, 256, (batch, side, side, 3), dtype=torch.uint8, device=device)
    times = []
    for _ in range(warmup + repeats):  # warm-up calls first (kernels, allocations): untimed
        start = time.perf_counter()
        out = upscaler(frames)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return {
        "scale": upscaler.scale,
        "output_side": int(out.shape[1]),
        "frames_per_call": upscaler.chunk(side),
        "ms_per_frame": round(1000 * statistics.median(times[warmup:]) / batch, 1),
    }


def main(argv: list[str] | None = None) -> int:
    from visualizer.model.upscaler import PUBLISHED

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(PUBLISHED), help="comma-separated names")
    parser.add_argument("--side", type=int, default=512, help="input frame side (default 512)")
    parser.add_argument("--batch", type=int, default=1, help="frames per timed call")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per model (>= 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before them")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=DTYPES, default="fp32")
    args = parser.parse_args(argv)

    import torch

    device, dtype = torch.device(args.device), getattr(torch, DTYPES[args.precision])
    results = {
        name: measure(name, args.side, args.batch, max(1, args.repeats), args.warmup, device, dtype)
        for name in args.models.split(",")
    }
    print(
        json.dumps(
            {
                "check": "upscale",
                "device": torch.cuda.get_device_name(device)
                if device.type == "cuda"
                else platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
                "precision": args.precision,
                "input_side": args.side,
                "models": results,
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
