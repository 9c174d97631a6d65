"""Sink ``osc`` (``--osc-out HOST:PORT``): the beat, the bar, the tempo and the scene as OSC, so
lighting and other software follow the show.

Messages (UDP to the host and port the user names; `visualizer.live.osc_api.OUT_ADDRESSES`):
``/visualizer/beat <beat in bar> <bar>`` on each beat, ``/visualizer/bar <bar>`` on each
downbeat, ``/visualizer/bpm <bpm>`` when the tempo moves by 0.1 or more, ``/visualizer/scene
<name>`` when the scene changes and ``/visualizer/pending <name>`` when a launch is armed ("" once
it lands). They go out as each frame is published, with that frame's beat, so they keep time with
the picture (early by the output latency, like the picture). A beat whose frames were all dropped
is sent with the next frame; beats are never queued up.
"""

from __future__ import annotations

from typing import Any

from visualizer.errors import LiveIOError
from visualizer.live.sink import Frame, Sink, SinkSetup


class OscSink(Sink):
    name = "osc"
    summary = "beat, bar, tempo and scene as OSC"
    output_choice = False  # --osc-out HOST:PORT opens it
    depth = 64  # a short buffer: a message is cheap and a beat should not be pushed out

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        from pythonosc.udp_client import SimpleUDPClient

        self.target = (host, port)
        self.client = SimpleUDPClient(host, port)
        self._count: int | None = None  # the last beat sent
        self._bpm: float | None = None
        self._scene: str | None = None
        self._pending: str | None = None

    @classmethod
    def open(cls, setup: SinkSetup) -> OscSink:
        if setup.osc_out is None:
            raise LiveIOError("the osc output needs --osc-out HOST:PORT")
        host, port = setup.osc_out
        try:
            return cls(host, port)
        except OSError as error:
            raise LiveIOError(f"cannot send OSC to {host}:{port}: {error}") from None

    def send(self, frame: Frame) -> None:
        beat = frame.beat
        if beat is not None and beat.playing and beat.bpm > 0:
            if self._count is not None and beat.count > self._count:
                self._message("/visualizer/beat", [beat.beat_in_bar, beat.bar])
                if beat.beat_in_bar == 1:
                    self._message("/visualizer/bar", [beat.bar])
            self._count = beat.count
            if self._bpm is None or abs(beat.bpm - self._bpm) >= 0.1:
                self._bpm = beat.bpm
                self._message("/visualizer/bpm", [round(float(beat.bpm), 2)])
        if frame.scene != self._scene:
            self._scene = frame.scene
            self._message("/visualizer/scene", [frame.scene])
        if frame.pending != self._pending:
            self._pending = frame.pending
            self._message("/visualizer/pending", [frame.pending])

    def _message(self, address: str, values: list[Any]) -> None:
        self.client.send_message(address, values)

    def describe(self) -> str:
        return f"OSC to {self.target[0]}:{self.target[1]}"
