"""Encode-path benchmarks: encoder-only fps with several segment encoders at once, the quality a
faster x264 preset costs, and the wall time a render spends after its last frame.

- `encoder_fps`: frames pushed through the render's own `SegmentSink` (real ffmpeg processes,
  ``encoders`` at once, ``threads`` each) as fast as it takes them; no generator.
- `preset_quality`: the same frames encoded with each preset at one CRF, each compared with the
  source by ffmpeg's ``psnr`` and ``ssim`` filters (both sides in yuv420p, so only the encoder's
  loss counts), with the bitrate.
- `render_tail`: a real render (`render_track`), timing its last frame and its return: what is
  left after the last frame is the wait for the soundtrack and the copy mux.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np


def synthetic_frames(size: int, count: int = 48, seed: int = 0) -> np.ndarray:
    """uint8 (count, size, size, 3) frames of smooth moving colour fields with film grain: the
    kind of picture BigGAN renders, without a generator."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    frames = np.empty((count, size, size, 3), np.uint8)
    for k in range(count):
        t = k / 24
        planes = (
            np.sin(2 * np.pi * (3 * x + t) + np.cos(5 * y * (1 + t))),
            np.sin(2 * np.pi * (4 * y - t) + 3 * x * y),
            np.cos(2 * np.pi * (6 * x * y + t)),
        )
        image = (np.stack(planes, -1) + 1) * 110 + rng.normal(0, 6, (size, size, 3))
        frames[k] = np.clip(image, 0, 255).astype(np.uint8)
    return frames


def encoder_fps(
    frames: np.ndarray,
    total: int,
    *,
    encoders: int,
    threads: int,
    preset: str = "medium",
    segment_frames: int = 64,
    fps: Fraction = Fraction(30),
) -> dict[str, Any]:
    """Encode ``total`` frames (``frames`` cycled) as segments of ``segment_frames`` with
    ``encoders`` libx264 processes at once, ``threads`` threads each; frames per second."""
    from visualizer.rendering.encoders import SegmentSink
    from visualizer.rendering.video import Encoding

    encoding = Encoding(fps, "libx264", 18, preset=preset, encoders=encoders, threads=threads)
    segments = [(s, min(s + segment_frames, total)) for s in range(0, total, segment_frames)]
    with tempfile.TemporaryDirectory(prefix="visualizer-encode-") as folder:
        paths = [Path(folder) / f"segment-{i:05d}.mp4" for i in range(len(segments))]
        sink = SegmentSink(segments, paths, list(range(len(segments))), encoding)
        started = time.perf_counter()
        try:
            for first in range(0, total, 8):  # batches of 8, as a generator hands them over
                rows = [(first + i) % len(frames) for i in range(min(8, total - first))]
                sink(first, frames[rows])
            sink.check_complete()
        finally:
            sink.abort()
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in paths)
    return {
        "encoders": encoders, "threads": threads, "preset": preset, "frames": total,
        "seconds": round(seconds, 3), "fps": round(total / seconds, 2),
        "megabits_per_second": round(size * 8 / (total / float(fps)) / 1e6, 2),
    }  # fmt: skip


def scaling_line(
    frames: np.ndarray,
    total: int,
    *,
    cores: int,
    presets: tuple[str, ...] = ("medium",),
    counts: tuple[int, ...] | None = None,
    segment_frames: int = 64,
) -> list[dict[str, Any]]:
    """`encoder_fps` for 1, 2, 4, ... encoders up to ``cores`` (or ``counts``), the cores
    shared out (threads = cores // encoders), per preset; each row's speed-up over one encoder
    of the same preset."""
    counts = counts or tuple(k for k in (1, 2, 4, 8, 16, 32) if k <= cores)
    rows = []
    for preset in presets:
        base = None
        for count in counts:
            row = encoder_fps(
                frames, total, encoders=count, threads=max(1, cores // count), preset=preset,
                segment_frames=segment_frames,
            )  # fmt: skip
            base = base or row["fps"]
            rows.append({**row, "over_one_encoder": round(row["fps"] / base, 3)})
    return rows


def preset_quality(
    frames: np.ndarray, presets: tuple[str, ...], *, crf: int = 18, fps: Fraction = Fraction(30)
) -> list[dict[str, Any]]:
    """Each preset's PSNR (dB, average of Y, U, V) and SSIM (all planes) against the source
    frames at CRF ``crf``, its bitrate and encode time."""
    from visualizer.ffmpeg import ffmpeg_exe
    from visualizer.rendering.video import SegmentWriter

    size = frames.shape[1]
    rows = []
    with tempfile.TemporaryDirectory(prefix="visualizer-quality-") as folder:
        raw = Path(folder) / "source.rgb"
        raw.write_bytes(np.ascontiguousarray(frames).tobytes())
        for preset in presets:
            path = Path(folder) / f"{preset}.mp4"
            started = time.perf_counter()
            writer = SegmentWriter(path, resolution=size, fps=fps, quality=crf, preset=preset)
            writer.write(frames)
            writer.close()
            seconds = time.perf_counter() - started
            source = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}"]
            source += ["-framerate", f"{fps.numerator}/{fps.denominator}", "-i", str(raw)]
            graph = (
                "[0:v]format=yuv420p,split[a0][a1];[1:v]format=yuv420p,split[b0][b1];"
                "[a0][b0]psnr;[a1][b1]ssim"
            )
            cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), *source]
            cmd += ["-lavfi", graph, "-f", "null", "-"]
            log = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
            psnr = re.findall(r"PSNR .*?average:(\S+)", log)
            ssim = re.findall(r"SSIM .*?All:(\S+)", log)
            rows.append({
                "preset": preset, "crf": crf, "frames": len(frames), "size": size,
                "psnr_db": round(float(psnr[-1]), 3), "ssim": round(float(ssim[-1]), 5),
                "megabits_per_second": round(
                    path.stat().st_size * 8 / (len(frames) / float(fps)) / 1e6, 3
                ),
                "encode_seconds": round(seconds, 3),
            })  # fmt: skip
    return rows


def render_tail(track: Path, options: Any, *, compare_old: bool = False) -> dict[str, Any]:
    """Render ``track`` with ``options`` (`RenderOptions`); seconds from the last frame to the
    finished video, and (``compare_old``) what the former mux, which encoded the audio after
    the last frame, takes on the same video and window."""
    from visualizer.pipeline.render import render_track
    from visualizer.rendering.video import concat_and_mux

    last: list[float] = [0.0]

    def clock(event: Any) -> None:
        if event.stage == "render":
            last[0] = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="visualizer-tail-", dir="/tmp") as folder:
        out = Path(folder) / "out.mp4"
        started = time.perf_counter()
        result = render_track(track, out, options, progress=clock)
        ended = time.perf_counter()
        row: dict[str, Any] = {
            "frames": result.n_frames, "audio_seconds": round(result.audio_seconds, 1),
            "render_seconds": round(ended - started, 1),
            "after_last_frame_seconds": round(ended - last[0], 2),
        }  # fmt: skip
        if compare_old:
            began = time.perf_counter()
            concat_and_mux(
                [out], Path(folder) / "old.mp4", audio=track, audio_duration=result.audio_seconds
            )
            row["old_mux_seconds"] = round(time.perf_counter() - began, 1)
    return row
