"""Video encoding: segment encoders fed with raw RGB frames, concat, audio mux, size and fit.

Everything here drives the ffmpeg binary that ships with imageio-ffmpeg through `subprocess`.
moviepy's `FFMPEG_VideoWriter` is not used because it formats the frame rate as ``"%.02f"``
(30000/1001 becomes 29.97, so a long video drifts out of sync with its audio) and offers no way to
pass the exact rational rate, a video filter for --size, or the encoder's exit status and message.

A video is encoded as fixed segments of frames (each an MP4 of its own, written to a temporary
name and renamed when complete); `concat_and_mux` joins them and the soundtrack, encoded once
beforehand (`visualizer.rendering.soundtrack`), in one pass without re-encoding either.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from visualizer.errors import RenderError
from visualizer.ffmpeg import ffmpeg_exe
from visualizer.files import publish, temporary_path
from visualizer.options import FITS
from visualizer.rendering.codecs import (
    CODECS,
    CONTAINERS,
    DEFAULT_CODEC,
    Codec,
    audio_args,
    auto_encoders,
    codec,
    faststart,
)

log = logging.getLogger("visualizer")


@functools.cache
def available_encoders() -> frozenset[str]:
    """Names of the video encoders this ffmpeg build lists."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    )
    names = re.findall(r"^\s*V\S*\s+(\S+)", result.stdout, flags=re.MULTILINE)
    return frozenset(names)


def resolve_encoder(
    name: str,
    *,
    cuda: bool,
    size: tuple[int, int] = (128, 128),
    saved: str | None = None,
    preset: str = "auto",
    family: str = DEFAULT_CODEC,
    quality: int = 18,
) -> str:
    """The encoder (a `visualizer.rendering.codecs` name) a render of ``size`` (width, height)
    frames of the codec ``family`` (--codec) at ``quality`` uses.

    'auto' -> the first of the codec's rows (`codecs.auto_encoders`) that runs here: a hardware
    encoder (NVENC) only when CUDA is present, ffmpeg lists it and it encodes a probe frame of
    this size (no NVENC engine on A100/H100/H200, a minimum frame width); else the codec's
    software encoder, with an info line. Quality 0 takes only rows with a lossless mode.
    ``saved`` (an interrupted 'auto' render's encoder) is kept when it still opens, so resumed
    segments match. An explicit ``preset`` narrows 'auto' to the rows that offer it.
    RenderError for an unknown name, or an encoder (explicit, or the codec's software one) this
    ffmpeg lacks or that refuses ``size`` (HAP: multiples of 4; DNxHR: 256 x 120 at least).
    """
    if name != "auto":
        problem = _cannot_run(codec(name), size)
        if problem:
            software = auto_encoders(codec(name).family)[-1]
            hint = f"use --encoder {software} or auto" if software != name else "see ffmpeg's words"
            raise RenderError(f"encoder {name!r} {problem}: {hint}")
        return name
    rows = [n for n in auto_encoders(family) if quality or CODECS[n].lossless]
    fallback = rows[-1]
    runs = [n for n in rows if cuda or not CODECS[n].hardware]
    first = next((n for n in runs if preset in ("auto", *CODECS[n].presets)), fallback)
    wanted = saved if saved in rows else first
    problem = _cannot_run(CODECS[wanted], size)
    if problem and wanted != fallback:
        log.info("%s %s: using %s", wanted, problem, fallback)
        wanted, problem = fallback, _cannot_run(CODECS[fallback], size)
    if problem:
        raise RenderError(f"--codec {family}: encoder {wanted!r} {problem}")
    return wanted


def _cannot_run(row: Codec, size: tuple[int, int]) -> str | None:
    """None when ``row``'s encoder runs here (listed by ffmpeg; a probe frame of ``size`` if
    it is hardware or refuses sizes), else why not, as words after the encoder's name."""
    if row.ffmpeg not in available_encoders():
        return "is not available in this ffmpeg build"
    problem = encoder_problem(row.name, *size) if row.hardware or row.probe else None
    return f"cannot encode {size[0]}x{size[1]} video here ({problem})" if problem else None


def resolve_preset(
    encoder: str, preset: str, *, cuda: bool, saved: str | None = None
) -> str | None:
    """The preset ``encoder`` (resolved) encodes with: ``preset``, or for "auto" the one an
    interrupted render used (``saved``), else the codec's default on this machine (a faster one
    on CUDA, where the generator outruns the CPU's default). None for a codec without presets.
    RenderError for a preset the codec does not offer."""
    row = codec(encoder)
    row.check_preset(preset)
    if preset != "auto":
        return preset
    if saved in row.presets:
        return saved
    return row.cuda_preset if cuda else row.preset


@functools.cache
def encoder_problem(encoder: str, width: int, height: int) -> str | None:
    """None when ``encoder`` encodes one black ``width`` x ``height`` frame here, else why not.

    The probe runs the render's own codec arguments at the real output size (NVENC refuses
    some sizes a GPU could otherwise encode), once per encoder and size in a process.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "pipe:0"]
    args = codec(encoder).args(18, size=(width, height))
    cmd += [*args, "-pix_fmt", codec(encoder).pixel_format, "-f", "null", "-"]
    try:
        result = subprocess.run(
            cmd, input=bytes(width * height * 3), capture_output=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return "the probe encode did not finish in 60 s"
    if result.returncode == 0:
        return None
    # ffmpeg's own words, without the "[hap @ 0x55...]" source tags; SVT-AV1's banner skipped
    text = result.stderr.decode(errors="replace")
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Svt[")]
    return lines[0] if lines else f"ffmpeg exited with status {result.returncode}"


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080). Both even (yuv420p) and in [16, 8192]; RenderError if not."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise RenderError(f"invalid size {text!r}: expected WIDTHxHEIGHT such as 1920x1080")
    width, height = int(match.group(1)), int(match.group(2))
    check_size((width, height))
    return width, height


def check_size(size: tuple[int, int]) -> None:
    """RenderError unless both sides are even and in [16, 8192]."""
    width, height = size
    for side in (width, height):
        if not 16 <= side <= 8192:
            raise RenderError(f"invalid size {width}x{height}: each side must be in [16, 8192]")
        if side % 2:
            raise RenderError(
                f"invalid size {width}x{height}: width and height must be even (H.264 yuv420p)"
            )


def fit_filter(resolution: int, size: tuple[int, int] | None, fit: str) -> str | None:
    """ffmpeg -vf filter that turns square ``resolution`` frames into ``size`` (None: no change).

    pad: scale the square to fit inside and letterbox with black bars (nothing is cut);
    crop: scale the square to cover the frame and cut the overflow (top/bottom for 16:9);
    mirror: scale to cover the short side and fill the rest with mirrored copies.
    """
    if fit not in FITS:
        raise RenderError(f"unknown fit {fit!r}: expected one of {', '.join(FITS)}")
    if size is None or size == (resolution, resolution):
        return None
    width, height = size
    if fit == "pad":
        return (
            f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags=lanczos,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
        )
    if fit == "crop":
        return (
            f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=lanczos,"
            f"crop={width}:{height},setsar=1"
        )
    return _mirror_filter(width, height)


def _mirror_filter(width: int, height: int) -> str:
    # Scale the square to the short side, tile mirrored copies along the long side
    # (..., flip, original, flip, ...) and cut the centre out.
    side = min(width, height)
    long_side, flip, stack = (
        (width, "hflip", "hstack") if width >= height else (height, "vflip", "vstack")
    )
    per_side = -(-(long_side - side) // (2 * side))  # copies needed on each side
    count = 2 * per_side + 1
    if count == 1:
        return f"scale={side}:{side}:flags=lanczos,crop={width}:{height},setsar=1"
    labels = [f"[m{i}]" for i in range(count)]
    parts = [f"scale={side}:{side}:flags=lanczos,split={count}{''.join(labels)}"]
    tiles = []
    for i in range(count):
        if (i - per_side) % 2:
            parts.append(f"{labels[i]}{flip}[t{i}]")
            tiles.append(f"[t{i}]")
        else:
            tiles.append(labels[i])
    parts.append(f"{''.join(tiles)}{stack}=inputs={count},crop={width}:{height},setsar=1")
    return ";".join(parts)


def encoder_args(
    encoder: str, quality: int, preset: str | None = None, threads: int = 0
) -> list[str]:
    """Codec arguments of ``encoder`` at ``quality`` (0 = lossless to 51), ``preset`` (None: the
    codec's default) and ``threads`` (0: automatic), from its `visualizer.rendering.codecs` row."""
    return codec(encoder).args(quality, preset, threads)


def lower_priority(pid: int, niceness: int = 5) -> None:
    """Run process ``pid`` at a lower CPU priority where the system has one (Unix): encoders
    then take the cores the generator leaves, and never slow the generator down."""
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None:
        return
    with contextlib.suppress(OSError):
        setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + niceness)


@dataclass(frozen=True)
class Encoding:
    """How frames become video: the exact frame rate, the encoder (a resolved
    `visualizer.rendering.codecs` name, not "auto"), its quality (0 = lossless to 51) and preset
    (None: the codec's default), the output size (None = the frames' own) that square frames
    fill as ``fit`` says, and how many segment encoders run at once with how many threads each
    (`visualizer.rendering.encoders.encoder_layout`: the bits change, not the picture)."""

    fps: Fraction
    encoder: str = "libx264"
    quality: int = 18
    size: tuple[int, int] | None = None
    fit: str = "pad"
    preset: str | None = None
    encoders: int = 1
    threads: int = 0

    def writer(self, path: Path, resolution: int) -> SegmentWriter:
        """A `SegmentWriter` of ``resolution`` x ``resolution`` frames into ``path``."""
        return SegmentWriter(path, resolution=resolution, encoding=self)


class SegmentWriter:
    """One ffmpeg process that encodes raw RGB frames from its stdin into one video segment.

    Frames are uint8 (B, R, R, 3), encoded as ``encoding`` says (or an `Encoding` of ``fps`` and
    the keyword ``settings``, its other fields). The segment is written to a temporary name in
    the same folder and renamed to ``path`` by `close()` only when ffmpeg succeeded; `abort()`
    removes it. ffmpeg runs at a lower CPU priority than the generator (`lower_priority`).
    """

    def __init__(
        self,
        path: Path,
        *,
        resolution: int,
        encoding: Encoding | None = None,
        fps: Fraction | None = None,
        **settings: Any,
    ) -> None:
        if encoding is None:
            if fps is None:
                raise ValueError("a SegmentWriter needs an Encoding or an fps")
            encoding = Encoding(fps, **settings)
        fps, encoder, size, fit = encoding.fps, encoding.encoder, encoding.size, encoding.fit
        self.path = Path(path)
        self.resolution = resolution
        self.frames = 0
        self._tmp = temporary_path(self.path)
        # A file, not a pipe, for ffmpeg's messages: it can never block on a full pipe.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close/abort)
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{resolution}x{resolution}"]
        cmd += ["-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0"]
        vf = fit_filter(resolution, size, fit)
        if vf:
            cmd += ["-filter_complex", f"[0:v]{vf}[out]", "-map", "[out]"]
        frame = size or (resolution, resolution)
        args = codec(encoder).args(encoding.quality, encoding.preset, encoding.threads, frame)
        cmd += [*args, "-pix_fmt", codec(encoder).pixel_format]
        cmd += [*faststart(self.path), "-f", _muxer(self.path), str(self._tmp)]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            # Its own session: a Ctrl-C in the terminal must reach only Python, which aborts the
            # segment. ffmpeg would otherwise finish a truncated segment with a clean exit.
            start_new_session=True,
        )
        lower_priority(self._proc.pid)

    def _stdin(self):
        stdin = self._proc.stdin
        assert stdin is not None  # opened with stdin=PIPE
        return stdin

    def write(self, frames: np.ndarray) -> None:
        """Append frames, uint8 (B, R, R, 3) C-contiguous."""
        if frames.dtype != np.uint8 or frames.shape[1:] != (self.resolution, self.resolution, 3):
            raise ValueError(f"expected uint8 (B, {self.resolution}, {self.resolution}, 3) frames")
        try:
            self._stdin().write(np.ascontiguousarray(frames).data)
        except (BrokenPipeError, OSError):
            self._proc.wait()
            raise RenderError(f"video encoder failed: {self._message()}") from None
        self.frames += len(frames)

    def close(self) -> Path:
        """Finish the segment and rename it into place; RenderError if ffmpeg failed."""
        with contextlib.suppress(OSError):
            self._stdin().close()
        code = self._proc.wait()
        if code != 0:
            message = self._message()
            self.abort()
            raise RenderError(f"video encoder failed: {message}")
        publish(self._tmp, self.path)
        self._log.close()
        return self.path

    def kill(self) -> None:
        """Stop ffmpeg now (from any thread): a write blocked on its pipe then fails."""
        if self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._proc.kill()

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial segment."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._tmp.unlink(missing_ok=True)
        self._log.close()

    def _message(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"ffmpeg exited with status {self._proc.returncode}"


def concat_and_mux(
    segments: list[Path],
    output: Path,
    *,
    soundtrack: Path | None = None,
    audio: Path | None = None,
    audio_start: float = 0.0,
    audio_duration: float | None = None,
) -> None:
    """Join ``segments`` and mux a soundtrack into ``output`` (none: silent).

    ``soundtrack``: an encoded audio file (`visualizer.rendering.soundtrack`), copied: nothing
    is encoded, so the mux after a render's last frame takes seconds even for an hour.
    ``audio``: an original audio file instead, trimmed to [audio_start, audio_start +
    audio_duration) and encoded while muxing (for short recordings made on the fly). The result
    is written to a temporary name beside ``output`` and renamed when complete.
    """
    output = Path(output)
    fd, list_path = tempfile.mkstemp(
        prefix=f".{output.name}.", suffix=".concat.txt", dir=output.parent
    )
    with os.fdopen(fd, "w") as handle:
        for segment in segments:
            escaped = str(Path(segment).resolve()).replace("'", "'\\''")
            handle.write(f"file '{escaped}'\n")
    tmp = temporary_path(output)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    cmd += ["-f", "concat", "-safe", "0", "-i", list_path]
    audio_codec = ["-c:a", "copy"]
    if soundtrack is None and audio is not None:
        if audio_start > 0:
            cmd += ["-ss", f"{audio_start:.6f}"]
        if audio_duration is not None:
            cmd += ["-t", f"{audio_duration:.6f}"]
        soundtrack, audio_codec = audio, list(audio_args(output))
    if soundtrack is not None:
        cmd += ["-i", str(Path(soundtrack).absolute()), "-map", "0:v:0", "-map", "1:a:0"]
        cmd += audio_codec
    cmd += ["-c:v", "copy", *faststart(output)]
    cmd += ["-f", _muxer(output), str(tmp)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            raise RenderError(f"muxing failed: {lines[-1] if lines else result.returncode}")
        publish(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
        Path(list_path).unlink(missing_ok=True)


def _muxer(path: Path) -> str:
    """ffmpeg's muxer for ``path``'s container (its suffix; MP4 for any other)."""
    return CONTAINERS.get(path.suffix.lower(), "mp4")
