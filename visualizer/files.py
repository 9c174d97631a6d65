"""Atomic outputs: a file appears under its final name only when it is complete.

Every writer in the project goes through `atomic_output`, so an interrupted or failed run never
leaves a file that looks finished: the data goes to a hidden temporary name in the same folder
(same filesystem, so the final rename is atomic) and is renamed when the block completes, or
deleted when it raises.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = ".partial") -> Iterator[Path]:
    """Yield a temporary path to write; it becomes ``path`` when the block completes.

    ``suffix`` keeps the extension some writers look at (``np.savez`` appends ``.npz`` otherwise).
    The parent folder is created. If the block raises, the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path, suffix)
    try:
        yield tmp
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
