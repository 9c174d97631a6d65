"""Sink ``midi`` (``--midi-out PORT``): the show's state back to the controller, and optionally
MIDI clock out (``--midi-clock-out``).

LEDs follow the MIDI map's pads (`visualizer.live.midi_map`): the pad bound to ``tap`` lights on
every beat (full on a downbeat, half on the others) and goes dark after a quarter of a beat; a
pad bound to ``scene:NAME`` is lit (velocity 127) while NAME plays, half lit (64) while it waits
to land, dark otherwise. Only changes are sent. LED messages go out with each published frame.

MIDI clock out runs on its own thread, 24 pulses per beat read from the beat state
(`visualizer.live.beat.BeatClock`), with Start when the beat starts playing and Stop when it
stops, so a drum machine or a second visualizer can follow this show's tempo source.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from visualizer.errors import LiveIOError
from visualizer.live.sink import Frame, Sink, SinkSetup

BEAT_LIT = 0.25  # of a beat: how long the tap pad stays lit
PPQN = 24


class MidiSink(Sink):
    name = "midi"
    summary = "LEDs and MIDI clock back to the controller"
    output_choice = False  # --midi-out PORT opens it
    depth = 64

    def __init__(self, port: Any, leds: Mapping[str, tuple[int, int]], clock: Any = None) -> None:
        super().__init__()
        self.port = port  # a mido output port (anything with ``send(message)``)
        self.leds = dict(leds)  # target -> (channel 1-16, note)
        self.clock = clock  # a BeatClock: MIDI clock out follows it (None: no clock out)
        self.shown: dict[str, int] = {}  # target -> velocity last sent
        self.pulses = 0  # MIDI clock pulses sent
        self._quit = threading.Event()
        self._clock_thread: threading.Thread | None = None

    @classmethod
    def open(cls, setup: SinkSetup) -> MidiSink:
        from visualizer.live.midi import open_port

        if setup.midi_out is None:
            raise LiveIOError("the midi output needs --midi-out PORT")
        port = open_port("output", setup.midi_out)
        return cls(port, setup.leds or {}, setup.clock if setup.midi_clock else None)

    def start(self) -> None:
        super().start()
        if self.clock is not None and self._clock_thread is None:
            self._clock_thread = threading.Thread(
                target=self._run_clock, name="live-midi-clock", daemon=True
            )
            self._clock_thread.start()

    # -- LEDs ------------------------------------------------------------------------------
    def send(self, frame: Frame) -> None:
        wanted: dict[str, int] = {}
        beat = frame.beat
        if "tap" in self.leds and beat is not None:
            lit = beat.playing and beat.bpm > 0 and beat.beat_phase < BEAT_LIT
            wanted["tap"] = (127 if beat.beat_in_bar == 1 else 64) if lit else 0
        for target in self.leds:
            if target.startswith("scene:"):
                name = target[len("scene:") :]
                wanted[target] = 127 if name == frame.scene else 64 if name == frame.pending else 0
        for target, velocity in wanted.items():
            if self.shown.get(target) != velocity:
                self._led(target, velocity)

    def _led(self, target: str, velocity: int) -> None:
        import mido

        channel, note = self.leds[target]
        kind = "note_on" if velocity else "note_off"
        self.port.send(mido.Message(kind, channel=channel - 1, note=note, velocity=velocity))
        self.shown[target] = velocity

    # -- MIDI clock out --------------------------------------------------------------------
    def _run_clock(self) -> None:
        import mido

        playing = False
        while not self._quit.is_set():
            state = self.clock.state()
            if not state.playing or state.bpm <= 0:
                if playing:
                    self.port.send(mido.Message("stop"))
                    playing = False
                self._quit.wait(0.01)
                continue
            if not playing:
                self.port.send(mido.Message("start"))
                playing = True
            pulse = state.beat * PPQN
            wait = (math.floor(pulse) + 1 - pulse) / PPQN * 60.0 / state.bpm
            if self._quit.wait(min(wait, 0.05)):
                break
            if wait <= 0.05:
                self.port.send(mido.Message("clock"))
                self.pulses += 1
        if playing:
            self.port.send(mido.Message("stop"))

    def release(self) -> None:
        self._quit.set()
        if self._clock_thread is not None:
            self._clock_thread.join(timeout=2)
        for target, velocity in list(self.shown.items()):
            if velocity:
                self._led(target, 0)
        close = getattr(self.port, "close", None)
        if close is not None:
            close()
        return None

    def describe(self) -> str:
        clock = " with MIDI clock" if self.clock is not None else ""
        return f"MIDI to {getattr(self.port, 'name', self.port)!r}{clock}"
