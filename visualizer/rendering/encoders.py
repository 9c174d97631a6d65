"""Segment encoders at once: the consumer that `visualizer.rendering.frames.stream` feeds.

Frames arrive in order on the stream's writer thread. Each segment gets its own encoder (a
`SegmentWriter`, one ffmpeg process) fed by its own thread from a queue (`SegmentFeed`), so a
segment still encoding its last frames never holds up the next one, and a segment is closed on
its feeding thread, not the generator's: up to ``encoding.encoders`` segments encode at once,
each on its share of the cores (`encoder_layout`). Frames are handed
over as they come (numpy views of the batch, no copy); the queues hold at most a byte budget
of frames together (`FrameBudget`), past which the stream waits, and with it the generator:
memory stays bounded however fast the generator is next to the encoders.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from visualizer.errors import RenderError
from visualizer.rendering.video import Encoding, SegmentWriter

MIN_BUDGET, MAX_BUDGET = 256 << 20, 4 << 30  # bytes of queued frames, whatever the memory


def encoder_layout(cores: int | None = None) -> tuple[int, int]:
    """(segment encoders run at once, threads each) for a machine of ``cores`` (None: this one's).

    Segments are independent videos, so several encoders scale with the cores where one
    encoder's frame threads do not (its lookahead and bitstream writing are serial): up to
    `MAX_ENCODERS`, each with an equal share of the cores. The layout is a function of the core
    count only, so a resume on the same machine encodes exactly as the first run did.
    """
    cores = max(1, cores or usable_cores())
    count = min(MAX_ENCODERS, cores)
    return count, max(1, cores // count)


MAX_ENCODERS = 8


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the system says, else all)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


def default_budget() -> int:
    """Bytes of frames the encoders' queues may hold: an eighth of the machine's memory, within
    [256 MiB, 4 GiB] (4 GiB is 5,461 frames of 512 px, about 20 segments)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows)
        memory = 8 << 30
    return max(MIN_BUDGET, min(MAX_BUDGET, memory // 8))


class FrameBudget:
    """Bytes of frames queued for the encoders, at most ``limit``: `take` waits for room (a
    chunk larger than the whole budget passes when nothing else is queued, so none waits
    forever) and gives up with the error ``failed()`` returns, if any."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._changed = threading.Condition()

    def take(self, size: int, failed: Callable[[], BaseException | None]) -> None:
        with self._changed:
            while self.used and self.used + size > self.limit:
                error = failed()
                if error is not None:
                    raise error
                self._changed.wait(0.2)
            self.used += size

    def give(self, size: int) -> None:
        with self._changed:
            self.used -= size
            self._changed.notify_all()


class SegmentFeed:
    """One segment's encoder and the thread that writes its queued frames into it and closes
    it after the last (`seal`). ``error`` holds what failed; `cancel` stops it and removes the
    partial segment."""

    def __init__(self, writer: SegmentWriter, budget: FrameBudget) -> None:
        self.writer = writer
        self.budget = budget
        self.sealed = False  # its last frame is queued: it finishes on its own
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="visualizer-encoder", daemon=True)
        self._thread.start()

    def put(self, frames: Any, failed: Callable[[], BaseException | None]) -> None:
        """Queue uint8 frames (B, R, R, 3), held as they are until written."""
        self.budget.take(frames.nbytes, failed)
        self._queue.put(frames)

    def seal(self) -> None:
        self.sealed = True
        self._queue.put(None)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        failed = False
        while (frames := self._queue.get()) is not None:
            try:
                if not failed:
                    self.writer.write(frames)
            except BaseException as error:  # noqa: BLE001 (read by the sink)
                self.error, failed = error, True
            finally:
                self.budget.give(frames.nbytes)
        if failed:
            return
        try:
            self.writer.close()
        except BaseException as error:  # noqa: BLE001 (read by the sink)
            self.error = error

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def cancel(self) -> None:
        """Stop the encoder now (a write blocked on its pipe fails), let the thread give the
        queued frames back, and remove the partial segment."""
        self.writer.kill()
        self._queue.put(None)
        self._thread.join()
        with contextlib.suppress(Exception):
            self.writer.abort()


class SegmentSink:
    """Consumer for `stream`: routes frame batches to the encoders of their segments.

    Segment ``i`` holds frames [segments[i][0], segments[i][1]) and is written to ``paths[i]``
    with ``encoding``; ``run`` lists the consecutive segment indices this stream covers. A
    segment is renamed into place when its encoder has written its last frame; `abort` removes
    partial ones and lets complete ones finish (kept for --resume). With ``frames_dir`` every
    frame is also written as PNG, named by its full-rate index (frame ``k`` of a ``frame_step``
    draft is frame ``k * frame_step``). ``budget``: bytes of frames queued at most (None:
    `default_budget`).
    """

    def __init__(
        self,
        segments: Sequence[tuple[int, int]],
        paths: Sequence[Path],
        run: list[int],
        encoding: Encoding,
        *,
        frames_dir: Path | None = None,
        frame_step: int = 1,
        budget: int | None = None,
    ) -> None:
        self.segments = list(segments)
        self.paths = list(paths)
        self.run = list(run)
        self.encoding = encoding
        self.frame_step = frame_step
        self.budget = FrameBudget(budget or default_budget())
        self.feeds: dict[int, SegmentFeed] = {}  # by segment, in the order they opened
        self.current: int | None = None  # the segment taking frames now
        self.frames_dir = Path(frames_dir) if frames_dir else None
        if self.frames_dir:
            self.frames_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, first: int, frames: Any) -> None:
        if (error := self.failure()) is not None:
            raise error  # an encoder failed: stop the generator too
        offset = 0
        while offset < len(frames):
            index = first + offset
            if self.current is None:
                self._open(index, frames.shape[1])
            assert self.current is not None  # set by _open
            stop = self.segments[self.current][1]
            chunk = frames[offset : offset + min(len(frames) - offset, stop - index)]
            self._write_pngs(index, chunk)
            self.feeds[self.current].put(chunk, self.failure)
            offset += len(chunk)
            if index + len(chunk) == stop:
                self.feeds[self.current].seal()
                self.current = None

    def _open(self, index: int, resolution: int) -> None:
        segment = self.run.pop(0)
        start = self.segments[segment][0]
        if start != index:
            raise RenderError(f"internal: segment {segment} starts at {start}, got {index}")
        while len([f for f in self.feeds.values() if not f.done]) >= self.encoding.encoders:
            next(f for f in self.feeds.values() if not f.done).wait(0.2)
            if (error := self.failure()) is not None:
                raise error
        self.current = segment
        self.feeds[segment] = SegmentFeed(
            self.encoding.writer(self.paths[segment], resolution), self.budget
        )

    def failure(self) -> BaseException | None:
        """The first encoder error, if one failed."""
        return next((f.error for f in self.feeds.values() if f.error is not None), None)

    def _write_pngs(self, first: int, frames: Any) -> None:
        if self.frames_dir is None:
            return
        from PIL import Image

        for offset, frame in enumerate(frames):
            index = (first + offset) * self.frame_step
            path = self.frames_dir / f"frame_{index:06d}.png"
            Image.fromarray(frame).save(path)

    def check_complete(self) -> None:
        """Wait for every encoder; RenderError if a segment is missing frames, or the error of
        the first encoder that failed."""
        if self.current is not None or self.run:
            raise RenderError("the generator stopped before the last frame of a segment")
        for feed in self.feeds.values():
            feed.wait()
        if (error := self.failure()) is not None:
            raise error

    def abort(self) -> None:
        """Let segments whose frames are all queued finish; stop and remove the others."""
        for feed in self.feeds.values():
            if feed.sealed and feed.error is None:
                feed.wait()
            else:
                feed.cancel()
        self.feeds.clear()
        self.current = None
