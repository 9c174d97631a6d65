"""Outputs: atomic (a file appears under its final name only when complete) and ruled (never
an input, never replaced without overwrite, one writer at a time: `check_output`, `exclusive`).

Every writer in the project goes through `atomic_output`, so an interrupted or failed run never
leaves a file that looks finished: the data goes to a hidden temporary name in the same folder
(same filesystem, so the final rename is atomic) and is renamed when the block completes, or
deleted when it raises (a full disk is then one `OutputError` line).

Nothing beside an output is followed: a temporary is a new file (``mkstemp``, which never opens
an existing name), the final rename replaces whatever link sits at the name instead of writing
through it, a lock is opened with ``O_NOFOLLOW`` (`exclusive`), and a folder the tool fills and
removes (a render's work folder) must be a real folder of this user's (`check_own_folder`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from visualizer.errors import OutputError
from visualizer.inputs import check_path_text, shown_path

_UMASK = os.umask(0o022)  # read once at import (setting it is process-wide), then restored
os.umask(_UMASK)


def temporary_path(path: Path, suffix: str = ".partial") -> Path:
    """A new, empty, hidden file beside ``path`` (``.NAME.XXXX<suffix>``) for writing into."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def publish(tmp: Path, path: Path) -> None:
    """Rename a complete temporary file to ``path`` with ordinary permissions (mkstemp: 600)."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


def remove_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the hidden temporaries a killed writer of ``path`` left beside it
    (``.NAME.XXXX.partial``, ``.NAME.XXXX.concat.txt``, any suffix after ``.partial``); returns
    them. Only for the holder of ``exclusive(path)``: nobody else writes them then."""
    path = Path(path)
    removed = []
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*"):
        name = leftover.name[len(path.name) + 2 :]  # "XXXX.partial", "lock", "parts", ...
        temporary = ".partial" in name or name.endswith(".concat.txt")
        if temporary and "." in name and leftover.is_file() and not leftover.is_symlink():
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


# A write that failed for want of room: a full disk, a quota, a file-size limit (RLIMIT_FSIZE).
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def write_failed(path: str | os.PathLike, error: OSError) -> OutputError:
    """The one-line error of a write to ``path`` that failed with ``error``."""
    reason = (error.strerror or str(error)).lower()  # "no space left on device", ...
    return OutputError(f"cannot write {path}: {reason} (nothing was written there)")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = ".partial") -> Iterator[Path]:
    """Yield a temporary path to write; it becomes ``path`` when the block completes.

    ``suffix`` keeps the extension some writers look at (``np.savez`` appends ``.npz`` otherwise).
    The parent folder is created. If the block raises, the temporary file is removed; a write
    that found no room (`DISK_FULL`) becomes an OutputError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_path(path, suffix)
    except OSError as error:
        raise write_failed(path, error) from None
    try:
        yield tmp
        publish(tmp, path)
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        raise write_failed(path, error) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


# -- output rules -----------------------------------------------------------------------------
# Every output the tool writes follows them: an existing file is kept unless overwrite, no
# output is ever one of the inputs (not even with overwrite), and one run at a time writes it.


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file (same inode, or the same absolute path)."""
    a, b = Path(a), Path(b)
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return a.absolute() == b.absolute() or a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
        return False


def check_output(
    path: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None] = (),
    *,
    overwrite: bool = False,
    what: str = "output",
    make_folder: bool = False,
) -> Path:
    """Raise OutputError unless ``path`` may be written: not an input, not existing (or overwrite),
    in a folder that exists (or, with ``make_folder``, can be made) and is writable. Returns
    ``path`` as a Path."""
    path = check_path_text(path, what, OutputError)
    control = next((c for c in str(path.absolute()) if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if control is not None:  # a newline breaks ffmpeg's segment list, an escape the terminal
        raise OutputError(
            f"{what} {path!r} holds a control character ({control!r}): choose a plain name"
        )
    _status(path.parent, what)  # a loop of links is named before anything else looks at it
    for source in inputs:
        if source is not None and same_file(path, source):
            raise OutputError(f"{what} {path} is one of the inputs: choose another name")
    if len(path.name.encode()) > 255 - 40:  # room for the hidden temporary names beside it
        raise OutputError(f"{what} name too long ({len(path.name.encode())} bytes): {path.name}")
    if _status(path, what, follow=False) is not None and not overwrite:
        raise OutputError(f"{what} exists: {path} (use --overwrite to replace it)")
    check_folder_writable(path.parent, what, make=make_folder)
    return path


def _status(path: Path, what: str, *, follow: bool = True) -> os.stat_result | None:
    """``path``'s status (None when it does not exist); OutputError for a loop of links."""
    try:
        return os.stat(path, follow_symlinks=follow)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OutputError(f"{what} path {path} runs in a loop of symbolic links") from None
        return None  # permissions and the like: the writability check names them


def check_folder_writable(folder: Path, what: str = "output", make: bool = False) -> None:
    """OutputError when ``folder`` is a file or cannot take new files, or is missing (with
    ``make``: when the nearest existing folder above it cannot take the new folder)."""
    existing = folder
    for parent in (folder, *folder.absolute().parents):
        status = _status(parent, what)
        if status is not None and not stat.S_ISDIR(status.st_mode):
            raise OutputError(f"{what} folder {folder} cannot exist: {parent} is a file")
        if status is not None:
            existing = parent
            break
    if not folder.is_dir() and not make:
        raise OutputError(f"{what} folder does not exist: {folder}")
    try:  # access() is not enough: read-only mounts, immutable folders, /proc and /sys
        temporary_path(existing / "probe", ".probe").unlink()
    except OSError as error:
        raise OutputError(f"{what} folder {folder} is not writable ({error.strerror})") from None


@contextlib.contextmanager
def exclusive(
    path: str | os.PathLike, what: str = "output", lock: str | os.PathLike | None = None
) -> Iterator[None]:
    """Hold the one lock on ``path`` for the block: the file ``lock``, by default a hidden
    ``.NAME.lock`` beside ``path`` (a folder may keep its lock inside itself instead).

    A second holder fails at once with an OutputError naming the running process (its pid and
    command line), so two runs never write one output. The lock dies with its process; the lock
    file is removed on release.
    """
    import fcntl

    path = Path(path)
    lock = Path(lock) if lock is not None else path.parent / f".{path.name}.lock"
    while True:
        fd = _open_lock(lock)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise OutputError(f"{what} {path} is being written by {holder}: wait for it") from None
        try:
            if os.fstat(fd).st_ino == os.lstat(lock).st_ino:
                break  # still the file on disk (not one a releasing holder just removed)
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} ({_command_line()})\n".encode())
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still locked: the next holder makes a new file
        os.close(fd)


def _open_lock(lock: Path) -> int:
    """A descriptor of the lock file ``lock``, created if missing; OutputError for anything
    planted there: a lock is truncated and written, so following a symbolic link (or writing
    into a FIFO, a device or another user's file) could destroy whatever it points at."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(lock, flags, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OutputError(
                f"lock file {lock} is a symbolic link: remove it (a lock is never followed)"
            ) from None
        if error.errno == errno.EISDIR:
            raise OutputError(f"lock file {lock} is not a regular file: remove it") from None
        raise OutputError(f"cannot open the lock file {lock} ({error.strerror})") from None
    problem = planted_problem(os.fstat(fd))
    if problem:
        os.close(fd)
        raise OutputError(f"lock file {lock} is {problem}: remove it")
    return fd


def planted_problem(status: os.stat_result, kind: str = "file") -> str | None:
    """Why a ``kind`` ("file" or "folder") the tool is about to write into is not one it may
    use (None when it may): a link, not a regular file (folder), or owned by another user."""
    if stat.S_ISLNK(status.st_mode):
        return "a symbolic link"
    is_kind = stat.S_ISDIR if kind == "folder" else stat.S_ISREG
    if not is_kind(status.st_mode):
        return "not a folder" if kind == "folder" else "not a regular file"
    if hasattr(os, "geteuid") and status.st_uid != os.geteuid():
        return f"owned by another user (uid {status.st_uid})"
    return None


def check_own_folder(folder: str | os.PathLike, what: str) -> None:
    """OutputError unless ``folder`` is missing or a real folder of this user's: the tool
    writes into a work folder and removes it, so a link there would send its files (and the
    removal) elsewhere, and another user's folder is not its to empty. Never follows a link."""
    try:
        status = os.lstat(folder)
    except FileNotFoundError:
        return
    except OSError as error:
        raise OutputError(f"cannot look at the {what} {folder} ({error.strerror})") from None
    problem = planted_problem(status, "folder")
    if problem:
        raise OutputError(
            f"the {what} {shown_path(folder)} is {problem}: remove it (the tool fills and "
            "removes this folder, and never follows a link there)"
        )


def _command_line() -> str:
    try:
        argv = Path("/proc/self/cmdline").read_bytes().split(b"\0")
        return " ".join(a.decode(errors="replace") for a in argv if a)[:200]
    except OSError:
        return "visualizer"
