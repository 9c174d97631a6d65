"""Frames from a Timeline: batching, device handling, out-of-memory retry, streaming, cancel.

The generator runs on the calling thread and produces uint8 frame batches; a writer thread pulls
them from a bounded queue and hands them to a consumer (the segment encoders), so generation
overlaps encoding and at most ``queue_size`` batches are ever held: memory does not grow with the
length of the track. Rendering reads only the Timeline, so batch size and device never change the
picture (beyond floating-point rounding between devices).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visualizer.errors import RenderError
from visualizer.files import atomic_output
from visualizer.mapping.timeline import Timeline
from visualizer.model.device_memory import is_out_of_memory, release_cached_memory
from visualizer.model.inference import Generator
from visualizer.progress import ProgressCallback, report
from visualizer.rendering.video import Encoding

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


def generate(
    generator: Generator,
    timeline: Timeline,
    start: int,
    stop: int,
    *,
    batch_size: int | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield (first frame index, uint8 tensor (B, R, R, 3) on the generator's device) for frames
    [start, stop), ``batch_size`` frames a call (None = the generator's).

    Batches lie on a grid from frame 0: batch k is always Timeline frames [k * B, (k + 1) * B),
    whatever range is asked for (the frames of it outside [start, stop) are computed and
    dropped). So a resumed or split render computes every frame in the same batch, at the same
    position, as an uninterrupted one. On CUDA and with a compiled generator every call gets
    a full batch (the track's last one is padded with copies of its last frame, dropped): a
    new shape would trigger cuDNN autotuning, a recompilation or a new CUDA graph.
    ``generator.frames(z, y, truncation)`` takes float32 z (B, 128), class vectors (B, 1000)
    and per-frame truncation (B,).

    An out-of-memory error (torch's, or cuBLAS/cuDNN failing to allocate) halves the batch size
    and retries the same frames; at batch size 1 it becomes a RenderError.
    """
    check_fits(generator, timeline)
    batch_size = batch_size or generator.batch_size
    device = generator.device
    fixed = generator.compiled or device.type == "cuda"
    index = start - start % batch_size
    while index < stop:
        end = min((index // batch_size + 1) * batch_size, timeline.n_frames)
        size = batch_size if fixed else end - index
        frames = _frames_or_none(generator, timeline, index, end, size, device)
        if frames is None:  # out of memory; the failed batch is released by now
            if size == 1:
                raise RenderError(
                    "out of GPU memory even at batch size 1: try a smaller --model or --device cpu"
                )
            batch_size = max(1, size // 2)
            log.warning("out of GPU memory: retrying with batch size %d", batch_size)
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


class _HostBuffers:
    """Pinned host buffers for asynchronous device-to-host copies of CUDA frames.

    A buffer is reused only after the writer has consumed it (``release``), so the pool bounds
    host memory to ``count`` batches, like the queue does.
    """

    def __init__(self, count: int) -> None:
        self._free: queue.Queue = queue.Queue()
        self._count = count
        self._made = 0

    def take(self, frames: Any, stop: threading.Event) -> Any:
        import torch

        if self._made < self._count:
            self._made += 1
            buffer = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
        else:
            buffer = None
            while buffer is None:  # wait for the writer, unless it has failed
                if stop.is_set():
                    raise RenderError("the video writer stopped")
                try:
                    buffer = self._free.get(timeout=0.2)
                except queue.Empty:
                    continue
            if buffer.shape[0] < frames.shape[0] or buffer.shape[1:] != frames.shape[1:]:
                buffer = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
        assert buffer is not None  # the loop above ends with one
        view = buffer[: frames.shape[0]]
        view.copy_(frames, non_blocking=True)
        return buffer, view

    def release(self, buffer: Any) -> None:
        self._free.put(buffer)


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

    ``consume(first, frames)`` gets numpy uint8 (B, R, R, 3) in frame order. Progress events
    ("render", frames done of ``total``, unit "frame") are sent from this thread after each batch
    is handed over; a callback may raise Cancelled. An error here (Cancelled, Ctrl-C) stops
    generation once the writer has consumed what was queued; an error in ``consume`` stops both
    threads at once. Either is raised here.
    """
    work: queue.Queue[_Batch | None] = queue.Queue(maxsize=queue_size)
    failure: list[BaseException] = []
    stop = threading.Event()
    buffers = _HostBuffers(queue_size + 2)
    owners: dict[int, Any] = {}

    def writer() -> None:
        while True:
            item = work.get()
            if item is None or stop.is_set():
                return
            try:
                if item.ready is not None:
                    item.ready.synchronize()
                    consume(item.first, item.frames.numpy())
                    buffers.release(owners.pop(item.first))
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
            item = _to_host(first, frames, buffers, owners, stop)
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


def _to_host(
    first: int, frames: Any, buffers: _HostBuffers, owners: dict[int, Any], stop: threading.Event
) -> _Batch:
    if isinstance(frames, np.ndarray):
        return _Batch(first, frames)
    if frames.device.type == "cuda":
        import torch

        # The copy and its event on the frames' own device: with --device cuda:1 the current
        # device is still cuda:0, whose stream knows nothing of the copy, and an event recorded
        # there would let the writer read the pinned buffer before the frames arrive.
        with torch.cuda.device(frames.device):
            buffer, view = buffers.take(frames, stop)
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(frames.device))
        owners[first] = buffer
        return _Batch(first, view, event)
    return _Batch(first, frames.numpy())


class SegmentSink:
    """Consumer for `stream`: routes frame batches to one segment encoder at a time.

    Segment ``i`` holds frames [segments[i][0], segments[i][1]) and is written to ``paths[i]``
    with ``encoding``; ``run`` lists the consecutive segment indices this stream covers. A
    segment is renamed into place when its last frame is written; `abort` removes a partial one.
    With ``frames_dir`` every frame is also written as PNG, named by its full-rate index (frame
    ``k`` of a ``frame_step`` draft is frame ``k * frame_step``). The next segment's encoder is
    started when the current one opens (``ahead``), so its start-up (tens of milliseconds, more
    for NVENC) overlaps encoding instead of stalling the writer.
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
    ) -> None:
        self.segments = list(segments)
        self.paths = list(paths)
        self.run = list(run)
        self.encoding = encoding
        self.frame_step = frame_step
        self.writer: Any = None
        self.ahead: Any = None  # the encoder of segment run[0], started before it is needed
        self.current = -1
        self.frames_dir = Path(frames_dir) if frames_dir else None
        if self.frames_dir:
            self.frames_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, first: int, frames: Any) -> None:
        offset = 0
        while offset < len(frames):
            index = first + offset
            if self.writer is None:
                self._open(index, frames.shape[1])
            stop = self.segments[self.current][1]
            chunk = frames[offset : offset + min(len(frames) - offset, stop - index)]
            self.writer.write(chunk)
            self._write_pngs(index, chunk)
            offset += len(chunk)
            if index + len(chunk) == stop:
                self.writer.close()
                self.writer = None

    def _open(self, index: int, resolution: int) -> None:
        self.current = self.run.pop(0)
        start = self.segments[self.current][0]
        if start != index:
            raise RenderError(f"internal: segment {self.current} starts at {start}, got {index}")
        self.writer = self.ahead or self._start(self.current, resolution)
        self.ahead = self._start(self.run[0], resolution) if self.run else None

    def _start(self, segment: int, resolution: int) -> Any:
        return self.encoding.writer(self.paths[segment], resolution)

    def _write_pngs(self, first: int, frames: Any) -> None:
        if self.frames_dir is None:
            return
        from PIL import Image

        for offset, frame in enumerate(frames):
            index = (first + offset) * self.frame_step
            # Written to a new temporary and renamed: a link planted at the frame's name is
            # replaced, never written through, and a full disk leaves no half frame.
            with atomic_output(self.frames_dir / f"frame_{index:06d}.png") as tmp:
                Image.fromarray(frame).save(tmp, format="PNG")

    def check_complete(self) -> None:
        if self.writer is not None or self.run:
            raise RenderError("the generator stopped before the last frame of a segment")

    def abort(self) -> None:
        for writer in (self.writer, self.ahead):
            if writer is not None:
                writer.abort()
        self.writer = self.ahead = None
