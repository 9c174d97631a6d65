"""Recording a live session (``--record OUT.mp4``): the frames shown plus the audio heard.

Frames arrive from the render loop with their frame index; a frame the loop dropped is filled
with the previous one, so the video keeps the frame clock and stays in sync with the audio.
Encoding runs in its own thread behind a bounded queue: a slow encoder costs recorded frames
(filled the same way, and counted), never render-loop time. At the end the frames are muxed
with the track (``--audio``: the played span of the original file) or the captured input, into
a temporary name renamed when complete.
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.errors import OutputError

log = logging.getLogger("visualizer")

QUEUE_FRAMES = 64


class Recorder:
    """Writes frames (uint8 (R, R, 3)) at their frame index; ``close()`` muxes the audio."""

    def __init__(
        self,
        output: str | Path,
        *,
        fps: Fraction,
        resolution: int,
        size: tuple[int, int] | None = None,
        overwrite: bool = False,
    ) -> None:
        self.output = Path(output)
        if self.output.exists() and not overwrite:
            raise OutputError(f"{self.output} exists (use --overwrite to replace it)")
        if not self.output.parent.is_dir():
            raise OutputError(f"folder of {self.output} does not exist")
        self.fps, self.resolution = Fraction(fps), resolution
        self._dir = tempfile.TemporaryDirectory(prefix=".live-record-", dir=self.output.parent)
        from visualizer.rendering.video import SegmentWriter

        self._segment = Path(self._dir.name) / "video.mp4"
        self._writer = SegmentWriter(self._segment, resolution=resolution, fps=self.fps, size=size)
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self.first_index: int | None = None
        self.last_index: int | None = None
        self.lost = 0  # frames the encoder could not keep up with (filled with the previous one)
        self._thread = threading.Thread(target=self._drain, name="live-record", daemon=True)
        self._thread.start()

    def add(self, index: int, t: float, jpeg: bytes, frame: np.ndarray) -> None:
        """Subscriber of the render loop: queue the frame, never wait."""
        try:
            self._queue.put_nowait((index, frame))
        except queue.Full:
            self.lost += 1

    def _drain(self) -> None:
        previous: np.ndarray | None = None
        while True:
            item = self._queue.get()
            if item is None:
                return
            index, frame = item
            if self.last_index is not None and index <= self.last_index:
                continue  # the track was sought back: keep the recording continuous
            if self.last_index is None:
                self.first_index = index
            elif previous is not None:
                for _ in range(index - self.last_index - 1):  # dropped frames: hold the picture
                    self._writer.write(previous[None])
            self._writer.write(frame[None])
            previous, self.last_index = frame, index

    def close(self, *, audio: Path | None = None, samples: np.ndarray | None = None, sr: int = 0):
        """Finish: mux ``audio`` (a file, trimmed to the recorded span) or captured ``samples``
        (mono float32 at ``sr``, starting at frame 0). Returns the output path, or None when no
        frame was recorded."""
        from visualizer.rendering.video import concat_and_mux

        self._queue.put(None)
        self._thread.join()
        try:
            if self.first_index is None:
                self._writer.abort()
                return None
            self._writer.close()
            start = float(self.first_index / self.fps)
            duration = float((self.last_index - self.first_index + 1) / self.fps)
            if samples is not None and sr:
                import soundfile

                audio = Path(self._dir.name) / "input.wav"
                soundfile.write(audio, np.asarray(samples, dtype=np.float32), sr)
            concat_and_mux(
                [self._segment], self.output, audio=audio, audio_start=start,
                audio_duration=duration,
            )  # fmt: skip
            if self.lost:
                log.warning("recording: %d frames held because the encoder fell behind", self.lost)
            return self.output
        finally:
            self._dir.cleanup()
