"""The video codecs a render can write: one row per ``--encoder`` name, and the containers.

A row says which ffmpeg encoder it drives, its arguments for a ``--quality`` value (0 = lossless),
its ``--encoder-preset`` choices and the default one (a faster one on CUDA), whether it takes a
thread count, the pixel format it encodes, the containers (output suffixes) that can hold it,
whether a probe encode must show that it runs here before it is used (a hardware encoder can be
listed by ffmpeg and still have no engine on this machine), and whether every frame is a key
frame (intra-only, the editing codecs). The CLI's ``--encoder`` and ``--encoder-preset``
choices (`ENCODERS`, `ENCODER_PRESETS`), the container check (`containers_for`), the one-frame
probe and the segment encoder (`visualizer.rendering.video`) all read this table, so a new codec
is a new row in `CODECS`.

Light (the CLI reads it for ``--help``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from visualizer.errors import OutputError, RenderError

# --quality: one scale for every codec, 0 (lossless) to 51 (worst), H.264's constant-quality
# scale; a codec maps it onto its own arguments.
BEST_QUALITY, WORST_QUALITY = 0, 51

# The soundtrack's codec: AAC at a bitrate where it is transparent for music; every container
# below holds it, and MP4 players do not all accept a track's own codec.
AUDIO_ARGS = ("-c:a", "aac", "-b:a", "320k")

# Output suffix -> ffmpeg muxer: the containers a video is written in.
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
VIDEO_SUFFIXES = tuple(CONTAINERS)


@dataclass(frozen=True)
class Codec:
    """One ``--encoder`` choice."""

    name: str  # the --encoder value
    ffmpeg: str  # ffmpeg's encoder name (-c:v)
    quality_args: Callable[[int], list[str]]  # quality 0-51 -> the arguments after the preset
    pixel_format: str  # -pix_fmt of the encoded frames
    containers: tuple[str, ...]  # suffixes that can hold it; the first is its segments' container
    hardware: bool = False  # needs a probe encode at the render's size before use
    intra_only: bool = False  # every frame is a key frame
    presets: tuple[str, ...] = ()  # its --encoder-preset choices, fastest first (() = none)
    preset: str | None = None  # what --encoder-preset auto means
    cuda_preset: str | None = None  # ... on a CUDA machine, where the generator outruns `preset`
    threads: bool = False  # takes ffmpeg's -threads (a software encoder)

    def args(self, quality: int, preset: str | None = None, threads: int = 0) -> list[str]:
        """ffmpeg's codec arguments for ``quality`` (0 = lossless, 51 = worst), ``preset`` (None:
        its default) and ``threads`` (0: ffmpeg's automatic count)."""
        chosen = preset or self.preset
        named = ["-preset", chosen] if chosen else []
        threaded = ["-threads", str(threads)] if self.threads else []
        return ["-c:v", self.ffmpeg, *named, *self.quality_args(quality), *threaded]

    def check_preset(self, preset: str) -> None:
        """RenderError unless ``preset`` is one of this codec's (or "auto")."""
        if preset != "auto" and preset not in self.presets:
            offered = ", ".join(self.presets) or "none"
            raise RenderError(
                f"invalid --encoder-preset {preset!r} for {self.name}: expected auto or {offered}"
            )


def _x264(quality: int) -> list[str]:
    # x264's output is deterministic for identical input and settings (the thread count
    # included), which is what makes a resumed render frame-identical to an uninterrupted one.
    return ["-crf", str(quality)]


# libx264's presets, fastest first: each slower one spends more time for fewer bits at a CRF.
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")


def _nvenc_h264(quality: int) -> list[str]:
    # Quality 0 is NVENC's lossless tuning: its "-cq 0" means "automatic" and would leave the
    # 2 Mb/s default bitrate in charge. -b:v 0: no bitrate target, so constant quality decides.
    if quality == 0:
        return ["-tune", "lossless"]
    return ["-rc", "vbr", "-cq", str(quality), "-b:v", "0"]


NVENC_PRESETS = ("p1", "p2", "p3", "p4", "p5", "p6", "p7")  # p1 fastest


CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        # On CUDA the generator makes hundreds of 512 px frames a second, more than medium
        # encodes on a GPU machine's cores; veryfast costs little quality (BENCHMARKS.md).
        Codec(
            "libx264",
            "libx264",
            _x264,
            "yuv420p",
            VIDEO_SUFFIXES,
            presets=X264_PRESETS,
            preset="medium",
            cuda_preset="veryfast",
            threads=True,
        ),
        Codec(
            "h264_nvenc",
            "h264_nvenc",
            _nvenc_h264,
            "yuv420p",
            VIDEO_SUFFIXES,
            hardware=True,
            presets=NVENC_PRESETS,
            preset="p5",
            cuda_preset="p5",
        ),
    )
}

# "auto" takes the first of these that runs here (hardware ones only on a CUDA machine); the
# last one, a software encoder, always runs.
AUTO = ("h264_nvenc", "libx264")
ENCODERS = ("auto", *CODECS)  # the --encoder choices
# The --encoder-preset choices: every codec's presets (each codec takes its own).
ENCODER_PRESETS = ("auto", *dict.fromkeys(p for row in CODECS.values() for p in row.presets))


def codec(name: str) -> Codec:
    """The row of ``name``; RenderError naming the choices for an unknown one (or "auto")."""
    if name not in CODECS:
        raise RenderError(f"unknown encoder {name!r}: expected one of {', '.join(ENCODERS)}")
    return CODECS[name]


def containers_for(encoder: str) -> tuple[str, ...]:
    """The output suffixes a video of ``encoder`` (a name or "auto") can be written in: for
    "auto", those that hold whichever codec it picks."""
    rows = [CODECS[n] for n in AUTO] if encoder == "auto" else [codec(encoder)]
    return tuple(s for s in VIDEO_SUFFIXES if all(s in row.containers for row in rows))


def check_output_suffix(path: Path, encoder: str = "auto") -> None:
    """OutputError unless ``path``'s suffix names a container that holds ``encoder``'s video."""
    allowed = containers_for(encoder)
    if path.suffix.lower() not in allowed:
        held = "" if encoder == "auto" else f" for --encoder {encoder}"
        raise OutputError(
            f"unsupported output type {path.suffix or '(none)'!r} for {path.name}{held}: "
            f"expected one of {', '.join(allowed)}"
        )
