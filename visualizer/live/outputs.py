"""Video feeds into VJ software: the frames the page shows, at the render size and rate.

``--output ndi`` sends an NDI source (cyndilib, which ships the NDI runtime: Linux x86_64 and
aarch64, macOS, Windows) that Resolume, TouchDesigner, OBS or vMix pick up on the network;
``--output camera`` is a virtual camera (pyvirtualcam: OBS Virtual Camera on Windows and macOS,
a v4l2loopback device on Linux) for software that only takes cameras.

Each output is a subscriber of the render loop with one latest-frame slot and its own thread:
a slow receiver costs that output frames (counted in ``dropped``), never render time. When the
show is frozen nothing new is sent and receivers hold the last picture.
"""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from typing import TYPE_CHECKING

from visualizer.errors import DeviceError

if TYPE_CHECKING:  # numpy waits until an output opens: `visualizer --help` stays instant
    import numpy as np

log = logging.getLogger("visualizer")

OUTPUTS = ("ndi", "camera")
DEFAULT_NDI_NAME = "visualizer"


class FrameOutput:
    """Base of the outputs: ``add`` (the render loop's subscriber) fills the slot, the thread
    sends. Subclasses implement ``send(frame)`` for uint8 (H, W, 3) RGB and ``release()``."""

    name = "output"

    def __init__(self) -> None:
        self.sent = 0  # frames handed to the library
        self.dropped = 0  # frames replaced in the slot before the thread sent them
        self.failures = 0  # frames the library refused
        self._slot: np.ndarray | None = None
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"live-{self.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, index: int, t: float, jpeg: bytes, frame: np.ndarray) -> None:
        """Render-loop subscriber: keep only the newest frame, never wait."""
        with self._ready:
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._slot is None and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                frame, self._slot = self._slot, None
            try:
                self.send(frame)
                self.sent += 1
            except Exception:  # the show goes on without this output's frame
                self.failures += 1
                if self.failures <= 3:
                    log.exception("%s output could not send a frame", self.name)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.release()

    def send(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class NdiOutput(FrameOutput):
    """An NDI source named ``ndi_name`` sending (resolution x resolution) RGBX frames; the
    frame rate it announces is ``fps``."""

    name = "ndi"

    def __init__(self, *, resolution: int, fps: Fraction, ndi_name: str = DEFAULT_NDI_NAME):
        try:
            from cyndilib.sender import Sender
            from cyndilib.video_frame import VideoSendFrame
            from cyndilib.wrapper.ndi_structs import FourCC
        except ImportError as error:
            raise DeviceError(
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
            raise DeviceError(f"cannot open NDI source {ndi_name!r}: {error}") from None

    def send(self, frame: np.ndarray) -> None:
        self._rgbx[..., :3] = frame
        if not self._sender.write_video(self._rgbx.ravel()):
            raise DeviceError("NDI refused the frame")

    def release(self) -> None:
        self._sender.close()

    def describe(self) -> str:
        return f"NDI source {self.ndi_name!r}"


class CameraOutput(FrameOutput):
    """A virtual camera (pyvirtualcam) of (resolution x resolution) RGB at ``fps``."""

    name = "camera"

    def __init__(self, *, resolution: int, fps: Fraction, device: str | None = None) -> None:
        try:
            import pyvirtualcam
        except ImportError as error:
            raise DeviceError(
                f"--output camera needs pyvirtualcam (pip install 'visualizer[live]'): {error}"
            ) from None
        super().__init__()
        try:
            self._camera = pyvirtualcam.Camera(
                width=resolution, height=resolution, fps=float(fps),
                fmt=pyvirtualcam.PixelFormat.RGB, device=device,
            )  # fmt: skip
        except Exception as error:  # pyvirtualcam raises RuntimeError with the backend's reason
            raise DeviceError(
                f"cannot open a virtual camera: {error} (Linux: modprobe v4l2loopback; "
                "Windows and macOS: install OBS and start its virtual camera once)"
            ) from None

    def send(self, frame: np.ndarray) -> None:
        import numpy as np

        self._camera.send(np.ascontiguousarray(frame))

    def release(self) -> None:
        self._camera.close()

    def describe(self) -> str:
        return f"virtual camera {self._camera.device}"


def open_output(kind: str, *, resolution: int, fps: Fraction, ndi_name: str = DEFAULT_NDI_NAME):
    """The output called ``kind`` (one of OUTPUTS), opened; a DeviceError says why it cannot."""
    if kind == "ndi":
        return NdiOutput(resolution=resolution, fps=fps, ndi_name=ndi_name)
    if kind == "camera":
        return CameraOutput(resolution=resolution, fps=fps)
    raise DeviceError(f"unknown output {kind!r} (valid: {', '.join(OUTPUTS)})")
