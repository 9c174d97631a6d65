"""Beats from a file (``--beats file:PATH``): a beat grid made elsewhere, used as it is.

Where no tracker hears the music as the user does (rubato, a pickup, a 3:2 pulse), the user's own
grid is the one that counts: tapped or corrected in a DAW or DJ program, or written by another
tracker. The file is text, one beat per line, times in seconds from the start of the track file
(as ``--downbeat``'s):

    0.52            a beat at 0.52 s
    0.52  1         ... and its number in the bar: 1 on a downbeat (Beat This! and madmom write
    1.04  2             this, tab- or space-separated; commas work too)

Blank lines and lines starting with ``#`` are skipped. With beat numbers on every line the bars
are the file's; without them, the project finds the bar lines among the given beats (as it does
among its own). Torch-free and small: read when a render is checked and before the analysis.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from visualizer.errors import FeaturesError, printable

MAX_BYTES = 16 << 20  # a beat per line: 16 MiB is days of music; anything larger is not a grid
MAX_BEAT_NUMBER = 32  # the largest beat number in a bar accepted (bars of up to 32 beats)
FORMAT = (
    "one beat per line: a time in seconds from the start of the track file, optionally followed "
    "by its number in the bar (1 on a downbeat)"
)


def read_beat_file(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(beat times (B,) float64 seconds, strictly increasing, B >= 2; downbeat times (D,), the
    beats numbered 1, or None when the file numbers no beats) of a beats file. FeaturesError
    naming the file, the line and what would be valid for anything else."""
    path = Path(path)
    text = _read_text(path)
    times: list[float] = []
    numbers: list[int | None] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        time, number = _parse_line(path, line_no, stripped)
        if times and time <= times[-1]:
            raise FeaturesError(
                f"{path}: line {line_no}: beat at {time:g} s is not after the one before it "
                f"({times[-1]:g} s): the beats must be in time order, one per line"
            )
        times.append(time)
        numbers.append(number)
    if len(times) < 2:
        raise FeaturesError(f"{path}: {len(times)} beat(s) found, need at least 2 ({FORMAT})")
    numbered = [n is not None for n in numbers]
    if any(numbered) and not all(numbered):
        other = numbered.index(not numbered[0]) + 1
        first, then = ("has", "has none") if numbered[0] else ("has none", "has one")
        raise FeaturesError(
            f"{path}: beat 1 {first} a number in the bar and beat {other} {then}: number every "
            "beat, or none"
        )
    beats = np.asarray(times, np.float64)
    if not all(numbered):
        return beats, None
    downbeats = beats[np.asarray(numbers) == 1]
    if downbeats.size == 0:
        raise FeaturesError(f"{path}: no beat is numbered 1 (a downbeat): {FORMAT}")
    return beats, downbeats


def _read_text(path: Path) -> str:
    try:
        if not path.is_file():
            raise FeaturesError(f"beats file {path}: no such file ({FORMAT})")
        if path.stat().st_size > MAX_BYTES:
            raise FeaturesError(
                f"beats file {path}: {path.stat().st_size} bytes, more than a beat grid "
                f"({MAX_BYTES >> 20} MiB at most)"
            )
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FeaturesError(f"beats file {path}: not text (UTF-8): {FORMAT}") from None
    except OSError as error:
        raise FeaturesError(f"beats file {path}: {error.strerror or error}") from None


def _parse_line(path: Path, line_no: int, line: str) -> tuple[float, int | None]:
    """(time, beat number or None) of one non-blank line."""
    fields = [f for f in re.split(r"[\s,;]+", line) if f]
    where = f"{path}: line {line_no}"
    if len(fields) > 2:
        raise FeaturesError(f"{where}: {len(fields)} fields in {printable(line)!r}: {FORMAT}")
    try:
        time = float(fields[0])
    except ValueError:
        raise FeaturesError(f"{where}: {printable(fields[0])!r} is not a time: {FORMAT}") from None
    if not math.isfinite(time) or time < 0:
        raise FeaturesError(f"{where}: a beat at {fields[0]} s: times are finite, 0 or more")
    if len(fields) == 1:
        return time, None
    number = fields[1]
    if not number.isdigit() or not 1 <= int(number) <= MAX_BEAT_NUMBER:
        raise FeaturesError(
            f"{where}: {printable(number)!r} is not a beat number in the bar (a whole number "
            f"from 1 to {MAX_BEAT_NUMBER}, 1 on a downbeat)"
        )
    return time, int(number)


def grid_text(beats: np.ndarray, downbeats: np.ndarray, meter: int, *, header: str) -> str:
    """A beats file of ``beats`` (B,) and ``downbeats`` (a subset), times in seconds, that
    `read_beat_file` reads back: each beat numbered in its bar (the beats before the first
    downbeat count back from it, ``meter`` to a bar), times only when there are no downbeats or
    no meter. ``header`` becomes the comment lines on top."""
    beats = np.asarray(beats, np.float64)
    starts = np.isin(beats, np.asarray(downbeats, np.float64))
    lines = [f"# {line}" for line in header.splitlines()]
    if not starts.any() or meter <= 0:
        return "\n".join([*lines, *(f"{t:.4f}" for t in beats)]) + "\n"
    first = int(np.argmax(starts))
    last = first
    for k, time in enumerate(beats):
        if starts[k]:
            last = k
        number = (k - first) % meter + 1 if k < first else k - last + 1
        lines.append(f"{time:.4f}\t{min(number, MAX_BEAT_NUMBER)}")
    return "\n".join(lines) + "\n"
