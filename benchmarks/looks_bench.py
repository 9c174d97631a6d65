"""Class changes and loop seams on a real track, per built-in preset (statistics, not timings).

    python benchmarks/looks_bench.py TRACK [--fps 30] [--loop-start 60] [--loop-seconds 8]

Per preset, the largest L1 change of the class vector between two frames over the whole track,
offline and live (causal), with hard cuts (``classes.crossfade = 0``) and with the preset's
crossfade; then, for a ``--loop-seconds`` excerpt, the latent distance from the last frame back
to the first (the seam) without and with ``loop.enabled``, beside the largest step inside the
looped clip. A seam no larger than the steps inside is invisible when the clip repeats.
"""

from __future__ import annotations

import argparse

import numpy as np

from visualizer.analysis.track import analyze_file
from visualizer.mapping import build_timeline
from visualizer.mapping.presets import list_presets, load_preset


def largest_class_step(timeline) -> float:
    return float(np.abs(np.diff(timeline.class_vectors, axis=0)).sum(axis=1).max())


def latent(timeline) -> np.ndarray:
    return timeline.noise.astype(np.float64) / timeline.truncation[:, None]


def seam(timeline) -> float:
    u = latent(timeline)
    return float(np.linalg.norm(u[-1] - u[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("track")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--loop-start", type=float, default=60.0)
    parser.add_argument("--loop-seconds", type=float, default=8.0)
    args = parser.parse_args()
    features = analyze_file(args.track, fps=args.fps)
    excerpt = analyze_file(
        args.track, fps=args.fps, start=args.loop_start, duration=args.loop_seconds
    )
    print(
        f"{features.n_frames} frames, {len(features.sections)} sections, "
        f"{features.tempo:.1f} BPM; loop: {excerpt.n_frames} frames from {args.loop_start:g} s"
    )
    print("| preset | offline cut | offline fade | live cut | live fade "
          "| seam open | seam loop | largest step in loop |")  # fmt: skip
    print("|---" * 8 + "|")
    for name, _ in list_presets():
        row = [name]
        for causal in (False, True):
            for fade in (["classes.crossfade=0"], []):
                preset = load_preset(name, [*fade, "loop.enabled=false"])
                row.append(
                    f"{largest_class_step(build_timeline(features, preset, causal=causal)):.3f}"
                )
        open_ = build_timeline(excerpt, load_preset(name, ["loop.enabled=false"]))
        loop = build_timeline(excerpt, load_preset(name, ["loop.enabled=true"]))
        inside = np.linalg.norm(np.diff(latent(loop), axis=0), axis=1).max()
        row += [f"{seam(open_):.2f}", f"{seam(loop):.3f}", f"{inside:.3f}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
