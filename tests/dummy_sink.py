"""A test's own live sink, to prove the seam: this one file plus one registry line
(``SINKS.register(DummySink)``) make ``--output dummy`` and ``LiveSession(outputs=("dummy",))``."""

from __future__ import annotations

from visualizer.live.sink import Frame, Sink, SinkSetup


class DummySink(Sink):
    """Keeps every frame it is sent (a buffer deep enough that none is dropped in a test)."""

    name = "dummy"
    summary = "a test sink that keeps every frame"
    depth = 100_000

    def __init__(self, setup: SinkSetup) -> None:
        super().__init__()
        self.setup = setup
        self.frames: list[Frame] = []
        self.released = False

    @classmethod
    def open(cls, setup: SinkSetup) -> DummySink:
        return cls(setup)

    def send(self, frame: Frame) -> None:
        self.frames.append(frame)

    def release(self) -> None:
        self.released = True
