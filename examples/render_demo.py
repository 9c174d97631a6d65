"""Render the demo track with the Python API: analyse it, look at its Timeline, render a video.

    python examples/render_demo.py demo.mp4                  # seeded random weights, no download
    python examples/render_demo.py demo.mp4 --weights ""     # the real weights (downloaded once)

The same calls work in a notebook; add ``progress=True`` for progress bars.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import visualizer

DEMO = Path(__file__).resolve().parents[1] / "samples" / "demo.ogg"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="demo.mp4", help="the video to write")
    parser.add_argument("--duration", type=float, default=None, help="seconds of the track")
    parser.add_argument("--weights", default="random", help='"random", a folder, or "" (cached)')
    args = parser.parse_args(argv)

    # Features on the video's frame clock: one row per frame.
    features = visualizer.analyze(DEMO, fps=30, duration=args.duration)
    print(f"analysed: {features.n_frames} frames at {features.fps} fps, {features.tempo:.0f} BPM")

    # A preset, changed in Python, and the Timeline it makes (what the generator will receive).
    preset = visualizer.load_preset("default", ["classes.names=tiger,volcano"])
    print(f"preset: {preset.description}; classes {list(preset.classes.names)}")
    overrides = {"classes.names": ["tiger", "volcano"]}
    timeline = visualizer.make_timeline(DEMO, overrides=overrides, seed=7, duration=args.duration)
    print(
        f"timeline: {timeline.n_frames} frames, truncation {timeline.truncation.min():.2f}"
        f"-{timeline.truncation.max():.2f}"
    )

    # The video: same preset, seed and excerpt, so its frames are drawn from that Timeline.
    result = visualizer.render(
        DEMO,
        args.output,
        overrides=overrides,
        seed=7,
        weights=args.weights or None,
        duration=args.duration,
        overwrite=True,
    )
    print(
        f"wrote {result.output}: {result.n_frames} frames, {result.video_seconds:.2f} s of video, "
        f"{result.audio_seconds:.2f} s of audio in {result.wall_seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
