"""Reading videos back in tests: stream facts (`probe`) and every decoded frame (`read_frames`).

Test helpers, not part of the package: the render only writes videos.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from visualizer.ffmpeg import ffmpeg_exe


def probe(path: Path) -> dict[str, float | int | None]:
    """Stream facts of a video file, read by decoding it with ffmpeg (there is no ffprobe).

    Returns ``frames`` (video frames decoded), ``video_seconds``, ``audio_seconds`` (None without
    an audio stream), ``width`` and ``height``.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
    cmd += ["-map", "0:v:0", "-c", "rawvideo", "-f", "null", "-"]
    info = subprocess.run(cmd, capture_output=True, text=True, check=False).stderr
    has_audio = re.search(r"Stream #\S+.*Audio:", info) is not None
    size = re.search(r"Stream #\S+.*Video:.*?(\d{2,5})x(\d{2,5})", info)
    frames = re.findall(r"frame=\s*(\d+)", info)
    result: dict[str, float | int | None] = {
        "frames": int(frames[-1]) if frames else 0,
        "width": int(size.group(1)) if size else None,
        "height": int(size.group(2)) if size else None,
        "video_seconds": _stream_seconds(path, "v"),
        "audio_seconds": _stream_seconds(path, "a") if has_audio else None,
    }
    return result


def _stream_seconds(path: Path, kind: str) -> float | None:
    # Decode one stream to the null muxer; its last reported time is the stream's duration.
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", f"0:{kind}:0"]
    cmd += ["-f", "null", "-"]
    info = subprocess.run(cmd, capture_output=True, text=True, check=False).stderr
    times = re.findall(r"time=\s*(\d+):(\d+):(\d+(?:\.\d+)?)", info)
    if not times:
        return None
    hours, minutes, seconds = times[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def read_frames(path: Path) -> np.ndarray:
    """Decode every video frame of ``path`` as uint8 (N, H, W, 3) (not streamed)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(raw, np.uint8).reshape(height, width, 3) for raw in reader]
    return np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)


def decode_audio(path: Path) -> np.ndarray:
    """The first audio stream of ``path`` decoded as float32 samples (interleaved channels)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path)]
    cmd += ["-map", "0:a:0", "-f", "f32le", "-"]
    done = subprocess.run(cmd, capture_output=True, check=True)
    return np.frombuffer(done.stdout, np.float32)


def streams(path: Path) -> dict[str, str | None]:
    """What ffprobe would say of ``path``'s first video and audio streams, read from ffmpeg's
    own description of its input: ``codec`` (h264, hevc, prores, dnxhd, hap, av1, vp9), ``tag``
    (the sample entry or FourCC where one is shown: avc1, hvc1, apch, AVdh, Hap1, HapY), ``profile``
    (``Main``, ``HQ``, ``DNXHR HQ``...), ``pixel_format`` (as decoded), ``fps`` and ``audio``
    (the audio codec, None without audio)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
    info = subprocess.run(cmd, capture_output=True, text=True, check=False).stderr
    video = re.search(r"Stream #\S+: Video: (\w+)((?: \([^)]*\))*), (\w+)", info)
    audio = re.search(r"Stream #\S+: Audio: (\w+)", info)
    fps = re.search(r"Stream #\S+: Video: .*?, ([\d.]+) fps", info)
    groups = re.findall(r"\(([^)]*)\)", video.group(2)) if video else []
    tags = [g.split(" / ")[0] for g in groups if " / 0x" in g]
    profiles = [g for g in groups if " / 0x" not in g and g not in ("libdav1d",)]
    return {
        "codec": video.group(1) if video else None,
        "tag": tags[0] if tags else None,
        "profile": profiles[0] if profiles else None,
        "pixel_format": video.group(3) if video else None,
        "fps": fps.group(1) if fps else None,
        "audio": audio.group(1) if audio else None,
    }
