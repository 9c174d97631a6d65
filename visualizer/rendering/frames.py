"""Frames from a Timeline: batching, device handling, out-of-memory retry, streaming, cancel.

The generator runs on the calling thread and produces uint8 frame batches; a writer thread pulls
them from a bounded queue and hands them to a consumer (the segment encoders of
`visualizer.rendering.encoders`), so generation overlaps encoding and at most ``queue_size``
batches wait here (the consumer bounds what it holds itself): memory does not grow with the
length of the track. Rendering reads only the Timeline, so batch size and device never change the
picture (beyond floating-point rounding between devices).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from visualizer.errors import RenderError
from visualizer.mapping.timeline import Timeline
from visualizer.model.device_memory import is_out_of_memory, release_cached_memory
from visualizer.model.inference import Generator
from visualizer.progress import ProgressCallback, report

log = logging.getLogger("visualizer")

Consumer = Callable[[int, np.ndarray], None]  # (index of the first frame, uint8 (B, R, R, 3))


def check_fits(generator: Generator, timeline: Timeline) -> None:
    """RenderError unless ``timeline``'s rows have the input sizes ``generator`` takes."""
    rows = (timeline.noise.shape[1], timeline.class_vectors.shape[1])
    takes = (generator.latent_size, generator.n_classes)
    if rows != takes:
        raise RenderError(
            f"the model takes {takes[0]} latent values and {takes[1]} class weights per frame; "
            f"the Timeline holds {rows[0]} and {rows[1]}"
        )


@dataclass
class BatchGrid:
    """Batch sizes by frame: ``steps`` [(first frame, size), ...], sorted, the first at frame 0.
    From a step's first frame on, frames are batched by its size on a grid from that frame:
    batch k of the step holds frames [first + k * size, first + (k + 1) * size).

    A halving after the device ran out of memory adds a step at the failed batch's first frame
    and tells ``record`` (the job layer keeps it in the work folder), so that a resumed or
    split render batches every frame as the interrupted one did.
    """

    steps: list[tuple[int, int]]
    record: Callable[[int, int], None] | None = None

    def step(self, frame: int) -> tuple[int, int, int]:
        """(first frame, size) of the step that holds ``frame``, and the next step's first
        frame (a batch never crosses it; a very large number after the last step)."""
        at = max(i for i, (first, _) in enumerate(self.steps) if first <= frame)
        first, size = self.steps[at]
        following = self.steps[at + 1][0] if at + 1 < len(self.steps) else 2**62
        return first, size, following

    def batch_start(self, frame: int) -> int:
        """The first frame of the batch that holds ``frame``."""
        first, size, _ = self.step(frame)
        return first + (frame - first) // size * size

    def halve(self, frame: int, size: int) -> None:
        """From ``frame`` (a batch's first) on, batches of ``size``."""
        self.steps = [s for s in self.steps if s[0] < frame] + [(frame, size)]
        if self.record is not None:
            self.record(frame, size)


def generate(
    generator: Generator,
    timeline: Timeline,
    start: int,
    stop: int,
    *,
    batch_size: int | None = None,
    grid: BatchGrid | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield (first frame index, uint8 tensor (B, R, R, 3) on the generator's device) for frames
    [start, stop), batched by ``grid`` (None: ``batch_size`` frames a call, None = the
    generator's, from frame 0).

    Batches lie on the grid whatever range is asked for (the frames of a batch outside [start,
    stop) are computed and dropped). So a resumed or split render computes every frame in the
    same batch, at the same position, as an uninterrupted one. On CUDA and with a compiled
    generator every call gets a full batch (the track's last one is padded with copies of its
    last frame, dropped): a new shape would trigger cuDNN autotuning, a recompilation or a new
    CUDA graph. ``generator.frames(z, y, truncation)`` takes float32 z (B, 128), class vectors
    (B, 1000) and per-frame truncation (B,).

    An out-of-memory error (torch's, or cuBLAS/cuDNN failing to allocate) halves the batch size
    from that batch on (`BatchGrid.halve`) and retries the same frames; at batch size 1 it
    becomes a RenderError.
    """
    check_fits(generator, timeline)
    grid = grid or BatchGrid([(0, batch_size or generator.batch_size)])
    device = generator.device
    fixed = generator.compiled or device.type == "cuda"
    index = grid.batch_start(start)
    while index < stop:
        _, size, following = grid.step(index)
        end = min(index + size, following, timeline.n_frames)
        rows = size if fixed else end - index
        frames = _frames_or_none(generator, timeline, index, end, rows, device)
        if frames is None:  # out of memory; the failed batch is released by now
            if rows == 1:
                raise RenderError(
                    "out of GPU memory even at batch size 1: try a smaller --model or --device cpu"
                )
            grid.halve(index, max(1, rows // 2))
            log.warning("out of GPU memory: retrying with batch size %d", max(1, rows // 2))
            release_cached_memory()
            continue
        first, last = max(index, start), min(end, stop)
        yield first, frames[first - index : last - index]
        index = end


def _frames_or_none(
    generator: Generator, timeline: Timeline, index: int, end: int, size: int, device: Any
) -> Any:
    """Frames [index, end) padded to ``size`` rows, or None when the device ran out of memory.

    Returning (not raising) means the traceback, which holds the failed batch's tensors, is
    gone before the caller releases the allocator's cached blocks.
    """
    import torch

    rows = slice(index, end)
    try:
        with torch.inference_mode():
            return generator.frames(
                _tensor(_padded(timeline.noise[rows], size), device),
                _tensor(_padded(timeline.class_vectors[rows], size), device),
                _tensor(_padded(timeline.truncation[rows], size), device),
            )[: end - index]
    except Exception as error:
        if not is_out_of_memory(error):
            raise
    return None


def _padded(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` (N, ...) with its last row repeated up to ``size`` rows (N <= size)."""
    if len(array) >= size:
        return array
    return np.concatenate([array, np.repeat(array[-1:], size - len(array), axis=0)])


def _tensor(array: np.ndarray, device: Any) -> Any:
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if getattr(device, "type", "cpu") == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


@dataclass
class _Batch:
    first: int
    frames: Any  # numpy uint8 (B, R, R, 3), or a pinned host tensor on CUDA
    ready: Any = None  # a CUDA event recorded after the device-to-host copy


def stream(
    batches: Iterator[tuple[int, Any]],
    consume: Consumer,
    *,
    total: int,
    done: int = 0,
    queue_size: int = 3,
    progress: ProgressCallback | None = None,
    label: str = "render",
) -> int:
    """Pull batches on this thread and consume them on a writer thread; return frames consumed.

    ``consume(first, frames)`` gets numpy uint8 (B, R, R, 3) in frame order, and may keep them
    (they are never reused: CUDA frames arrive in a pinned buffer of their own, which torch's
    caching host allocator takes back once the last view of it is gone). Progress events
    ("render", frames done of ``total``, unit "frame") are sent from this thread after each batch
    is handed over; a callback may raise Cancelled. An error here (Cancelled, Ctrl-C) stops
    generation once the writer has consumed what was queued; an error in ``consume`` stops both
    threads at once. Either is raised here.
    """
    work: queue.Queue[_Batch | None] = queue.Queue(maxsize=queue_size)
    failure: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        while True:
            item = work.get()
            if item is None or stop.is_set():
                return
            try:
                if item.ready is not None:
                    item.ready.synchronize()
                    consume(item.first, item.frames.numpy())  # a view that holds the buffer
                else:
                    consume(item.first, item.frames)
            except BaseException as error:  # noqa: BLE001 (re-raised on the main thread)
                failure.append(error)
                stop.set()
                return

    thread = threading.Thread(target=writer, name="visualizer-writer", daemon=True)
    thread.start()
    consumed = 0
    try:
        for first, frames in batches:
            item = _to_host(first, frames)
            while not _put(work, item, stop):
                pass
            if stop.is_set():
                break
            consumed += len(item.frames)
            report(progress, "render", done + consumed, total, "frame", label)
    finally:
        # Also on cancel or Ctrl-C: the writer finishes the batches already queued (a few), so
        # every segment whose frames were all generated is completed and kept for --resume.
        _finish(work, thread)
        if failure:
            raise failure[0]
    return consumed


def _put(work: queue.Queue, item: _Batch, stop: threading.Event) -> bool:
    # Block while the queue is full, but notice a failed writer instead of waiting forever.
    if stop.is_set():
        return True
    try:
        work.put(item, timeout=0.2)
        return True
    except queue.Full:
        return False


def _finish(work: queue.Queue, thread: threading.Thread) -> None:
    while thread.is_alive():
        try:
            work.put(None, timeout=0.2)
            break
        except queue.Full:
            continue
    thread.join()


def _to_host(first: int, frames: Any) -> _Batch:
    """A batch on its way to the writer: numpy frames as they are; CUDA frames copied without
    blocking into a new pinned buffer, with an event the writer waits on."""
    if isinstance(frames, np.ndarray):
        return _Batch(first, frames)
    if frames.device.type == "cuda":
        import torch

        # The copy and its event on the frames' own device: with --device cuda:1 the current
        # device is still cuda:0, whose stream knows nothing of the copy, and an event recorded
        # there would let the writer read the pinned buffer before the frames arrive. The
        # caching host allocator reuses a freed pinned block only after the copies that
        # used it have finished.
        with torch.cuda.device(frames.device):
            buffer = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
            buffer.copy_(frames, non_blocking=True)
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(frames.device))
        return _Batch(first, buffer, event)
    return _Batch(first, frames.cpu().numpy())  # CPU: a view; MPS: the one copy to the host
