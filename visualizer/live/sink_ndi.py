"""Sink ``ndi`` (``--output ndi``): an NDI source that Resolume, TouchDesigner, OBS or vMix pick
up on the network, carrying the frames the page shows at the render size and rate.

cyndilib ships the NDI runtime (Linux x86_64 and aarch64, macOS, Windows); it is imported only
when the sink opens.
"""

from __future__ import annotations

from fractions import Fraction

from visualizer.errors import LiveIOError
from visualizer.live.sink import Frame, Sink, SinkSetup


class NdiSink(Sink):
    """An NDI source named ``ndi_name`` sending (resolution x resolution) RGBX frames; the
    frame rate it announces is ``fps``."""

    name = "ndi"
    summary = "an NDI source, see --ndi-name"

    def __init__(self, *, resolution: int, fps: Fraction, ndi_name: str) -> None:
        try:
            from cyndilib.sender import Sender
            from cyndilib.video_frame import VideoSendFrame
            from cyndilib.wrapper.ndi_structs import FourCC
        except ImportError as error:
            raise LiveIOError(
                f"--output ndi needs cyndilib (pip install 'visualizer[live]'): {error}"
            ) from None
        import numpy as np

        super().__init__()
        self.ndi_name = ndi_name
        self._rgbx = np.full((resolution, resolution, 4), 255, dtype=np.uint8)
        frame = VideoSendFrame()
        frame.set_resolution(resolution, resolution)
        frame.set_frame_rate(Fraction(fps))
        frame.set_fourcc(FourCC.RGBX)
        # the render loop sets the pace: NDI must not hold a frame back to its own clock
        self._sender = Sender(ndi_name, clock_video=False)
        self._sender.set_video_frame(frame)
        try:
            self._sender.open()
        except Exception as error:
            raise LiveIOError(f"cannot open NDI source {ndi_name!r}: {error}") from None

    @classmethod
    def open(cls, setup: SinkSetup) -> NdiSink:
        return cls(resolution=setup.resolution, fps=setup.fps, ndi_name=setup.ndi_name)

    def send(self, frame: Frame) -> None:
        self._rgbx[..., :3] = frame.pixels
        if not self._sender.write_video(self._rgbx.ravel()):
            raise LiveIOError("NDI refused the frame")

    def release(self) -> None:
        self._sender.close()

    def describe(self) -> str:
        return f"NDI source {self.ndi_name!r}"
