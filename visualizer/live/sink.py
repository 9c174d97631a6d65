"""Where live frames go: the output-sink interface. Members are `sink_*.py` files (the page's
feed, NDI, a virtual camera, a recording), listed in the `visualizer.live.sinks` registry.

The render loop hands each finished `Frame` to every sink's ``receive``, which never waits: the
frame goes into the sink's slot and the sink's own thread sends it. A sink holds at most
``depth`` frames; a new frame arriving at a full slot pushes out the oldest unsent one (counted
in ``dropped``), so a slow receiver costs that sink frames, never render time. A feed holds one
frame (a late frame is worth nothing), a recording a buffer (it wants every frame). When the show
is frozen nothing new arrives and receivers hold the last picture.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # numpy waits until a frame exists: `visualizer --help` stays instant
    import numpy as np

    from visualizer.live.beat import BeatClock, BeatState
    from visualizer.live.source import Soundtrack

log = logging.getLogger("visualizer")


@dataclass(frozen=True)
class Frame:
    """One rendered frame, as every sink receives it."""

    index: int  # on the frame clock: the frame's time is index / fps
    t: float  # seconds on the source's timeline
    pixels: np.ndarray  # uint8 (R, R, 3) RGB, R = the generator's resolution
    jpeg: bytes  # the same picture as the JPEG the page shows
    info: Mapping[str, float]  # the engine's `Stats` fields, the control "version" at publish,
    # and the beat's "bpm", "bar", "beat_in_bar", "beat", "playing"
    beat: BeatState | None = None  # the frame's beat (as heard when it is seen)
    scene: str = ""  # the scene playing
    pending: str = ""  # the scene waiting for its beat to land ("" when none)


def no_soundtrack() -> Soundtrack | None:
    return None


@dataclass(frozen=True)
class SinkSetup:
    """What the sinks open with: the frame format, and the options of the sinks that take any."""

    resolution: int  # frames are (resolution, resolution, 3)
    fps: Fraction  # the frame clock
    ndi_name: str = "visualizer"  # ndi: the source name receivers see
    record: Path | None = None  # record: the video to write
    record_size: tuple[int, int] | None = None  # record: (width, height); None = resolution
    overwrite: bool = False  # record: replace an existing file
    soundtrack: Callable[[], Soundtrack | None] = no_soundtrack  # record: the audio, at the end
    osc_out: tuple[str, int] | None = None  # osc: where beat, bar, bpm and scene go
    midi_out: str | None = None  # midi: the output port (as --midi chooses one)
    midi_clock: bool = False  # midi: also send MIDI clock (24 pulses per beat)
    clock: BeatClock | None = None  # midi: the beat state the MIDI clock follows
    leds: Mapping[str, tuple[int, int]] | None = None  # midi: (channel 1-16, note) by target


class Sink:
    """Base of the sinks. A member sets ``name`` and ``summary``, implements ``open`` and
    ``send(frame)`` (on the sink's thread; an exception counts in ``failures``, the show goes
    on), and ``release()`` when it holds something to let go."""

    name: ClassVar[str] = "sink"  # the registry key
    summary: ClassVar[str] = ""  # a few words for --help
    # offered by --output NAME (False: the page is always on, a recording is chosen by --record)
    output_choice: ClassVar[bool] = True
    # frames held for the sending thread; 0 = no thread: ``send`` runs on the render thread and
    # must only hand the frame on (the page's: the server's event loop does the sending)
    depth: ClassVar[int] = 1
    # how long ``close`` waits for the thread to send what it holds; None = until it is done (a
    # recording must keep every frame it took)
    close_wait_s: ClassVar[float | None] = 5.0

    def __init__(self) -> None:
        self.sent = 0  # frames sent
        self.dropped = 0  # frames pushed out of the slot before the thread sent them
        self.failures = 0  # frames ``send`` failed on
        self._held: collections.deque[Frame] = collections.deque()
        self._ready = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    @classmethod
    def open(cls, setup: SinkSetup) -> Sink:
        """The sink, opened; a `visualizer.errors.VisualizerError` says why it cannot be."""
        raise NotImplementedError

    def start(self) -> None:
        if self.depth > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"live-{self.name}", daemon=True)
            self._thread.start()

    def receive(self, frame: Frame) -> None:
        """The render loop's hand-off: hold ``frame`` for the thread, never wait."""
        if self.depth == 0:
            self._deliver(frame)
            return
        with self._ready:
            if len(self._held) >= self.depth:
                self._held.popleft()
                self.dropped += 1
            self._held.append(frame)
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._held and not self._closed:
                    self._ready.wait()
                if not self._held:
                    return  # closed, and everything held was sent
                frame = self._held.popleft()
            self._deliver(frame)

    def _deliver(self, frame: Frame) -> None:
        try:
            self.send(frame)
            self.sent += 1
        except Exception:  # the show goes on without this sink's frame
            self.failures += 1
            if self.failures <= 3:
                log.exception("%s output could not send a frame", self.name)

    def close(self) -> Path | None:
        """Send what is held, stop the thread, release; returns the file written (a
        recording), else None."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout=self.close_wait_s)
            if self._thread.is_alive():
                log.warning("%s output did not finish sending in time", self.name)
        return self.release()

    def send(self, frame: Frame) -> None:
        raise NotImplementedError

    def release(self) -> Path | None:
        return None

    def describe(self) -> str:
        """What the sink sends to, for the console (``live: sending ...``)."""
        return self.name

    def counts(self) -> dict[str, int]:
        return {"sent": self.sent, "dropped": self.dropped, "failures": self.failures}
