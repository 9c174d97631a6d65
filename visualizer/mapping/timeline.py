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
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.errors import TimelineError
from visualizer.files import atomic_output
from visualizer.options import LATENT_SIZE, N_CLASSES

REQUIRED_KEYS = ("class_vectors", "noise", "truncation", "fps_num", "fps_den", "seed")
MIN_FPS, MAX_FPS = Fraction(1), Fraction(240)  # below 1 fps a frame outlasts short tracks
FPS_TEXT = re.compile(r"^\d{1,20}(\.\d{0,20})?([eE][-+]?\d{1,3})?(/\d{1,20})?$")
MAX_FRAMES = 10 * 3600 * 60  # ten hours at 60 fps: 8.8 GB of class vectors
MAX_FPS_TERM = 10**9  # numerator and denominator: 30000/1001 style rates, never 3/10**30


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
        value = Fraction(text) if FPS_TEXT.match(text.strip()) else None
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

    def __post_init__(self) -> None:
        validate(self)

    @property
    def n_frames(self) -> int:
        return int(self.truncation.shape[0])

    @property
    def duration(self) -> float:
        """Seconds of video: n_frames / fps."""
        return float(self.n_frames / self.fps)

    def slice(self, start: int, stop: int) -> Timeline:
        """Frames [start, stop) as a Timeline of their own (same fps, seed and preset)."""
        return Timeline(
            self.class_vectors[start:stop],
            self.noise[start:stop],
            self.truncation[start:stop],
            self.fps,
            self.seed,
            self.preset,
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
        )
    return Path(path)


def load(path: str | os.PathLike) -> Timeline:
    """Read a Timeline written by `save`; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise TimelineError(f"timeline file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
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
            )
        except TimelineError as error:
            raise TimelineError(f"{path}: {error}") from None
        except (OSError, ValueError, TypeError, ZeroDivisionError, OverflowError) as error:
            raise TimelineError(f"{path}: corrupt timeline ({error})") from None


def check_headers(path: Path) -> None:
    """TimelineError unless the .npz members' headers describe a timeline: float32 arrays of
    matching shapes, at most `MAX_FRAMES` rows, each holding the bytes its header promises.

    Reading a member allocates what its header says before any data arrives, so a small file
    claiming a huge shape would end in an allocation traceback; this reads headers only."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
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


def _preset_text(data) -> str:
    """The stored preset TOML ("" when absent); text that is not TOML is refused, not copied."""
    import tomllib

    text = str(data["preset"]) if "preset" in data.files else ""
    try:
        tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as error:
        raise ValueError(f"its preset is not TOML text ({error})") from None
    return text
