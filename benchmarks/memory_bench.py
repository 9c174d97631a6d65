"""Memory benchmark: peak RSS of a whole CLI render (Python + ffmpeg children) per model.

    python benchmarks/memory_bench.py                               # 128 px and 512 px
    python benchmarks/memory_bench.py --models biggan-deep-128 --seconds 20 --fps 30

Each render is a fresh `python -m visualizer render --weights random` of a generated track, with
an empty analysis cache, sampled by `visualizer.bench.memory.run_with_tree_peak`. Memory is not
distorted by CPU load, so the figures hold on a busy machine (the time column does not). Goals:
128 px <= 1024 MiB, 512 px <= 1600 MiB. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from visualizer.bench.end_to_end import _demo_track, machine
from visualizer.bench.memory import load_average, run_with_tree_peak

GOALS_MIB = {"biggan-deep-128": 1024, "biggan-deep-256": 1300, "biggan-deep-512": 1600}


def render_peak(folder: Path, track: Path, model: str, fps: str, frames: int | None) -> dict:
    """Peak memory of one render of ``track`` with ``model`` (random weights) in a new process."""
    out = folder / f"{model}.mp4"
    command = [sys.executable, "-m", "visualizer", "render", str(track), "-o", str(out)]
    command += ["--model", model, "--weights", "random", "--device", "cpu", "--fps", fps]
    command += ["--overwrite", "--quiet"]
    if frames is not None:
        command += ["--duration", f"{frames / float(eval_fraction(fps)):.6f}"]
    env = {**os.environ, "VISUALIZER_CACHE": str(folder / f"cache-{model}")}
    peak = run_with_tree_peak(command, env)
    if peak.returncode != 0:
        raise SystemExit(f"render with {model} failed: {peak.stderr.strip()[-500:]}")
    return {
        **peak.summary(),
        "goal_mib": GOALS_MIB.get(model),
        "within_goal": peak.peak_mib <= GOALS_MIB.get(model, float("inf")),
    }


def eval_fraction(text: str) -> float:
    """'30' or '30000/1001' -> a float frame rate."""
    top, _, bottom = text.partition("/")
    return float(top) / float(bottom or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="biggan-deep-128,biggan-deep-512")
    parser.add_argument("--seconds", type=float, default=5.0, help="track length (default 5)")
    parser.add_argument("--fps", default="6", help="frame rate (default 6)")
    parser.add_argument(
        "--frames-512", type=int, default=12, help="frames rendered at 512 px (default 12)"
    )
    args = parser.parse_args(argv)
    result: dict = {"machine": machine(), "load_average": load_average(), "renders": {}}
    with tempfile.TemporaryDirectory(prefix="visualizer-memory-") as name:
        folder = Path(name)
        track = _demo_track(folder, args.seconds)
        for model in args.models.split(","):
            frames = args.frames_512 if model.endswith("512") else None
            result["renders"][model] = render_peak(folder, track, model, args.fps, frames)
    result["seconds"], result["fps"] = args.seconds, args.fps
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
