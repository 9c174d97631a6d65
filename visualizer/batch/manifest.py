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
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from visualizer.errors import OutputError

FORMAT = 1
STATUSES = ("pending", "running", "done", "failed")
MANIFEST_NAME = "manifest.json"


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
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise OutputError(
                f"cannot read batch manifest {path}: {error} (move it away to start afresh)"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("tracks"), dict):
            raise OutputError(f"batch manifest {path} has no 'tracks' table; move it away")
        if data.get("format") != FORMAT:
            raise OutputError(
                f"batch manifest {path} has format {data.get('format')!r}, expected {FORMAT}"
            )
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
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
