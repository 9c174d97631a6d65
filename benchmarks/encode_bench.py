"""Encode-path benchmark: segment encoders at once, preset quality, the time after the last frame.

    python benchmarks/encode_bench.py scaling --size 512 --frames 256 --presets medium,veryfast
    python benchmarks/encode_bench.py quality --source biggan --frames 60 --presets medium,veryfast
    python benchmarks/encode_bench.py tail --minutes 60 [--compare-old]

``scaling``: encoder-only fps through the render's own `SegmentSink` with 1, 2, 4, ... encoders
up to the cores (``--counts`` to choose), the cores shared out (threads = cores / encoders),
each row's speed-up over one encoder; synthetic frames (``--size``), no generator.
``quality``: PSNR and SSIM against the source of each preset at one CRF (ffmpeg's psnr and ssim
filters, yuv420p on both sides), with bitrate and encode time; frames from the 512 px generator
with random weights on a generated track (``--source biggan``; slow on a CPU) or synthetic.
``tail``: a real render of a generated ``--minutes`` track at 1 fps, 128 px, random weights:
the seconds from its last frame to the finished file (the soundtrack encoded beside the render,
then copied); ``--compare-old`` also times the former mux, which encoded the audio after the
last frame, on the same video. Prints one JSON object; BENCHMARKS.md records the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from visualizer.bench import encoding  # noqa: E402
from visualizer.bench.end_to_end import machine  # noqa: E402
from visualizer.bench.memory import load_average  # noqa: E402
from visualizer.rendering.encoders import usable_cores  # noqa: E402


def _names(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split(",") if t)


def biggan_frames(model: str, count: int, device: str = "auto") -> object:
    """The first ``count`` frames of a render of a generated track: the real architecture at
    ``model``'s size, seeded random weights."""
    import numpy as np

    from visualizer.bench.end_to_end import _demo_track  # noqa: PLC2701 (benchmark helper)
    from visualizer.model.inference import load_generator
    from visualizer.pipeline.options import RenderOptions
    from visualizer.pipeline.timeline import make_timeline
    from visualizer.rendering.frames import generate

    options = RenderOptions(model=model, weights="random", device=device, fps=Fraction(30))
    with tempfile.TemporaryDirectory(prefix="visualizer-frames-") as folder:
        timeline = make_timeline(_demo_track(Path(folder), count / 30 + 1), options)
    generator = load_generator(options)
    batches = generate(generator, timeline, 0, count)
    return np.concatenate([frames.cpu().numpy() for _, frames in batches])


def write_track(folder: Path, minutes: int) -> Path:
    """A stereo 44.1 kHz wav of ``minutes`` generated minutes (a new seed each minute)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from long_track_bench import write_track as write

    return write(folder / f"mix-{minutes}min.wav", minutes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("scaling", "quality", "tail"))
    parser.add_argument("--size", type=int, default=512, help="frame side in px (default 512)")
    parser.add_argument("--frames", type=int, default=256, help="frames encoded (default 256)")
    parser.add_argument("--presets", default="medium", help="x264 presets, comma-separated")
    parser.add_argument("--counts", default="", help="encoder counts (default 1, 2, 4, ...)")
    parser.add_argument("--cores", type=int, default=None, help="cores to share (default all)")
    parser.add_argument("--segment-frames", type=int, default=64)
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--source", choices=("synthetic", "biggan"), default="synthetic")
    parser.add_argument("--device", default="auto", help="the generator's (--source biggan)")
    parser.add_argument("--minutes", type=int, default=60, help="track length for tail")
    parser.add_argument("--compare-old", action="store_true")
    args = parser.parse_args(argv)
    result: dict = {"machine": machine(), "load_average_before": load_average()}
    presets = _names(args.presets)
    if args.what == "scaling":
        frames = encoding.synthetic_frames(args.size)
        cores = args.cores or usable_cores()
        counts = tuple(int(c) for c in _names(args.counts)) or None
        result["cores"] = cores
        result["rows"] = encoding.scaling_line(
            frames, args.frames, cores=cores, presets=presets, counts=counts,
            segment_frames=args.segment_frames,
        )  # fmt: skip
    elif args.what == "quality":
        if args.source == "biggan":
            frames = biggan_frames(f"biggan-deep-{args.size}", args.frames, args.device)
        else:
            frames = encoding.synthetic_frames(args.size, args.frames)
        result["source"] = args.source
        result["rows"] = encoding.preset_quality(frames, presets, crf=args.crf)
    else:
        from visualizer.pipeline.options import RenderOptions

        options = RenderOptions(weights="random", device="cpu", fps=Fraction(1))
        with tempfile.TemporaryDirectory(prefix="visualizer-mix-", dir="/tmp") as folder:
            track = write_track(Path(folder), args.minutes)
            result["tail"] = encoding.render_tail(track, options, compare_old=args.compare_old)
    result["load_average_after"] = load_average()
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
