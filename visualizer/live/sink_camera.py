"""Sink ``camera`` (``--output camera``): a virtual camera for software that only takes cameras.

pyvirtualcam drives the OBS Virtual Camera on Windows and macOS and a v4l2loopback device on
Linux; it is imported only when the sink opens.
"""

from __future__ import annotations

from fractions import Fraction

from visualizer.errors import LiveIOError
from visualizer.live.sink import Frame, Sink, SinkSetup


class CameraSink(Sink):
    """A virtual camera (pyvirtualcam) of (resolution x resolution) RGB at ``fps``."""

    name = "camera"
    summary = "a virtual camera"

    def __init__(self, *, resolution: int, fps: Fraction, device: str | None = None) -> None:
        try:
            import pyvirtualcam
        except ImportError as error:
            raise LiveIOError(
                f"--output camera needs pyvirtualcam (pip install 'visualizer[live]'): {error}"
            ) from None
        super().__init__()
        try:
            self._camera = pyvirtualcam.Camera(
                width=resolution, height=resolution, fps=float(fps),
                fmt=pyvirtualcam.PixelFormat.RGB, device=device,
            )  # fmt: skip
        except Exception as error:  # pyvirtualcam raises RuntimeError with the backend's reason
            raise LiveIOError(
                f"cannot open a virtual camera: {error} (Linux: modprobe v4l2loopback; "
                "Windows and macOS: install OBS and start its virtual camera once)"
            ) from None

    @classmethod
    def open(cls, setup: SinkSetup) -> CameraSink:
        return cls(resolution=setup.resolution, fps=setup.fps)

    def send(self, frame: Frame) -> None:
        import numpy as np

        self._camera.send(np.ascontiguousarray(frame.pixels))

    def release(self) -> None:
        self._camera.close()

    def describe(self) -> str:
        return f"virtual camera {self._camera.device}"
