"""Sink ``record`` (``--record OUT.mp4``): the frames shown plus the audio heard, in one video.

Frames arrive with their frame index; a frame the render loop dropped is filled with the
previous one, so the video keeps the frame clock and stays in sync with the audio. The sink
holds up to QUEUE_FRAMES frames for its encoding thread: a slow encoder costs recorded frames
(filled the same way, and counted), never render-loop time. At the end the frames are muxed with
the source's soundtrack (``--audio``: the played span of the original file; ``--input``: the
captured samples), into a temporary name renamed when complete.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from visualizer.errors import OutputError
from visualizer.live.sink import Frame, Sink, SinkSetup, no_soundtrack

if TYPE_CHECKING:
    import numpy as np

    from visualizer.live.source import Soundtrack

log = logging.getLogger("visualizer")

QUEUE_FRAMES = 64


class RecordSink(Sink):
    """Writes frames (uint8 (R, R, 3)) at their frame index to ``output``; ``close()`` muxes
    ``soundtrack()`` and returns the path (None when no frame came)."""

    name = "record"
    summary = "a video file, see --record"
    output_choice = False  # chosen by --record FILE
    depth = QUEUE_FRAMES
    close_wait_s = None  # every frame taken is written

    def __init__(
        self,
        output: str | Path,
        *,
        fps: Fraction,
        resolution: int,
        size: tuple[int, int] | None = None,
        overwrite: bool = False,
        soundtrack: Callable[[], Soundtrack | None] = no_soundtrack,
    ) -> None:
        self.output = Path(output)
        if self.output.exists() and not overwrite:
            raise OutputError(f"{self.output} exists (use --overwrite to replace it)")
        if not self.output.parent.is_dir():
            raise OutputError(f"folder of {self.output} does not exist")
        super().__init__()
        self.fps, self.resolution = Fraction(fps), resolution
        self._soundtrack = soundtrack
        self._dir = tempfile.TemporaryDirectory(prefix=".live-record-", dir=self.output.parent)
        from visualizer.rendering.video import SegmentWriter

        self._segment = Path(self._dir.name) / "video.mp4"
        self._writer = SegmentWriter(self._segment, resolution=resolution, fps=self.fps, size=size)
        self.first_index: int | None = None
        self.last_index: int | None = None
        self._previous: np.ndarray | None = None

    @classmethod
    def open(cls, setup: SinkSetup) -> RecordSink:
        if setup.record is None:
            raise OutputError("a recording needs a file (--record OUT.mp4)")
        return cls(
            setup.record, fps=setup.fps, resolution=setup.resolution, size=setup.record_size,
            overwrite=setup.overwrite, soundtrack=setup.soundtrack,
        )  # fmt: skip

    def send(self, frame: Frame) -> None:
        index, pixels = frame.index, frame.pixels
        if self.last_index is not None and index <= self.last_index:
            return  # the track was sought back: keep the recording continuous
        if self.last_index is None:
            self.first_index = index
        elif self._previous is not None:
            for _ in range(index - self.last_index - 1):  # dropped frames: hold the picture
                self._writer.write(self._previous[None])
        self._writer.write(pixels[None])
        self._previous, self.last_index = pixels, index

    def release(self) -> Path | None:
        from visualizer.rendering.video import concat_and_mux

        try:
            if self.first_index is None or self.last_index is None:
                self._writer.abort()
                return None
            self._writer.close()
            start = float(self.first_index / self.fps)
            duration = float((self.last_index - self.first_index + 1) / self.fps)
            concat_and_mux(
                [self._segment], self.output, audio=self._audio_file(), audio_start=start,
                audio_duration=duration,
            )  # fmt: skip
            if self.dropped:
                log.warning(
                    "recording: %d frames held because the encoder fell behind", self.dropped
                )
            return self.output
        finally:
            self._dir.cleanup()

    def _audio_file(self) -> Path | None:
        """The soundtrack as a file: the track itself, or the captured samples written out."""
        soundtrack = self._soundtrack()
        if soundtrack is None or soundtrack.samples is None or not soundtrack.sr:
            return soundtrack.file if soundtrack is not None else None
        import numpy as np
        import soundfile

        path = Path(self._dir.name) / "input.wav"
        soundfile.write(path, np.asarray(soundtrack.samples, dtype=np.float32), soundtrack.sr)
        return path

    def describe(self) -> str:
        return f"recording to {self.output}"
