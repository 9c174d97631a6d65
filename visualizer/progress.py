"""Progress reporting: library code never prints, it calls a callback.

A stage that does long work accepts ``progress: ProgressCallback | None``. It calls it with a
`ProgressEvent` whenever a unit of work completes (a frame, a batch of bytes, a track). The
callback may raise `visualizer.errors.Cancelled` to stop the work; the stage then cleans up
(no half-written output) and lets the exception through. `ProgressBars` turns events into tqdm
bars for the CLI and the Python API.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from visualizer.errors import printable


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


class ProgressBars:
    """A `ProgressCallback` drawing one tqdm bar per stage; silent when quiet.

    The CLI draws text bars on stderr; ``notebook=True`` (the Python API's ``progress=True``)
    uses ``tqdm.auto``, which draws widgets in Jupyter and Colab and text bars elsewhere.

    Subclasses adjust the bars through three hooks: `_bar_options` (tqdm arguments at creation),
    `_update` (after each event) and `_finished` (when a stage's bar closes).
    """

    def __init__(self, quiet: bool = False, *, notebook: bool = False) -> None:
        self.quiet, self.notebook = quiet, notebook
        self._bars: dict[str, Any] = {}  # stage -> tqdm bar

    def __call__(self, event: ProgressEvent) -> None:
        if self.quiet:
            return
        if self.notebook:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm

        bar = self._bars.get(event.stage)
        if bar is None:
            # The first event may already count finished units (a batch, a resumed segment):
            # `initial` keeps them out of the rate, so the bar never shows a bogus speed.
            options = dict(
                total=event.total,
                initial=event.done,
                desc=printable(event.label or event.stage),  # a track's name: no escapes
                unit=event.unit,
                unit_scale=event.unit == "B",
                unit_divisor=1024 if event.unit == "B" else 1000,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )
            bar = self._bars[event.stage] = tqdm(**(options | self._bar_options(event)))
        if event.total is not None and bar.total != event.total:
            bar.total = event.total
        bar.n = event.done
        self._update(bar, event)
        bar.refresh()
        if self._finished(event):
            self.close(event.stage)

    def _bar_options(self, event: ProgressEvent) -> dict:
        return {}

    def _update(self, bar, event: ProgressEvent) -> None:
        pass

    def _finished(self, event: ProgressEvent) -> bool:
        return event.total is not None and event.done >= event.total

    def close(self, stage: str | None = None) -> None:
        stages = [stage] if stage else list(self._bars)
        for name in stages:
            bar = self._bars.pop(name, None)
            if bar is not None:
                bar.close()
