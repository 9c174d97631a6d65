"""Content identity and the cache folder: the sha256 of files and texts, and where the tool
keeps what it can recompute or download again (weights, analyses, compiled kernels).

One definition for every user: downloads verify against a file's sha256, the analysis cache
keys on the audio's, a resumed render checks the track's and the saved Timeline's, a batch
re-renders when a track's changes; a beats file counts by its content (`beats_identity`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from visualizer.errors import FeaturesError
from visualizer.options import beat_file_of, tracker_spec

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


def beats_identity(spec: str) -> str:
    """A --beats value as it counts for an analysis or a render: a beats file by its content
    ("file:" and 32 hex digits of its sha256: the same grid under another name is the same
    analysis, an edited one is not), the trackers by their one spelling. FeaturesError for a
    beats file that is not there."""
    spec = tracker_spec(spec)
    path = beat_file_of(spec)
    if path is None:
        return spec
    if not Path(path).is_file():
        raise FeaturesError(f"beats file {path}: no such file")
    return "file:" + file_sha256(Path(path))[:32]
