"""The batch manifest: OUTDIR/manifest.json, one entry per output, rewritten atomically.

Format (documented in README.md)::

    {
      "format": 1,
      "updated": "2026-11-23T17:40:00+00:00",
      "tracks": {
        "<output name, relative to OUTDIR>": {
          "index": 1,                   # position in the last run's album
          "source": "/abs/path/track.flac",
          "output": "/abs/outdir/track.mp4",
          "status": "pending" | "running" | "done" | "failed",
          "last_run": "rendered" | "resumed" | "skipped" | "failed" | null,
          "settings_hash": "<sha256 of track content + render settings>",
          "source_sha256": "...", "source_size": 123, "source_mtime_ns": 123,
          "stems": {"drums": "/abs/path/drums.wav", ...},   # the stems it read, if any
          "frames": 240, "video_seconds": 8.0, "audio_seconds": 7.98,
          "wall_seconds": 12.3, "attempts": 1, "worker": "host:pid",
          "error": null | "one-line reason"
        }
      }
    }

Entries of tracks that are not part of the current run are kept as they are, so an album can be
batched in parts into one folder.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from visualizer.errors import OutputError
from visualizer.files import DISK_FULL, publish, write_failed
from visualizer.inputs import read_text_input

FORMAT = 1
STATUSES = ("pending", "running", "done", "failed")
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 256 << 20  # about a million tracks


# The type of each field an entry may hold (a hand-edited manifest is checked on load).
_TEXT, _COUNT, _SECONDS, _TABLE = (str,), (int,), (int, float), (dict,)
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "index": _COUNT, "source": _TEXT, "output": _TEXT, "status": _TEXT, "last_run": _TEXT,
    "settings_hash": _TEXT, "source_sha256": _TEXT, "source_size": _COUNT,
    "source_mtime_ns": _COUNT, "frames": _COUNT, "video_seconds": _SECONDS,
    "audio_seconds": _SECONDS, "wall_seconds": _SECONDS, "attempts": _COUNT, "worker": _TEXT,
    "error": _TEXT, "stems": _TABLE,
}  # fmt: skip
LAST_RUNS = ("rendered", "resumed", "skipped", "failed")


def check_entry(path: Path, name: str, entry: object) -> None:
    """OutputError naming the first field of a manifest entry that has the wrong type or value
    (null is allowed everywhere but ``status``; unknown fields are kept as they are)."""
    where = f"batch manifest {path}: tracks[{json.dumps(name)[:80]}]"
    if not isinstance(entry, dict):
        raise OutputError(f"{where} is not a table; fix it or move the manifest away")
    for field, value in entry.items():
        types = FIELD_TYPES.get(field)
        if types is None or (value is None and field != "status"):
            continue
        wrong = not isinstance(value, types) or isinstance(value, bool)
        if not wrong and field == "status":
            wrong = value not in STATUSES
        elif not wrong and field == "last_run":
            wrong = value not in LAST_RUNS
        elif not wrong and types not in (_TEXT, _TABLE):
            wrong = not math.isfinite(value) or value < 0
        if wrong:
            shown = json.dumps(value)[:60]
            raise OutputError(
                f"{where}.{field} = {shown} is not {_WHAT[types]}{_choices(field)}; fix it or "
                "move the manifest away"
            )


_WHAT = {_TEXT: "a string", _COUNT: "a whole number >= 0", _SECONDS: "a number >= 0"}
_WHAT[_TABLE] = "a table"


def _choices(field: str) -> str:
    choices = {"status": STATUSES, "last_run": LAST_RUNS}.get(field)
    return f" ({', '.join(choices)})" if choices else ""


class Manifest:
    """Thread-safe view of OUTDIR/manifest.json; every `update` rewrites the file atomically
    (a temporary file in the same folder, then rename), so a crash never leaves it half-written."""

    def __init__(self, path: Path, tracks: dict[str, dict] | None = None) -> None:
        self.path = Path(path)
        self._tracks: dict[str, dict] = tracks or {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, outdir: Path) -> Manifest:
        """The manifest in ``outdir`` (empty when there is none); `OutputError` if unreadable."""
        path = Path(outdir) / MANIFEST_NAME
        if not path.exists():
            return cls(path)
        text = read_text_input(path, "batch manifest", limit=MAX_MANIFEST_BYTES, error=OutputError)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise OutputError(
                f"cannot read batch manifest {path}: {error} (move it away to start afresh)"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("tracks"), dict):
            raise OutputError(f"batch manifest {path} has no 'tracks' table; move it away")
        if data.get("format") != FORMAT:
            raise OutputError(
                f"batch manifest {path} has format {data.get('format')!r}, expected {FORMAT}"
            )
        for name, entry in data["tracks"].items():
            check_entry(path, name, entry)
        return cls(path, {str(k): dict(v) for k, v in data["tracks"].items()})

    def get(self, name: str) -> dict | None:
        """A copy of the entry for output ``name``, or None."""
        with self._lock:
            entry = self._tracks.get(name)
            return copy.deepcopy(entry) if entry is not None else None

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return copy.deepcopy(self._tracks)

    def update(self, name: str, **fields: object) -> dict:
        """Merge ``fields`` into the entry of ``name``, write the file, return the new entry."""
        status = fields.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown manifest status {status!r}")
        with self._lock:
            entry = self._tracks.setdefault(name, {})
            entry.update(fields)
            self._write()
            return copy.deepcopy(entry)

    def _write(self) -> None:
        data = {
            "format": FORMAT,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            "tracks": self._tracks,
        }
        text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            publish(Path(tmp), self.path)  # the videos' permissions (umask), not mkstemp's 0600
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(error, OSError) and error.errno in DISK_FULL:
                raise write_failed(self.path, error) from None
            raise
