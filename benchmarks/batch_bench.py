"""Batch benchmark: album throughput (tracks/min, frames/s) locally and with 1 and 2 Ray workers.

    python benchmarks/batch_bench.py                          # 4 x 4 s tracks, 8 fps, CPU
    python benchmarks/batch_bench.py --weights random         # the full-width 128 px network
    python benchmarks/batch_bench.py --device cuda --fps 30 --seconds 20 --modes ray:1 ray:2

The album is generated (music-like audio); weights are a random checkpoint of the published
format with ``--channel-width`` channels per multiplier (128 = the real network's cost), or
``--weights``. Each mode renders the album into a fresh folder. Prints one JSON object with a
row per mode; BENCHMARKS.md records the numbers with the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures_* (repo checkout)

from tests.fixtures_audio import music_like, write_wav  # noqa: E402
from tests.fixtures_biggan import write_checkpoint  # noqa: E402
from visualizer.batch.runner import BatchOptions, run_batch  # noqa: E402
from visualizer.model.inference import load_generator  # noqa: E402
from visualizer.pipeline.options import RenderOptions  # noqa: E402


def make_album(folder: Path, tracks: int, seconds: float, seed: int) -> Path:
    """Fresh audio per mode: the analysis cache (keyed by content) must not help a later mode."""
    album = folder / f"album-{seed}"
    album.mkdir()
    for index in range(tracks):
        write_wav(album / f"{index + 1:02d}.wav", music_like(seconds, seed=seed * 1000 + index))
    return album


def run_mode(mode: str, album: Path, options: RenderOptions, folder: Path) -> dict:
    """mode: "local" (this process) or "ray:N" (N worker actors on a local Ray cluster)."""
    workers = None
    ray_address = None
    if mode.startswith("ray:"):
        import ray

        workers = int(mode.split(":", 1)[1])
        if not ray.is_initialized():
            env = {"VISUALIZER_CACHE": os.environ["VISUALIZER_CACHE"]}
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, runtime_env={"env_vars": env})  # fmt: skip
        ray_address = "auto"
    batch = BatchOptions(outdir=folder / mode.replace(":", "-"), ray=ray_address, workers=workers)
    start = time.perf_counter()
    result = run_batch([album], options, batch)
    wall = time.perf_counter() - start
    frames = sum(int(t.get("frames") or 0) for t in result.tracks)
    return {
        "mode": mode,
        "tracks": len(result.tracks),
        "failed": len(result.failed),
        "frames": frames,
        "wall_s": round(wall, 2),
        "tracks_per_min": round(len(result.tracks) / wall * 60, 2),
        "frames_per_s": round(frames / wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=4, help="tracks in the album (default 4)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per track (default 4)")
    parser.add_argument("--fps", default="8", help="frame rate (default 8)")
    parser.add_argument("--channel-width", type=int, default=32, help="random checkpoint width")
    parser.add_argument("--weights", default=None, help="weights instead of a random checkpoint")
    parser.add_argument("--model", default="biggan-deep-128")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--modes", nargs="+", default=["local", "ray:1", "ray:2"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        folder = Path(tmp)
        os.environ["VISUALIZER_CACHE"] = str(folder / "cache")  # leave the user's cache alone
        weights = args.weights
        if weights is None:
            resolution = int(args.model.rsplit("-", 1)[1])
            weights = str(write_checkpoint(folder / "ckpt", resolution, args.channel_width))
        options = RenderOptions(
            model=args.model,
            weights=weights,
            device=args.device,
            fps=Fraction(args.fps),
            batch_size=args.batch_size,
        )
        # Load once untimed: random weights are built and cached on the first load, and every
        # mode should find the same (warm) cache.
        load_generator(options)
        rows = [
            run_mode(mode, make_album(folder, args.tracks, args.seconds, seed), options, folder)
            for seed, mode in enumerate(args.modes)
        ]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "album": f"{args.tracks} x {args.seconds} s at {args.fps} fps",
        "model": args.model,
        "weights": args.weights or f"random, channel width {args.channel_width}",
        "device": args.device,
        "runs": rows,
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
