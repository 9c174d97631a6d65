"""Progress reporting: library code never prints, it calls a callback.

A stage that does long work accepts ``progress: ProgressCallback | None``. It calls it with a
`ProgressEvent` whenever a unit of work completes (a frame, a batch of bytes, a track). The
callback may raise `visualizer.errors.Cancelled` to stop the work; the stage then cleans up
(no half-written output) and lets the exception through. The CLI turns events into tqdm bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # what is running: "download", "analyze", "render", "encode", "track", ...
    done: float  # units done so far, monotonic within a stage
    total: float | None  # units in all, None when unknown
    unit: str = "it"  # "B" (bytes), "frame", "track", ...
    label: str = ""  # optional short description shown beside the bar (a file name, a model)


ProgressCallback = Callable[[ProgressEvent], None]


def report(
    progress: ProgressCallback | None,
    stage: str,
    done: float,
    total: float | None,
    unit: str = "it",
    label: str = "",
) -> None:
    """Send one event to ``progress`` if there is a callback."""
    if progress is not None:
        progress(ProgressEvent(stage, done, total, unit, label))
