"""MIDI out: LEDs of the tap pad and the scene pads follow the beat and the scenes, and MIDI clock
out runs at 24 pulses per beat. No ALSA sequencer here, so the port is a mido output port class
that keeps what it is sent (mido's own `BaseOutput`, the class its real ports share)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.live_fixtures import wait_until
from visualizer.errors import LiveIOError
from visualizer.live.beat import BeatClock, BeatState
from visualizer.live.sink import Frame, SinkSetup
from visualizer.live.sink_midi import MidiSink

mido = pytest.importorskip("mido", reason="MIDI needs the live extra (mido)")


class KeptPort(mido.ports.BaseOutput):
    def _open(self, **kwargs) -> None:
        self.sent: list = []

    def _send(self, message) -> None:
        self.sent.append((time.monotonic(), message))


def frame(beat: float, scene="dreamy", pending="") -> Frame:
    state = BeatState(120.0, beat, 4, True)
    pixels = np.zeros((2, 2, 3), np.uint8)
    return Frame(0, 0.0, pixels, b"", {}, state, scene, pending)


LEDS = {"tap": (10, 36), "scene:dreamy": (10, 40), "scene:minimal": (10, 41)}


def test_leds_follow_the_beat_and_the_scenes():
    port = KeptPort()
    sink = MidiSink(port, LEDS)
    for beat, scene, pending in [
        (0.0, "dreamy", ""),  # downbeat: tap full on, dreamy lit
        (0.1, "dreamy", ""),  # still lit: nothing new
        (0.5, "dreamy", "minimal"),  # tap dark; minimal armed: half lit
        (1.0, "minimal", ""),  # a beat (not a downbeat): half; minimal landed
    ]:
        sink.send(frame(beat, scene, pending))
    sent = [(m.type, m.note, m.velocity) for _, m in port.sent]
    assert sent == [
        ("note_on", 36, 127), ("note_on", 40, 127), ("note_off", 41, 0),
        ("note_off", 36, 0), ("note_on", 41, 64),
        ("note_on", 36, 64), ("note_off", 40, 0), ("note_on", 41, 127),
    ]  # fmt: skip
    assert all(m.channel == 9 for _, m in port.sent)
    sink.release()
    assert [(m.note, m.velocity) for _, m in port.sent[-2:]] == [(36, 0), (41, 0)]


def test_midi_clock_out_runs_at_24_pulses_per_beat():
    clock = BeatClock()
    now = time.monotonic()
    for k in range(4):
        clock.tap(now - 2.0 + 0.5 * k)  # 120 BPM: 48 pulses a second
    port = KeptPort()
    sink = MidiSink(port, {}, clock)
    sink.start()
    try:
        wait_until(lambda: sink.pulses >= 48, 5, "a second of pulses")
        first = next(t for t, m in port.sent if m.type == "clock")
        time.sleep(1.0)
    finally:
        sink.close()
    assert port.sent[0][1].type == "start" and port.sent[-1][1].type == "stop"
    times = [t for t, m in port.sent if m.type == "clock" and t >= first]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert abs(rate - 48.0) < 3.0, rate


def test_midi_out_needs_a_port():
    setup = SinkSetup(resolution=128, fps=24)
    with pytest.raises(LiveIOError, match="needs --midi-out PORT"):
        MidiSink.open(setup)
