"""The video codecs a render can write: one row per ``--encoder`` name, grouped by ``--codec``.

A row says which ffmpeg encoder it drives and which codec it writes (``--codec``: h264, hevc,
prores, dnxhr, hap, hap-q, av1, vp9), its arguments for a ``--quality`` value (0 = lossless,
where the codec has a lossless mode, `Codec.lossless`), arguments that depend on the frame size
(HAP's chunks), its ``--encoder-preset`` choices and the default one (a faster one on CUDA),
whether it takes a thread count, the pixel format it encodes, the containers (output suffixes)
that can hold it, whether a probe encode must show that it runs here before it is used (a
hardware encoder can be listed by ffmpeg and still have no engine on this machine; a software
one can refuse a size), and whether every frame is a key frame (intra-only, the editing and VJ
codecs). The CLI's ``--codec``, ``--encoder`` and ``--encoder-preset`` choices (`CODEC_NAMES`,
`ENCODERS`, `ENCODER_PRESETS`), the container check (`containers_for`), the one-frame probe and
the segment encoder (`visualizer.rendering.video`) all read this table, so a new encoder is a
new row in `CODECS` (and a new codec a new ``family`` name in its rows).

Light (the CLI reads it for ``--help``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from visualizer.errors import OutputError, RenderError

# --quality: one scale for every codec, 0 (lossless) to 51 (worst), H.264's constant-quality
# scale; a codec maps it onto its own arguments.
BEST_QUALITY, WORST_QUALITY = 0, 51

# The soundtrack's codec: AAC at a bitrate where it is transparent for music, in every container
# but WebM (MP4 players do not all accept a track's own codec); WebM holds Opus (and Vorbis) only.
AUDIO_ARGS = ("-c:a", "aac", "-b:a", "320k")
OPUS_ARGS = ("-c:a", "libopus", "-b:a", "256k")

# Output suffix -> ffmpeg muxer: the containers a video is written in.
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
VIDEO_SUFFIXES = tuple(CONTAINERS)
FASTSTART = (".mp4", ".mov")  # the index moved to the front, so players start at once


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
    family: str = "h264"  # the --codec it writes
    lossless: bool = True  # quality 0 is a lossless encode (else quality 0 is refused)
    probe: bool = False  # a software encoder that can refuse a size: probe it like hardware
    size_args: Callable[[int, int], list[str]] | None = None  # (width, height) -> arguments
    preset_flag: str = "-preset"  # the option its presets go to

    def args(
        self,
        quality: int,
        preset: str | None = None,
        threads: int = 0,
        size: tuple[int, int] | None = None,
    ) -> list[str]:
        """ffmpeg's codec arguments for ``quality`` (0 = lossless, 51 = worst), ``preset`` (None:
        its default), ``threads`` (0: ffmpeg's automatic count) and the output ``size``."""
        chosen = preset or self.preset
        named = [self.preset_flag, chosen] if chosen else []
        threaded = ["-threads", str(threads)] if self.threads else []
        sized = self.size_args(*size) if self.size_args and size else []
        return ["-c:v", self.ffmpeg, *named, *self.quality_args(quality), *sized, *threaded]

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


def _nvenc(quality: int) -> list[str]:
    # Quality 0 is NVENC's lossless tuning: its "-cq 0" means "automatic" and would leave the
    # 2 Mb/s default bitrate in charge. -b:v 0: no bitrate target, so constant quality decides.
    if quality == 0:
        return ["-tune", "lossless"]
    return ["-rc", "vbr", "-cq", str(quality), "-b:v", "0"]


NVENC_PRESETS = ("p1", "p2", "p3", "p4", "p5", "p6", "p7")  # p1 fastest


def _x265(quality: int) -> list[str]:
    # x265 speaks the same CRF scale; hvc1 is the sample entry Apple's players need in MP4/MOV.
    mode = "lossless=1" if quality == 0 else f"crf={quality}"
    return ["-x265-params", f"log-level=error:{mode}", "-tag:v", "hvc1"]


def _nvenc_hevc(quality: int) -> list[str]:
    return [*_nvenc(quality), "-tag:v", "hvc1"]


def _by_quality(levels: tuple[tuple[int, str], ...]) -> Callable[[int], str]:
    """quality -> the first level whose bound it does not exceed (best level first)."""
    return lambda quality: next(name for bound, name in levels if quality <= bound)


# ProRes and DNxHR have fixed-rate profiles instead of a quality scale; 18 (the default, "looks
# lossless" for H.264) picks the visually lossless one, each worse band the next profile down.
_PRORES = _by_quality(((18, "3"), (28, "2"), (38, "1"), (WORST_QUALITY, "0")))  # hq std lt proxy
_DNXHR = _by_quality(((18, "dnxhr_hq"), (30, "dnxhr_sq"), (WORST_QUALITY, "dnxhr_lb")))


def _prores(quality: int) -> list[str]:
    return ["-profile:v", _PRORES(quality), "-vendor", "apl0"]


def _dnxhr(quality: int) -> list[str]:
    return ["-profile:v", _DNXHR(quality)]


def _hap(variant: str) -> Callable[[int], list[str]]:
    # HAP compresses to fixed-rate GPU textures (DXT1; HAP Q: YCoCg DXT5) and then with Snappy:
    # no quality scale, no lossless mode.
    return lambda quality: ["-format", variant, "-compressor", "snappy"]


def hap_chunks(width: int, height: int) -> list[str]:
    """HAP frames cut in chunks that VJ software decodes on several cores at once: one per 0.5
    megapixel or so (1 up to 720p, 4 for 1080p, 16 for 4K), at most 64."""
    chunks = max(1, min(64, math.ceil(width * height / 518_400)))
    return ["-chunks", str(chunks)]


def _crf63(quality: int) -> int:
    return round(quality * 63 / WORST_QUALITY)  # AV1 and VP9 count to 63


def _svtav1(quality: int) -> list[str]:
    if quality == 0:
        return ["-svtav1-params", "lossless=1"]
    return ["-crf", str(_crf63(quality))]


def _vp9(quality: int) -> list[str]:
    # -b:v 0: constant quality; row-mt: several threads per frame; "good" is the speed mode
    # whose -cpu-used runs 0 (slowest) to 5.
    rate = ["-lossless", "1"] if quality == 0 else ["-crf", str(_crf63(quality)), "-b:v", "0"]
    return [*rate, "-deadline", "good", "-row-mt", "1"]


SVTAV1_PRESETS = tuple(str(p) for p in range(13, -1, -1))  # 13 fastest
VP9_SPEEDS = tuple(str(p) for p in range(5, -1, -1))  # -cpu-used 5 fastest
ISO = (".mp4", ".mov", ".mkv")  # H.264 and HEVC
EDIT = (".mov", ".mkv")  # ProRes and DNxHR (QuickTime first: editors and VJ software read it)
WEB = (".mkv", ".mp4", ".webm")  # AV1 and VP9 (Matroska first: the segments)


CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        # On CUDA the generator makes hundreds of 512 px frames a second, more than medium
        # encodes on a GPU machine's cores; veryfast costs little quality (BENCHMARKS.md).
        Codec(
            "libx264", "libx264", _x264, "yuv420p", ISO,
            presets=X264_PRESETS, preset="medium", cuda_preset="veryfast", threads=True,
        ),
        Codec(
            "h264_nvenc", "h264_nvenc", _nvenc, "yuv420p", ISO,
            hardware=True, presets=NVENC_PRESETS, preset="p5", cuda_preset="p5",
        ),
        Codec(
            "libx265", "libx265", _x265, "yuv420p", ISO, family="hevc", probe=True,
            presets=X264_PRESETS, preset="fast", cuda_preset="veryfast", threads=True,
        ),
        Codec(
            "hevc_nvenc", "hevc_nvenc", _nvenc_hevc, "yuv420p", ISO, family="hevc",
            hardware=True, presets=NVENC_PRESETS, preset="p5", cuda_preset="p5",
        ),
        Codec(
            "prores_ks", "prores_ks", _prores, "yuv422p10le", EDIT, family="prores",
            intra_only=True, lossless=False, probe=True, threads=True,
        ),
        Codec(
            "dnxhr", "dnxhd", _dnxhr, "yuv422p", EDIT, family="dnxhr",
            intra_only=True, lossless=False, probe=True, threads=True,
        ),
        Codec(
            "hap", "hap", _hap("hap"), "rgba", (".mov",), family="hap",
            intra_only=True, lossless=False, probe=True, size_args=hap_chunks,
        ),
        Codec(
            "hap_q", "hap", _hap("hap_q"), "rgba", (".mov",), family="hap-q",
            intra_only=True, lossless=False, probe=True, size_args=hap_chunks,
        ),
        Codec(
            "libsvtav1", "libsvtav1", _svtav1, "yuv420p", WEB, family="av1", probe=True,
            presets=SVTAV1_PRESETS, preset="8", cuda_preset="10",
        ),
        Codec(
            "av1_nvenc", "av1_nvenc", _nvenc, "yuv420p", WEB, family="av1", lossless=False,
            hardware=True, presets=NVENC_PRESETS, preset="p5", cuda_preset="p5",
        ),
        Codec(
            "libvpx-vp9", "libvpx-vp9", _vp9, "yuv420p", WEB, family="vp9", probe=True,
            presets=VP9_SPEEDS, preset="2", cuda_preset="4", preset_flag="-cpu-used",
            threads=True,
        ),
    )
}  # fmt: skip

# --codec: the codecs in table order; "auto" of --encoder takes the first row of the codec that
# runs here (hardware ones only on a CUDA machine); the last one, a software encoder, always runs.
CODEC_NAMES = tuple(dict.fromkeys(row.family for row in CODECS.values()))
DEFAULT_CODEC = "h264"
VJ_CODEC = "hap"  # clip packs' default: VJ software's standard, intra-only, decoded on the GPU
ENCODERS = ("auto", *CODECS)  # the --encoder choices
# The --encoder-preset choices: every codec's presets (each codec takes its own).
ENCODER_PRESETS = ("auto", *dict.fromkeys(p for row in CODECS.values() for p in row.presets))


def auto_encoders(family: str = DEFAULT_CODEC) -> tuple[str, ...]:
    """The rows of ``family`` "auto" chooses from, hardware first, the software one last."""
    rows = [row for row in CODECS.values() if row.family == family]
    if not rows:
        raise RenderError(f"unknown codec {family!r}: expected one of {', '.join(CODEC_NAMES)}")
    return tuple(r.name for r in sorted(rows, key=lambda r: not r.hardware))


AUTO = auto_encoders()  # H.264's: ("h264_nvenc", "libx264")


def codec(name: str) -> Codec:
    """The row of ``name``; RenderError naming the choices for an unknown one (or "auto")."""
    if name not in CODECS:
        raise RenderError(f"unknown encoder {name!r}: expected one of {', '.join(ENCODERS)}")
    return CODECS[name]


def resolve_codec(family: str | None, encoder: str = "auto") -> str:
    """The codec a render writes: ``family`` (--codec), else the --encoder's, else H.264.
    RenderError for an unknown codec, or an encoder that writes another codec."""
    if family is None:
        return DEFAULT_CODEC if encoder == "auto" else codec(encoder).family
    rows = auto_encoders(family)  # an unknown codec: the list
    if encoder != "auto" and codec(encoder).family != family:
        raise RenderError(
            f"--encoder {encoder} writes {codec(encoder).family}, not {family}: use "
            f"--encoder auto or one of {', '.join(rows)}"
        )
    return family


def check_quality(family: str, quality: int) -> None:
    """RenderError for a lossless request (quality 0) of a codec without a lossless mode."""
    if quality == 0 and not any(CODECS[n].lossless for n in auto_encoders(family)):
        lossless = [c for c in CODEC_NAMES if any(CODECS[n].lossless for n in auto_encoders(c))]
        raise RenderError(
            f"--quality 0 (lossless): {family} has no lossless mode (its quality is fixed by "
            f"--quality bands or not at all); lossless codecs: {', '.join(lossless)}"
        )


def containers_for(encoder: str, family: str | None = None) -> tuple[str, ...]:
    """The output suffixes a video of ``encoder`` (a name, or "auto" within ``family``) can be
    written in: for "auto", those that hold whichever row it picks."""
    names = auto_encoders(resolve_codec(family, encoder)) if encoder == "auto" else [encoder]
    rows = [codec(n) for n in names]
    return tuple(s for s in VIDEO_SUFFIXES if all(s in row.containers for row in rows))


def default_suffix(family: str | None = None, encoder: str = "auto") -> str:
    """The container a video of this codec is written in by default (.mp4 for H.264)."""
    allowed = containers_for(encoder, family)
    return ".mp4" if ".mp4" in allowed else allowed[0]


def check_output_suffix(path: Path, encoder: str = "auto", family: str | None = None) -> None:
    """OutputError unless ``path``'s suffix names a container that holds the video of
    ``encoder`` / ``family`` (--encoder / --codec)."""
    allowed = containers_for(encoder, family)
    suffix = path.suffix.lower()
    if suffix in allowed:
        return
    if encoder == "auto" and family is not None and suffix in CONTAINERS:
        raise OutputError(
            f"{path.name}: a {suffix} file cannot hold {family} video (--codec {family}): "
            f"use {' or '.join(allowed)}"
        )
    held = "" if encoder == "auto" else f" for --encoder {encoder}"
    raise OutputError(
        f"unsupported output type {path.suffix or '(none)'!r} for {path.name}{held}: "
        f"expected one of {', '.join(allowed)}"
    )


def faststart(path: Path) -> list[str]:
    """MP4 and MOV with their index at the front (players start at once); nothing elsewhere."""
    return ["-movflags", "+faststart"] if path.suffix.lower() in FASTSTART else []


def audio_args(path: Path) -> tuple[str, ...]:
    """The soundtrack's codec arguments for a video written to ``path`` (its container)."""
    return OPUS_ARGS if path.suffix.lower() == ".webm" else AUDIO_ARGS
