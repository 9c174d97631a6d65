"""The Timeline: exactly what the generator receives, one row per video frame.

Rendering reads only the Timeline, so batch size, device and chunking never change the picture.
Saved as `.npz` with these keys (documented in README.md):

- ``class_vectors`` float32 (T, 1000): class mix per frame, rows usually summing to 1; entries
  are >= 0 except the subtracted classes of class arithmetic ("tiger - 0.3 tabby cat"), >= -1
- ``noise``         float32 (T, 128): latent z per frame, |z| <= 2 * truncation bound
- ``truncation``    float32 (T,): BigGAN truncation per frame, in (0, 1]
- ``fps_num``, ``fps_den`` int64 scalars: the exact frame rate fps_num / fps_den
- ``seed``          int64 scalar: the seed the mapping drew from
- ``preset``        str scalar: the resolved preset as TOML text ("" when unknown)
- ``start``         float64 scalar: seconds into the track where frame 0 is shown (>= 0)
- ``audio_seconds`` float64 scalar: seconds of the track the frames go with, within one frame
                    of T / fps (the soundtrack a render muxes)

``start`` and ``audio_seconds`` are optional on load (files written before them: 0 and T / fps).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import zipfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.errors import TimelineError
from visualizer.files import atomic_output
from visualizer.inputs import MAX_TOML_BYTES, check_input_file
from visualizer.memory import available_memory
from visualizer.options import LATENT_SIZE, N_CLASSES

REQUIRED_KEYS = ("class_vectors", "noise", "truncation", "fps_num", "fps_den", "seed")
MIN_FPS, MAX_FPS = Fraction(1), Fraction(240)  # below 1 fps a frame outlasts short tracks
FPS_TEXT = re.compile(r"\d{1,20}(\.\d{0,20})?([eE][-+]?\d{1,3})?(/\d{1,20})?")  # fullmatch
MAX_FRAMES = 10 * 3600 * 60  # ten hours at 60 fps: 8.8 GB of class vectors
MAX_FPS_TERM = 10**9  # numerator and denominator: 30000/1001 style rates, never 3/10**30
ARRAY_MEMBERS = ("class_vectors.npy", "noise.npy", "truncation.npy")
MAX_SMALL_MEMBER = 4 * MAX_TOML_BYTES + 4096  # the preset as UCS-4 text, its header
MAX_FILE_BYTES = 1 << 40  # a timeline file (its members may be deflated: see check_headers)


def fps_problem(fps: object) -> str | None:
    """Why ``fps`` is not a usable frame rate (a sentence naming the valid range), or None."""
    if not isinstance(fps, Fraction):
        return f"fps {fps!r} is not an exact fraction"
    if max(abs(fps.numerator), fps.denominator) > MAX_FPS_TERM:
        shown = str(fps) if len(str(fps)) <= 24 else f"{str(fps)[:20]}..."
        return f"fps {shown} has terms over {MAX_FPS_TERM}: use a rate such as 30 or 30000/1001"
    if not MIN_FPS <= fps <= MAX_FPS:
        return f"fps {fps} is out of range: expected {MIN_FPS} to {MAX_FPS}"
    return None


def parse_fps(text: str) -> Fraction:
    """'30', '29.97', '30000/1001' -> an exact Fraction in [1, 240]; ValueError naming the text."""
    try:
        # the shape first: Fraction('1e999999999') would build a billion-digit integer
        value = Fraction(text) if FPS_TEXT.fullmatch(text.strip()) else None
    except (ValueError, ZeroDivisionError):
        value = None
    if value is None:
        raise ValueError(f"invalid fps {text!r}: expected a number such as 30 or 30000/1001")
    problem = fps_problem(value)
    if problem:
        raise ValueError(f"invalid {problem}")
    return value


@dataclass(frozen=True)
class Timeline:
    class_vectors: np.ndarray  # float32 (T, 1000), >= -1 (negative only from class arithmetic)
    noise: np.ndarray  # float32 (T, 128)
    truncation: np.ndarray  # float32 (T,), in (0, 1]
    fps: Fraction
    seed: int
    preset: str = ""  # resolved preset as TOML text
    start: float = 0.0  # seconds into the track where frame 0 is shown, >= 0
    audio_seconds: float | None = None  # seconds of track the frames go with; None: T / fps

    def __post_init__(self) -> None:
        validate(self)

    @property
    def n_frames(self) -> int:
        return int(self.truncation.shape[0])

    @property
    def duration(self) -> float:
        """Seconds of video: n_frames / fps."""
        return float(self.n_frames / self.fps)

    @property
    def sound_seconds(self) -> float:
        """Seconds of the track the frames go with (`audio_seconds`, else n_frames / fps)."""
        return self.duration if self.audio_seconds is None else self.audio_seconds

    def slice(self, start: int, stop: int) -> Timeline:
        """Frames [start, stop) as a Timeline of their own (same fps, seed and preset), placed
        on the track where they lie; a slice to the end keeps the track's own end."""
        start, stop, _ = slice(start, stop).indices(self.n_frames)
        stop = max(start, stop)
        end = self.sound_seconds if stop == self.n_frames else float(stop / self.fps)
        return dataclasses.replace(
            self,
            class_vectors=self.class_vectors[start:stop],
            noise=self.noise[start:stop],
            truncation=self.truncation[start:stop],
            start=self.start + float(start / self.fps),
            audio_seconds=max(0.0, end - float(start / self.fps)),
        )


def validate(timeline: Timeline) -> None:
    """Raise TimelineError naming the first inconsistency (shapes, dtypes, ranges, fps)."""
    t = timeline.truncation
    if t.ndim != 1:
        raise TimelineError(f"truncation must have shape (T,), got {t.shape}")
    n = t.shape[0]
    if timeline.class_vectors.shape != (n, N_CLASSES):
        raise TimelineError(
            f"class_vectors must have shape ({n}, {N_CLASSES}), got {timeline.class_vectors.shape}"
        )
    if timeline.noise.shape != (n, LATENT_SIZE):
        raise TimelineError(
            f"noise must have shape ({n}, {LATENT_SIZE}), got {timeline.noise.shape}"
        )
    for name in ("class_vectors", "noise", "truncation"):
        array = getattr(timeline, name)
        if array.dtype != np.float32:
            raise TimelineError(f"{name} must be float32, got {array.dtype}")
        if not np.isfinite(array).all():
            raise TimelineError(f"{name} holds NaN or infinite values")
    if n and (t.min() <= 0 or t.max() > 1):
        raise TimelineError(f"truncation must lie in (0, 1], got [{t.min():.4g}, {t.max():.4g}]")
    if n and timeline.class_vectors.min() < -1:
        raise TimelineError("class_vectors must be >= -1 (class arithmetic subtracts at most 1)")
    problem = fps_problem(timeline.fps)
    if problem:
        raise TimelineError(problem)
    if not (math.isfinite(timeline.start) and timeline.start >= 0):
        raise TimelineError(f"start must be seconds >= 0, got {timeline.start}")
    audio = timeline.audio_seconds
    period = float(1 / timeline.fps)
    if audio is not None and not (math.isfinite(audio) and audio >= 0):
        raise TimelineError(f"audio_seconds must be seconds >= 0, got {audio}")
    if audio is not None and abs(audio - timeline.duration) > period * 1.001:
        raise TimelineError(
            f"audio_seconds {audio:.6g} is not within one frame of the {n} frames' "
            f"{timeline.duration:.6g} s"
        )


def save(timeline: Timeline, path: str | os.PathLike, *, compressed: bool = False) -> Path:
    """Write ``timeline`` to ``path`` (.npz) atomically: a temporary file renamed when complete.

    ``compressed`` deflates the members: class vectors are mostly zeros, so a long track's
    timeline shrinks from 4.5 KB a frame to a small fraction of it, for a few seconds of CPU."""
    with atomic_output(path, suffix=".partial.npz") as tmp:
        (np.savez_compressed if compressed else np.savez)(
            tmp,
            class_vectors=timeline.class_vectors,
            noise=timeline.noise,
            truncation=timeline.truncation,
            fps_num=np.int64(timeline.fps.numerator),
            fps_den=np.int64(timeline.fps.denominator),
            seed=np.int64(timeline.seed),
            preset=np.str_(timeline.preset),
            start=np.float64(timeline.start),
            audio_seconds=np.float64(timeline.sound_seconds),
        )
    return Path(path)


def load(path: str | os.PathLike) -> Timeline:
    """Read a Timeline written by `save`; errors name the file and the problem."""
    path = Path(path)
    check_input_file(path, "timeline file", limit=MAX_FILE_BYTES, error=TimelineError)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise TimelineError(f"{path}: not a readable timeline .npz ({error})") from None
    with data:
        missing = [key for key in REQUIRED_KEYS if key not in data.files]
        if missing:
            raise TimelineError(f"{path}: not a timeline file (missing keys: {', '.join(missing)})")
        check_headers(path)  # shapes and sizes from the headers, before any array is read
        try:
            return Timeline(
                class_vectors=data["class_vectors"],
                noise=data["noise"],
                truncation=data["truncation"],
                fps=Fraction(int(data["fps_num"]), int(data["fps_den"])),
                seed=int(data["seed"]),
                preset=_preset_text(data),
                start=_scalar(data, "start", None) or 0.0,
                audio_seconds=_scalar(data, "audio_seconds", None),
            )
        except TimelineError as error:
            raise TimelineError(f"{path}: {error}") from None
        except (OSError, ValueError, TypeError, ZeroDivisionError, OverflowError) as error:
            raise TimelineError(f"{path}: corrupt timeline ({error})") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as error:
            # a member whose bytes do not match its checksum, or deflate data cut short
            raise TimelineError(f"{path}: corrupt timeline ({error or 'damaged member'})") from None


def check_headers(path: Path) -> int:
    """The number of frames of the timeline file ``path``, from its members' headers alone;
    TimelineError unless they describe a timeline: float32 arrays of matching shapes, at most
    `MAX_FRAMES` rows, each holding the bytes its header promises."""
    try:
        return _frames_in_headers(path)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise TimelineError(f"{path}: corrupt timeline ({error})") from None


def _frames_in_headers(path: Path) -> int:
    """`check_headers` without its error handling.

    Reading a member allocates what its header says before any data arrives, so a small file
    claiming a huge shape would end in an allocation traceback, and a deflated member may
    expand a small file into gigabytes: this reads headers only, and refuses arrays that would
    not fit in the memory this machine has available."""
    with zipfile.ZipFile(path) as archive:
        missing = [key for key in REQUIRED_KEYS if f"{key}.npy" not in archive.namelist()]
        if missing:
            raise TimelineError(f"{path}: not a timeline file (missing keys: {', '.join(missing)})")
        for info in archive.infolist():  # the scalars and the preset text: small
            if info.filename not in ARRAY_MEMBERS and info.file_size > MAX_SMALL_MEMBER:
                raise TimelineError(
                    f"{path}: member {info.filename} holds {info.file_size:,} bytes, more than "
                    "a timeline's scalars and preset text need"
                )
        headers = {}
        for key in ("class_vectors", "noise", "truncation"):
            info = archive.getinfo(f"{key}.npy")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read = {(1, 0): np.lib.format.read_array_header_1_0}.get(
                    version, np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(member)
                header_bytes = member.tell()
            headers[key] = shape, dtype
            if dtype != np.float32:
                raise TimelineError(f"{path}: {key} must be float32, got {dtype}")
            needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if needed > info.file_size - header_bytes:
                raise TimelineError(f"{path}: corrupt timeline ({key} is shorter than its shape)")
    if len(headers["truncation"][0]) != 1:
        raise TimelineError(
            f"{path}: truncation must have shape (T,), got {headers['truncation'][0]}"
        )
    n = headers["truncation"][0][0]
    expected = {"truncation": (n,), "class_vectors": (n, N_CLASSES), "noise": (n, LATENT_SIZE)}
    for key, shape in expected.items():
        if headers[key][0] != shape:
            raise TimelineError(f"{path}: {key} must have shape {shape}, got {headers[key][0]}")
    if n > MAX_FRAMES:
        raise TimelineError(
            f"{path}: {n} frames is more than a timeline holds (at most {MAX_FRAMES})"
        )
    needed = n * (N_CLASSES + LATENT_SIZE + 1) * 4
    available = available_memory()
    if available is not None and needed > available // 2:
        raise TimelineError(
            f"{path}: its {n:,} frames need {needed / 2**30:.1f} GiB of memory, more than half "
            f"of the {available / 2**30:.1f} GiB this machine has available"
        )
    return int(n)


def _scalar(data, key: str, missing: float | None) -> float | None:
    """The float scalar ``key`` (``missing`` in files written before it was stored)."""
    return float(data[key]) if key in data.files else missing


def _preset_text(data) -> str:
    """The stored preset TOML ("" when absent); text that is not TOML is refused, not copied,
    and so is a preset larger than a preset file may be (it is copied beside the video)."""
    if "preset" not in data.files:
        return ""
    text = str(data["preset"])
    if len(text) > MAX_TOML_BYTES:
        raise ValueError(f"its preset is {len(text):,} characters, more than a preset holds")
    try:
        tomllib.loads(text)
    except (ValueError, RecursionError) as error:  # an integer over 4,300 digits is a ValueError
        raise ValueError(f"its preset is not TOML text ({error or 'nested too deeply'})") from None
    return text
