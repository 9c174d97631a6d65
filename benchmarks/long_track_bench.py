"""Long-track benchmark: analysis (and render) peak memory and time for a one-hour mix vs a minute.

    python benchmarks/long_track_bench.py                         # analysis of 1 and 60 minutes
    python benchmarks/long_track_bench.py --render-seconds 60     # + renders at 1 fps, 128 px
    python benchmarks/long_track_bench.py --render-seconds 0      # + full renders (an hour: slow)

The tracks are generated stereo 44.1 kHz 16-bit wavs (the demo song, a new seed every minute)
written minute by minute into a temporary folder under /tmp (a one-hour track is 635 MB) and
deleted afterwards. Each analysis is a fresh ``python -m visualizer analyze --fps 1 --no-cache``
and each render a fresh ``python -m visualizer render --fps 1 --weights random --model
biggan-deep-128 --device cpu``, sampled by `visualizer.bench.memory.run_with_tree_peak` (the
whole process tree's resident memory). ``--render-seconds S`` renders the first S seconds: the
whole track is still analysed (an excerpt takes its rows from the whole track's analysis), so the
render's peak includes the one-hour analysis without an hour of generator time. Memory is not
distorted by CPU load; the seconds are, so the load average is printed beside them. Goal: the
hour's peak within 1.1x of the minute's. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, as the children below run it

from visualizer.bench.end_to_end import machine  # noqa: E402
from visualizer.bench.memory import load_average, run_with_tree_peak  # noqa: E402

RATIO_GOAL = 1.1


def write_track(path: Path, minutes: int) -> Path:
    """A stereo 44.1 kHz PCM_16 wav of ``minutes`` generated minutes, written one at a time."""
    import soundfile as sf

    sys.path.insert(0, str(ROOT / "samples"))
    from make_demo import SR, make

    with sf.SoundFile(path, "w", SR, 2, subtype="PCM_16") as f:
        for minute in range(minutes):
            f.write(make(60.0, seed=minute))
    return path


def measure(command: list[str], folder: Path, name: str) -> dict:
    """Peak memory (MiB) and seconds of ``command`` run from the repository with an empty cache."""
    env = {**os.environ, "VISUALIZER_CACHE": str(folder / f"cache-{name}")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    before = load_average()
    peak = run_with_tree_peak(command, env)
    if peak.returncode != 0:
        raise SystemExit(f"{name} failed: {peak.stderr.strip()[-500:]}")
    return {**peak.summary(), "load_average_before_after": [before, load_average()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,60", help="track lengths (default 1,60)")
    parser.add_argument(
        "--render-seconds",
        type=float,
        default=None,
        help="also render this many seconds of each track (0: all of it; default: no render)",
    )
    args = parser.parse_args(argv)
    lengths = [int(m) for m in args.minutes.split(",")]
    result: dict = {"machine": machine(), "analysis": {}, "render": {}}
    with tempfile.TemporaryDirectory(prefix="visualizer-long-", dir="/tmp") as name:
        folder = Path(name)
        for minutes in lengths:
            track = write_track(folder / f"mix-{minutes}min.wav", minutes)
            python = [sys.executable, "-m", "visualizer"]
            analyze = [*python, "analyze", str(track), "--fps", "1", "--no-cache", "--quiet"]
            analyze += ["-o", str(folder / f"{minutes}.npz"), "--overwrite"]
            row = measure(analyze, folder, f"analyze-{minutes}")
            row["seconds_per_audio_minute"] = round(row["seconds"] / minutes, 2)
            result["analysis"][f"{minutes} min"] = row
            if args.render_seconds is not None:
                render = [*python, "render", str(track), "-o", str(folder / f"{minutes}.mp4")]
                render += ["--fps", "1", "--weights", "random", "--model", "biggan-deep-128"]
                render += ["--device", "cpu", "--overwrite", "--quiet"]
                if args.render_seconds > 0:
                    render += ["--duration", f"{args.render_seconds:g}"]
                result["render"][f"{minutes} min"] = measure(render, folder, f"render-{minutes}")
            track.unlink()
    for stage in ("analysis", "render"):
        rows = [result[stage][f"{m} min"]["peak_tree_mib"] for m in lengths if result[stage]]
        if len(rows) >= 2:
            ratio = rows[-1] / rows[0]
            result[stage]["peak_ratio_longest_to_shortest"] = round(ratio, 3)
            result[stage]["within_goal"] = ratio <= RATIO_GOAL
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
