"""Content identity and the cache folder: the sha256 of files and texts, and where the tool
keeps what it can recompute or download again (weights, analyses, compiled kernels).

One definition for every user: downloads verify against a file's sha256, the analysis cache
keys on the audio's, a resumed render checks the track's and the saved Timeline's, a batch
re-renders when a track's changes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20  # bytes read at a time while hashing a file


def cache_dir() -> Path:
    """$VISUALIZER_CACHE, else $XDG_CACHE_HOME/visualizer, else ~/.cache/visualizer."""
    explicit = os.environ.get("VISUALIZER_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "visualizer"


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of the file's bytes, 64 hex digits (read a block at a time: any size). OSError
    when the file cannot be read."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            hasher.update(block)
    return hasher.hexdigest()


def text_sha256(text: str) -> str:
    """sha256 of ``text`` encoded as UTF-8, 64 hex digits."""
    return hashlib.sha256(text.encode()).hexdigest()
