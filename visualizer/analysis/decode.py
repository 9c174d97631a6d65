"""Audio loading: any common file -> mono float32 samples at the analysis sample rate.

libsndfile (through soundfile) reads wav, flac, ogg/vorbis, opus and mp3 directly and can seek,
so a ``start``/``duration`` window decodes only that window. What it cannot open (m4a/aac, wma,
video containers, ...) is decoded by the ffmpeg binary that imageio-ffmpeg ships, streamed as
32-bit float PCM through a pipe. Both paths resample with soxr, so an analysis does not depend
on which decoder read the file.

Every problem a user can cause raises `AudioError` with the file name and the reason.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visualizer.errors import AudioError
from visualizer.ffmpeg import ffmpeg_exe

log = logging.getLogger("visualizer")

DEFAULT_SR = 22050
BLOCK = 1 << 16  # frames decoded at a time: 1.5 s at 44.1 kHz

# A decoded length shorter than the header's by more than this is a truncated file. Some mp3
# headers only estimate their length, so a little slack keeps valid files loading.
_TRUNCATION_SLACK = 0.02  # fraction of the declared length
_TRUNCATION_MIN_SECONDS = 0.25


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded audio for analysis.

    ``samples`` float32 (n,), mono, roughly in [-1, 1]; ``sr`` samples per second; ``path`` the
    source file (the video encoder takes its soundtrack from there, never from these samples);
    ``start`` the offset in seconds of ``samples[0]`` in that file.
    """

    samples: np.ndarray
    sr: int
    path: Path
    start: float = 0.0

    @property
    def duration(self) -> float:
        """Seconds of audio held: n / sr."""
        return self.samples.shape[0] / self.sr


def check_file(path: Path) -> None:
    """Raise AudioError unless ``path`` is a non-empty regular file."""
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if not path.is_file():
        raise AudioError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")


def check_window(path: Path, start: float, duration: float | None) -> None:
    """Raise AudioError unless ``start`` >= 0 and ``duration`` (when given) > 0, finite."""
    if not np.isfinite(start) or start < 0:
        raise AudioError(f"{path}: invalid start {start!r}: expected seconds >= 0")
    if duration is not None and (not np.isfinite(duration) or duration <= 0):
        raise AudioError(f"{path}: invalid duration {duration!r}: expected seconds > 0")


def load_audio(
    path: str | os.PathLike,
    *,
    sr: int = DEFAULT_SR,
    start: float = 0.0,
    duration: float | None = None,
) -> Audio:
    """Decode ``path`` to mono float32 at ``sr`` Hz, from ``start`` seconds for ``duration``.

    Channels are averaged; any input rate is resampled with soxr (high quality). ``duration=None``
    reads to the end; a window that runs past the end is cut at the end. The samples are those
    of `stream_audio`, joined.

    Raises `AudioError` naming the file when it is missing, empty, not audio, corrupt or
    truncated, holds no samples, or ``start`` lies at or beyond its end.
    """
    blocks = list(stream_audio(path, sr=sr, start=start, duration=duration))
    samples = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    return Audio(samples=samples, sr=sr, path=Path(path), start=float(start))


def stream_audio(
    path: str | os.PathLike,
    *,
    sr: int = DEFAULT_SR,
    start: float = 0.0,
    duration: float | None = None,
    block: int = BLOCK,
) -> Iterator[np.ndarray]:
    """Consecutive mono float32 blocks of ``path`` at ``sr`` Hz (see `load_audio`).

    The file is decoded ``block`` frames at a time and each block is averaged to mono and
    resampled as it comes (soxr's streaming resampler gives the same samples as resampling the
    whole), so memory does not grow with the track. A missing, empty or unreadable file, or a
    bad window, raises `AudioError` here; damage found while decoding (corrupt or truncated data,
    NaN samples, no samples at all) raises it from the iteration, after the blocks before it.
    """
    path = Path(path)
    check_file(path)
    check_window(path, start, duration)
    if not isinstance(sr, int) or sr <= 0:
        raise AudioError(f"invalid sample rate {sr!r}: expected a positive integer")
    opened = _soundfile_blocks(path, start, duration, block)
    native_sr, blocks = (
        opened if opened is not None else _ffmpeg_blocks(path, start, duration, block)
    )
    return _checked(path, _resampled(blocks, native_sr, sr))


def _checked(path: Path, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    count = 0
    for samples in blocks:
        if not np.isfinite(samples).all():
            raise AudioError(f"{path}: corrupt audio (decoded samples hold NaN or infinity)")
        count += samples.shape[0]
        if samples.shape[0]:
            yield samples
    if count == 0:
        raise AudioError(f"{path}: no audio samples could be decoded (empty or corrupt)")


def _resampled(blocks: Iterator[np.ndarray], orig_sr: int, target_sr: int) -> Iterator[np.ndarray]:
    """``blocks`` at ``orig_sr`` resampled to ``target_sr`` with soxr "HQ", as they come.

    "HQ" is what librosa.resample(res_type="soxr_hq") runs, without librosa's import cost. The
    output is cut to round(n * target_sr / orig_sr) samples for n input samples, as in one go.
    """
    if orig_sr == target_sr:
        for samples in blocks:
            yield np.ascontiguousarray(samples, dtype=np.float32)
        return
    import soxr

    stream = soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality="HQ")
    n_in = n_out = 0
    for samples in blocks:
        n_in += samples.shape[0]
        out = stream.resample_chunk(np.ascontiguousarray(samples, np.float32), last=False)
        n_out += out.shape[0]
        yield out
    out = stream.resample_chunk(np.zeros(0, np.float32), last=True)
    yield out[: max(0, int(round(n_in * target_sr / orig_sr)) - n_out)]


def _soundfile_blocks(
    path: Path, start: float, duration: float | None, block: int
) -> tuple[int, Iterator[np.ndarray]] | None:
    """(native rate, mono float32 blocks), or None when libsndfile cannot open the file."""
    import soundfile as sf

    try:
        handle = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None  # not a format libsndfile knows: ffmpeg's turn
    if path.suffix.lower() in (".wav", ".wave") or handle.format == "WAV":
        short = _wav_shortfall(path)
        if short is not None:
            handle.close()
            raise AudioError(
                f"{path}: truncated: the header declares {short[0]} bytes of samples "
                f"but the file holds {short[1]}"
            )
    native_sr, total = handle.samplerate, handle.frames
    first = int(round(start * native_sr))
    if start > 0 and first >= total:
        handle.close()
        raise AudioError(
            f"{path}: start {start:g} s is beyond the end of the audio ({total / native_sr:.3f} s)"
        )
    wanted = total - first if duration is None else min(total - first, round(duration * native_sr))
    return native_sr, _read_soundfile(path, handle, first, wanted, block)


def _read_soundfile(
    path: Path, handle, first: int, wanted: int, block: int
) -> Iterator[np.ndarray]:
    """Up to ``wanted`` frames of ``handle`` from frame ``first``, channels averaged, in blocks.

    Only one block of all channels is ever in memory (a one-hour stereo mix is 1.2 GB of float32).
    """
    import soundfile as sf

    done = 0
    with handle as f:
        try:
            if first:
                f.seek(first)
            while done < wanted:
                data = f.read(min(block, wanted - done), dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    break
                done += data.shape[0]
                yield data.mean(axis=1, dtype=np.float32)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"{path}: corrupt audio data ({error})") from None
        native_sr, total = f.samplerate, f.frames
    if wanted - done > max(_TRUNCATION_SLACK * wanted, _TRUNCATION_MIN_SECONDS * native_sr):
        raise AudioError(
            f"{path}: truncated or corrupt: the header declares {total / native_sr:.3f} s "
            f"but only {(first + done) / native_sr:.3f} s could be decoded"
        )


def _ffmpeg_reason(stderr: str) -> str:
    """A short reason from ffmpeg's error output."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    text = " ".join(lines)
    if "matches no streams" in text or "does not contain any stream" in text:
        return "the file has no audio stream"
    if "Invalid data found when processing input" in text:
        return "not an audio file, or corrupt (ffmpeg: invalid data)"
    if "End of file" in text:
        return "corrupt or truncated (ffmpeg: unexpected end of file)"
    if "moov atom not found" in text:
        return "corrupt or truncated (ffmpeg: moov atom not found)"
    return f"cannot decode ({lines[-1] if lines else 'ffmpeg failed'})"


def _ffmpeg_blocks(
    path: Path, start: float, duration: float | None, block: int
) -> tuple[int, Iterator[np.ndarray]]:
    """(native rate, mono float32 blocks) through the ffmpeg binary, read from a pipe.

    ffmpeg decodes every channel and this code averages them, as on the soundfile path
    (ffmpeg's own downmix weighs channels differently).
    """
    native_sr, channels = _ffmpeg_stream_format(path)
    args = [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-i",
        str(Path(path).absolute()),
    ]
    if start > 0:
        # output seeking: decode and drop what precedes ``start``. Input seeking (-ss before -i)
        # lands tens of milliseconds off in AAC, which would break audio/video sync.
        args += ["-ss", f"{start:.6f}"]
    if duration is not None:
        args += ["-t", f"{duration:.6f}"]
    args += ["-map", "0:a:0", "-vn", "-ac", str(channels), "-ar", str(native_sr)]
    args += ["-f", "f32le", "pipe:1"]
    return native_sr, _read_ffmpeg(path, args, channels, start, block)


def _read_ffmpeg(
    path: Path, args: list[str], channels: int, start: float, block: int
) -> Iterator[np.ndarray]:
    """Run ffmpeg with ``args`` and yield its f32le output averaged over ``channels``."""
    frame_bytes = 4 * channels
    done = 0
    # stderr to a file: a pipe nobody reads until the end could fill and stall ffmpeg
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors)
        stdout = proc.stdout
        assert stdout is not None  # stdout=PIPE
        try:
            while raw := stdout.read(block * frame_bytes):
                usable = len(raw) - len(raw) % frame_bytes  # only at the very end
                frames = np.frombuffer(raw[:usable], dtype="<f4").reshape(-1, channels)
                done += frames.shape[0]
                yield frames.mean(axis=1, dtype=np.float32)
            returncode = proc.wait()
        finally:
            if proc.poll() is None:  # the consumer stopped early, or failed
                proc.kill()
                proc.wait()
            stdout.close()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    if returncode != 0:
        raise AudioError(f"{path}: {_ffmpeg_reason(stderr)}")
    if stderr.strip():
        log.warning("%s: the decoder reported: %s", path, stderr.strip().splitlines()[0])
    if done == 0 and start > 0:
        length = probe_duration(path)
        raise AudioError(
            f"{path}: start {start:g} s is beyond the end of the audio ({length:.3f} s)"
        )


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_AUDIO_STREAM_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: .*?(\d+) Hz")


def _ffmpeg_header(path: Path) -> str:
    """ffmpeg's description of the file's header (it exits 1 because there is no output)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(Path(path).absolute())],
        capture_output=True,
    )
    text = proc.stderr.decode("utf-8", "replace")
    if "Duration:" not in text and "Stream #" not in text:
        raise AudioError(f"{path}: {_ffmpeg_reason(text)}")
    return text


_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6}


def _ffmpeg_stream_format(path: Path, header: str | None = None) -> tuple[int, int]:
    """(sample rate, channel count) of the first audio stream, from ffmpeg's header dump."""
    header = _ffmpeg_header(path) if header is None else header
    match = _AUDIO_STREAM_RE.search(header)
    if match is None:
        raise AudioError(f"{path}: the file has no audio stream")
    line = header[match.start() :].splitlines()[0]
    layout = line[match.end() - match.start() :].lstrip(", ").split(",")[0].strip()
    return int(match.group(1)), _channel_count(layout)


def _channel_count(layout: str) -> int:
    """'stereo' -> 2, '5.1(side)' -> 6, '3 channels' -> 3; 2 when the layout is unknown."""
    layout = layout.split("(")[0].strip()
    if layout in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[layout]
    if match := re.fullmatch(r"(\d+) channels", layout):
        return int(match.group(1))
    if match := re.fullmatch(r"(\d+)\.(\d+)", layout):
        return int(match.group(1)) + int(match.group(2))
    return 2  # ffmpeg then up- or down-mixes to two channels, which still averages sensibly


@dataclass(frozen=True)
class AudioFormat:
    """What a file's header says of its audio (before any decoding)."""

    duration: float  # seconds
    sr: int  # the native sample rate
    channels: int


def probe_format(path: str | os.PathLike) -> AudioFormat:
    """Length, sample rate and channels of the audio in ``path``, read from the header where
    possible (a length the header does not state is counted by decoding the whole file).
    Raises `AudioError` like `load_audio`."""
    import soundfile as sf

    path = Path(path)
    check_file(path)
    try:
        info = sf.info(str(path))
        if info.frames > 0:
            return AudioFormat(info.frames / info.samplerate, info.samplerate, info.channels)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    header = _ffmpeg_header(path)
    sr, channels = _ffmpeg_stream_format(path, header)
    match = _DURATION_RE.search(header)
    if match:
        hours, minutes, seconds = match.groups()
        return AudioFormat(int(hours) * 3600 + int(minutes) * 60 + float(seconds), sr, channels)
    # no stated length: count the samples of a decode at a low rate, block by block
    counted = sum(block.shape[0] for block in stream_audio(path, sr=8000)) / 8000
    return AudioFormat(counted, sr, channels)


def probe_duration(path: str | os.PathLike) -> float:
    """Length of the audio in ``path`` in seconds (`probe_format`)."""
    return probe_format(path).duration


def _wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of a RIFF/WAVE data chunk when the file ends early, else None.

    libsndfile quietly reads what is there, so a cut-off download would otherwise pass as a
    shorter song. Streaming writers that leave the size unset (0 or 0xFFFFFFFF) are not checked.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                present = size - offset - 8
                if 0 < length < 0xFFFFFFF0 and present < length:
                    return length, present
                return None
            offset += 8 + length + (length & 1)
    return None
