"""Where the picture changes, against the bar lines: per built-in preset, over real tracks.

    python benchmarks/downbeat_bench.py TRACK... [--fps 30] [--preset NAME] [--min-seconds 60]

Analyses each TRACK (cached) and maps it with every built-in preset (or the named ones). A
change is a frame where the picture changes at once: a new keyframe, palette, morph class or
pose (`visualizer.bench.reactivity.change_frames`, mapped as a render maps). Prints, per preset,
over the tracks at least --min-seconds long: the changes inside the beats (first to last beat),
the median share of them within one frame of a downbeat (33 ms at 30 fps) and the lowest share
of a track, the median share of frames that near one by chance, and the changes outside the
beats (no bar line to land on there); then the share of section starts on a downbeat. The
downbeats are the analysis's own: what the viewer sees in sync with the picture. Statistics, not
timings. No generator is loaded.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.analysis.track import analyze_file
from visualizer.bench.reactivity import downbeat_changes, near_share
from visualizer.mapping.presets import list_presets, load_preset

HEADER = (
    "| preset | tracks | changes | on a downbeat | worst track | by chance | outside the beats |"
)


def median(values: list[float], of=np.median) -> str:
    kept = [v for v in values if v == v]  # nan: a track without changes
    return f"{100 * float(of(kept)):.0f} %" if kept else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracks", nargs="+")
    parser.add_argument("--fps", type=Fraction, default=Fraction(30))
    parser.add_argument("--preset", action="append", help="only these presets (repeatable)")
    parser.add_argument("--min-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    names = args.preset or [name for name, _ in list_presets()]
    presets = {name: load_preset(name) for name in names}
    rows: dict[str, list] = {name: [] for name in names}
    sections: list[float] = []
    used = 0
    for track in args.tracks:
        features = analyze_file(track, fps=args.fps)
        if features.duration < args.min_seconds:
            print(f"{Path(track).name}: {features.duration:.0f} s, skipped", file=sys.stderr)
            continue
        used += 1
        share = near_share(features.sections[1:], features.downbeats)
        sections.append(share)
        print(
            f"{Path(track).name}: {features.duration:.0f} s, tempo {features.tempo:.0f}, "
            f"meter {features.meter}, {features.downbeats.size} bars, "
            f"{features.sections.size - 1} section starts ({median([share])} on a downbeat)",
            file=sys.stderr,
        )
        for name, preset in presets.items():
            rows[name].append(downbeat_changes(features, preset))
    print(f"{used} tracks of at least {args.min_seconds:g} s at {args.fps} fps")
    print(HEADER)
    print("|" + " --- |" * HEADER.count(" | ") + " --- |")
    for name, found in rows.items():
        print(
            f"| {name} | {sum(r.changes > 0 for r in found)} | {sum(r.changes for r in found)} "
            f"| {median([r.on_downbeat for r in found])} "
            f"| {median([r.on_downbeat for r in found], of=np.min)} "
            f"| {median([r.by_chance for r in found])} "
            f"| {sum(r.outside for r in found)} |"
        )
    print(f"section starts on a downbeat: {median(sections)} (median over tracks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
