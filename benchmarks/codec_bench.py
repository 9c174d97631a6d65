"""Codec benchmark: encode frames per second of each --codec on this machine.

Frames go through the render's own segment writer (`visualizer.rendering.video.SegmentWriter`:
raw RGB into one ffmpeg process, the codec's default preset and quality 18, ffmpeg's automatic
thread count) as fast as it takes them: 512 x 512 frames as they leave the generator, and the
same frames filled into 1920 x 1080 (``--fit crop``, the scaling included, as a 1080p render
does). Synthetic frames with the look and grain of BigGAN's (`visualizer.bench.encoding`), no
generator. Each codec's software encoder (auto's choice on a machine without NVENC).

    python benchmarks/codec_bench.py                         # every codec, 48 frames at each size
    python benchmarks/codec_bench.py --codecs hap,prores --frames 96

Prints one JSON object: per codec and size, fps and megabits per second of video, and the load
average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = {"512": None, "1080p": (1920, 1080)}


def encode_fps(codec: str, frames, size: tuple[int, int] | None, folder: Path) -> dict:
    from visualizer.rendering import codecs
    from visualizer.rendering.video import Encoding, SegmentWriter

    encoder = codecs.auto_encoders(codec)[-1]  # the software one
    row = codecs.CODECS[encoder]
    path = folder / f"{codec}-{size[1] if size else 512}{row.containers[0]}"
    encoding = Encoding(Fraction(30), encoder, 18, size=size, fit="crop")
    start = time.perf_counter()
    writer = SegmentWriter(path, resolution=frames.shape[1], encoding=encoding)
    for first in range(0, len(frames), 8):
        writer.write(frames[first : first + 8])
    writer.close()
    seconds = time.perf_counter() - start
    video_seconds = len(frames) / 30
    return {
        "encoder": encoder,
        "fps": round(len(frames) / seconds, 1),
        "mbit_per_s": round(path.stat().st_size * 8 / video_seconds / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    from visualizer.bench.encoding import synthetic_frames
    from visualizer.rendering.codecs import CODEC_NAMES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codecs", default=",".join(CODEC_NAMES), help="comma-separated")
    parser.add_argument("--frames", type=int, default=48, help="frames per codec and size")
    parser.add_argument("--sizes", default=",".join(SIZES), help="512, 1080p")
    args = parser.parse_args(argv)
    frames = synthetic_frames(512, args.frames)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="visualizer-codecs-") as folder:
        for codec in args.codecs.split(","):
            results[codec] = {
                label: encode_fps(codec, frames, SIZES[label], Path(folder))
                for label in args.sizes.split(",")
            }
    print(
        json.dumps(
            {
                "frames": args.frames,
                "cores": os.cpu_count(),
                "codecs": results,
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
