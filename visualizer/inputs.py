"""Inputs: what every file the tool reads is checked for before it is read, and the one TOML
loader.

A file named as an input (a preset, an album TOML, a playlist, a timeline, a pose, a MIDI map)
may be anything: a FIFO waits for a writer for ever, ``/dev/zero`` reads until memory runs out,
a 25 MB "preset" is copied into every output's preset record. So an input is read only when it
is a regular file of at most its kind's size bound (`read_input`), and a path is used only when
its text is UTF-8 (`check_path_text`): a name with other bytes cannot be written into a UTF-8
file (a preset record, an ffmpeg list), and failing on it after a long render is worse than
refusing it at once.

`parse_toml` and `load_toml` turn every way tomllib fails (malformed text, nesting deeper than
the interpreter's recursion, an integer of more than 4,300 digits) into one error naming the file.
Errors are the caller's `VisualizerError` subclass, so each kind of input keeps its own.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from visualizer.errors import VisualizerError

MAX_TOML_BYTES = 1 << 20  # a preset, an album or a MIDI map: thousands of lines fit in 1 MiB
MAX_LIST_BYTES = 16 << 20  # a playlist: about 100,000 entries

ErrorType = type[VisualizerError]


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as text that can be printed: bytes that are not UTF-8 as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def path_text_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be used (its text holds bytes that are not UTF-8), or None.

    Linux hands such bytes to Python as lone surrogates ('\\udcff' for byte 0xff), which no
    UTF-8 file, log line or ffmpeg list can hold."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return "holds bytes that are not UTF-8: rename it"
    return None


def check_path_text(path: str | os.PathLike, what: str, error: ErrorType = VisualizerError) -> Path:
    """``path`` as a Path, after checking that its absolute form (the working folder counts:
    a relative path is written out absolute) is UTF-8; ``error`` naming it otherwise."""
    path = Path(path)
    problem = path_text_problem(path) or path_text_problem(_absolute(path))
    if problem:
        raise error(f"{what} {shown_path(path.absolute())} {problem}")
    return path


def _absolute(path: Path) -> str:
    try:
        return str(path.absolute())
    except OSError:  # the working folder was removed: the relative text is all there is
        return str(path)


def check_input_file(
    path: str | os.PathLike, what: str, *, limit: int, error: ErrorType = VisualizerError
) -> os.stat_result:
    """The status of ``path`` once it is known to be a regular file (a link to one counts) of
    at most ``limit`` bytes; ``error`` naming the path and the problem otherwise. Never opens it,
    so a FIFO cannot block here."""
    check_path_text(path, what, error)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except OSError as problem:
        raise error(f"cannot read {what} {path}: {_reason(problem)}") from None
    return _checked(status, path, what, limit, error)


def _checked(
    status: os.stat_result, path: str | os.PathLike, what: str, limit: int, error: ErrorType
) -> os.stat_result:
    if not stat.S_ISREG(status.st_mode):
        raise error(f"{what} {path} is not a regular file (a folder, FIFO or device)")
    if status.st_size > limit:
        raise error(
            f"{what} {path} is {status.st_size:,} bytes: more than a {what} holds "
            f"(at most {limit:,})"
        )
    return status


def read_input(
    path: str | os.PathLike, what: str, *, limit: int, error: ErrorType = VisualizerError
) -> bytes:
    """The bytes of the input file ``path``, checked as `check_input_file` says.

    Opened without blocking (a FIFO put there after the check cannot hold the open) and checked
    again on the open descriptor; at most ``limit`` bytes are read, whatever the file claims."""
    check_input_file(path, what, limit=limit, error=error)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as problem:
        raise error(f"cannot read {what} {path}: {_reason(problem)}") from None
    with os.fdopen(fd, "rb") as handle:
        _checked(os.fstat(fd), path, what, limit, error)
        try:
            data = handle.read(limit + 1)
        except OSError as problem:
            raise error(f"cannot read {what} {path}: {_reason(problem)}") from None
    if len(data) > limit:  # grew since the check
        raise error(f"{what} {path} holds more than {limit:,} bytes")
    return data


def read_text_input(
    path: str | os.PathLike, what: str, *, limit: int, error: ErrorType = VisualizerError
) -> str:
    """`read_input` decoded as UTF-8 (a leading byte-order mark is dropped)."""
    data = read_input(path, what, limit=limit, error=error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise error(
            f"{what} {path} is not UTF-8 text ({problem.reason} at byte {problem.start})"
        ) from None


def parse_toml(text: str, where: str, error: ErrorType = VisualizerError) -> dict[str, Any]:
    """``text`` parsed as TOML; ``error`` "WHERE is not valid TOML (why)" for any failure."""
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as problem:  # TOMLDecodeError is a ValueError
        # ValueError: an integer over 4,300 digits; RecursionError: deeply nested arrays.
        reason = "nested too deeply" if isinstance(problem, RecursionError) else str(problem)
        raise error(f"{where} is not valid TOML ({reason})") from None


def load_toml(
    path: str | os.PathLike,
    what: str,
    error: ErrorType = VisualizerError,
    *,
    limit: int = MAX_TOML_BYTES,
) -> dict[str, Any]:
    """The TOML file ``path`` (a regular file of at most ``limit`` bytes) as tables."""
    text = read_text_input(path, what, limit=limit, error=error)
    return parse_toml(text, f"{what} {path}", error)


def _reason(problem: OSError) -> str:
    if problem.errno == errno.ELOOP:
        return "a loop of symbolic links"
    return problem.strerror or str(problem)
