"""The beat state and its tempo sources: MIDI clock through the port's reading function with real
mido messages at 24 PPQN, Ableton Link against a fake session with Link's semantics (no network),
tap, the audio tracker's grid, and the controls (cue, nudge, x2, /2, beats per bar, latency).

MIDI clock here: this machine has no ALSA sequencer (/dev/snd/seq), so the messages - parsed by
mido from the raw MIDI bytes, as rtmidi's callback delivers them - are fed to
`MidiClockTempo.handle`, the function the port calls, with the sender's send times (a real-time
sender thread in one test); where a sequencer exists, a virtual port carries them too.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.fake_link import FakeLink, FakeLinkSession, ManualClock
from visualizer.errors import LiveIOError, TempoError
from visualizer.live.beat import BeatClock
from visualizer.live.tempo_link import LinkTempo
from visualizer.live.tempo_midi import PPQN, MidiClockTempo
from visualizer.live.tempo_tap import TapTempo

mido = pytest.importorskip("mido", reason="MIDI needs the live extra (mido)")

CLOCK, START, CONTINUE, STOP = 0xF8, 0xFA, 0xFB, 0xFC


def message(*raw: int):
    """One mido message parsed from raw MIDI bytes, as a port receives it."""
    parser = mido.Parser()
    parser.feed(bytes(raw))
    (parsed,) = list(parser)
    return parsed


def pulses(source: MidiClockTempo, bpm: float, start: float, count: int, jitter_ms=1.0, seed=0):
    """``count`` clock pulses at ``bpm`` from time ``start``, each late by up to ``jitter_ms``
    (USB jitter); returns the time of the next pulse."""
    rng = np.random.default_rng(seed)
    period = 60.0 / (bpm * PPQN)
    for k in range(count):
        source.handle(message(CLOCK), start + k * period + rng.uniform(0, jitter_ms / 1000))
    return start + count * period


@pytest.mark.parametrize("bpm", [90.0, 128.0, 174.0])
def test_midi_clock_tempo_within_half_a_bpm(bpm):
    source = MidiClockTempo()
    assert source.reading(0.0) is None  # no pulse yet: no tempo
    end = pulses(source, bpm, 10.0, 4 * PPQN)
    grid = source.reading(end)
    assert abs(grid.bpm - bpm) < 0.5
    assert not grid.playing  # pulses without Start: the tempo is known, nothing plays


def test_start_puts_the_next_frame_on_bar_one_and_stop_holds():
    source = MidiClockTempo()
    clock = BeatClock({"midi": source}, active="midi")
    t = pulses(source, 128.0, 10.0, 2 * PPQN)
    clock.set_beats_per_bar(4)
    source.handle(message(START), t)
    frame = clock.frame(t + 0.001)  # the next frame after Start, before its first pulse
    assert (frame.state.bar, frame.state.beat_in_bar, frame.state.playing) == (1, 1, True)
    assert frame.is_beat and frame.is_downbeat
    t = pulses(source, 128.0, t + 0.002, 1)  # the first pulse: beat 0
    frame = clock.frame(t)
    assert frame.state.counter() == "1:1" and not frame.is_beat  # beat 1 started once
    t = pulses(source, 128.0, t, PPQN * 5, seed=1)  # five beats on: bar 2, beat 2
    state = clock.state(t - 0.001)
    assert state.counter() == "2:2" and abs(state.beat - 5.0) < 0.05
    # a cue moved the count; Start again resets it: bar 1, beat 1
    clock.cue(t)
    source.handle(message(START), t)
    assert clock.state(t + 0.001).counter() == "1:1"
    t = pulses(source, 128.0, t + 0.002, PPQN * 2 + 1, seed=2)
    source.handle(message(STOP), t)
    held = clock.state(t + 1.0)
    assert not held.playing and held.beat == pytest.approx(2.0 + 1 / PPQN)
    pulses(source, 128.0, t + 1.0, PPQN, seed=3)  # a stopped sender keeps pulsing
    assert clock.state(t + 2.0).beat == held.beat
    source.handle(message(CONTINUE), t + 2.0)
    t = pulses(source, 128.0, t + 2.0, PPQN, seed=4)
    assert clock.state(t - 0.001).beat == pytest.approx(3.0 + 1 / PPQN, abs=0.05)


def test_song_position_sets_where_continue_resumes():
    source = MidiClockTempo()
    t = pulses(source, 120.0, 0.0, PPQN)
    source.handle(message(0xF2, 32, 0), t)  # sixteenth 32 = beat 8 = bar 3
    source.handle(message(CONTINUE), t)
    t = pulses(source, 120.0, t, 1)  # the pulse at beat 8; t is where the next one is due
    grid = source.reading(t)
    assert grid.playing and grid.beat == pytest.approx(8.0 + 1 / PPQN, abs=0.01)


@pytest.mark.parametrize(("before", "after"), [(120.0, 140.0), (174.0, 90.0)])
def test_a_tempo_change_is_followed_within_one_beat(before, after):
    source = MidiClockTempo()
    source.handle(message(START), 0.0)
    t = pulses(source, before, 0.0, 4 * PPQN)
    t = pulses(source, after, t, PPQN, seed=5)  # one beat at the new tempo
    assert abs(source.reading(t).bpm - after) < 0.5


def test_real_time_pulses_through_the_port_callback():
    """A sender thread paced by the monotonic clock; the callback stamps arrival times itself."""
    source = MidiClockTempo()
    period, n = 60.0 / (128.0 * PPQN), 3 * PPQN
    first = time.monotonic() + 0.01

    def send():
        for k in range(n):
            delay = first + k * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            source.handle(message(CLOCK))

    sender = threading.Thread(target=send)
    sender.start()
    sender.join()
    readings = []
    for _ in range(20):  # the last beat's fit, read a few times: one late wake-up is noise
        readings.append(source.reading(time.monotonic()).bpm)
    assert abs(float(np.median(readings)) - 128.0) < 1.0
    assert source.received == n


def test_other_messages_on_the_clock_port_are_ignored():
    source = MidiClockTempo()
    source.handle(message(0x90, 60, 100))
    source.handle(message(0xB0, 1, 2))
    assert source.ignored == 2 and source.reading(0.0) is None


def _alsa() -> str | None:
    return None if Path("/dev/snd/seq").exists() else "no ALSA sequencer (/dev/snd/seq missing)"


@pytest.mark.skipif(_alsa() is not None, reason=str(_alsa()))
def test_a_virtual_port_carries_midi_clock():
    source = MidiClockTempo.open("virtual")
    try:
        name = next(n for n in mido.get_output_names() if "visualizer" in n)
        with mido.open_output(name) as port:
            for _ in range(2 * PPQN):
                port.send(mido.Message("clock"))
                time.sleep(60.0 / (120.0 * PPQN))
        time.sleep(0.05)
        assert abs(source.reading(time.monotonic()).bpm - 120.0) < 2.0
    finally:
        source.stop()


def test_an_unusable_midi_port_is_one_clear_error():
    if _alsa() is None:
        pytest.skip("this machine has MIDI: the error path needs one without")
    with pytest.raises(LiveIOError, match="cannot use MIDI here"):
        MidiClockTempo.open("")


# -- Ableton Link (a fake session: no network) --------------------------------------------------


def _link(tempo=120.0):
    clock = ManualClock()
    session = FakeLinkSession(tempo, clock)
    return clock, session, LinkTempo(FakeLink(session), clock=clock), FakeLink(session, offset=8)


def test_link_grid_follows_the_session_and_tempo_changes_reach_the_peers():
    clock, session, source, peer = _link()
    beat = BeatClock({"link": source}, active="link", now=clock)
    clock.t += 1.0
    state = beat.state()
    assert state.bpm == 120.0 and state.beat == pytest.approx(2.0)
    assert beat.state(clock.t + 0.25).beat == pytest.approx(2.5)  # computed for a later time
    beat.scale(2.0)  # x2 here: the session's tempo, so every peer
    assert session.tempo == peer.tempo == 240.0
    assert beat.state().beat == pytest.approx(2.0)  # the beat stays continuous
    beat.set_tempo(128)
    assert peer.tempo == 128.0
    beat.set_beats_per_bar(3)
    assert source.link.quantum == 3
    for action in (beat.cue, lambda: beat.nudge(1)):
        with pytest.raises(TempoError, match="link leads the phase"):
            action()
    assert source.snapshot() == {"peers": 1}


def test_link_aligns_the_heard_time_with_the_output_latency():
    clock, session, source, _ = _link(tempo=120.0)
    beat = BeatClock({"link": source}, active="link", now=clock)
    beat.set_latency_ms(100)
    clock.t += 0.95  # beat 1.9: a frame shown now is seen 100 ms later, at beat 2.1
    frame = beat.frame(clock.t)
    assert frame.state.beat == pytest.approx(2.1) and frame.is_beat is False  # the first frame
    clock.t += 0.1
    frame = beat.frame(clock.t)
    assert frame.state.beat == pytest.approx(2.3)
    clock.t = 100.0 + 1.45  # beat 2.9 + 0.2 -> beat 3 starts with this frame, 100 ms early
    assert beat.frame(clock.t).is_beat


def test_the_real_aalink_imports_where_the_extra_is_installed():
    aalink = pytest.importorskip("aalink", reason="the link extra (aalink) is not installed")
    import asyncio
    import warnings

    with warnings.catch_warnings():  # aalink 0.2 deprecates the loop it still needs here
        warnings.simplefilter("ignore", DeprecationWarning)
        link = aalink.Link(120.0, asyncio.new_event_loop())  # not enabled: nothing on the network
    source = LinkTempo(link)
    beat = BeatClock({"link": source}, active="link")
    first = beat.state()
    assert first.bpm == pytest.approx(120.0) and first.playing
    beat.scale(2.0)  # Link's own tempo: what the peers would get
    assert link.tempo == pytest.approx(240.0)
    beat.set_beats_per_bar(3)
    assert link.quantum == 3
    time.sleep(0.1)
    assert beat.state().beat > first.beat


def test_link_without_the_extra_says_how_to_install_it(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_aalink(name, *args, **kwargs):
        if name == "aalink":
            raise ImportError("No module named 'aalink'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_aalink)
    with pytest.raises(LiveIOError, match=r"pip install '\.\[link\]'.*GPL"):
        LinkTempo.open("")
    with pytest.raises(TempoError, match="tempo must be 20-400 BPM, got 'fast'"):
        LinkTempo.open("fast")


# -- tap, the audio tracker, and the controls ---------------------------------------------------


def test_tap_takes_over_and_clearing_returns_to_the_audio():
    beat = BeatClock()
    for t in (1.0, 1.5, 2.0, 2.5):
        beat.tap(t)
    assert beat.active == "tap" and beat.state(3.0).bpm == pytest.approx(120.0)
    assert beat.state(3.0).beat == pytest.approx(4.0)
    beat.scale(0.5, at=3.0)  # tap owns its tempo: /2 halves the tapped tempo
    assert beat.state(3.0).bpm == pytest.approx(60.0) and beat.state(4.0).beat == pytest.approx(5.0)
    beat.clear_taps()
    assert beat.active == "audio" and isinstance(beat.sources["tap"], TapTempo)


def test_audio_tracker_grid_pins_beats_and_runs_through_breaks():
    class Row:
        def __init__(self, is_beat, is_downbeat=False, meter=4):
            self.is_beat, self.tempo, self.is_downbeat, self.meter = (
                is_beat,
                120.0,
                is_downbeat,
                meter,
            )

    beat = BeatClock()
    beat.observe(Row(True), 10.0)
    beat.observe(Row(True), 10.52)  # a little late: still beat 1, the phase follows
    assert beat.state(11.02).beat == pytest.approx(2.0)
    assert beat.state(20.52).beat == pytest.approx(21.0)  # no beats for 10 s: the grid runs on
    beat.observe(Row(True, is_downbeat=True), 21.02)  # the analysis's downbeat: beat 22 -> 24
    assert beat.state(21.02).counter() == "7:1"
    beat.observe(Row(True, is_downbeat=True, meter=3), 21.52)  # another meter: no realignment
    assert beat.state(21.52).counter() == "7:2"
    assert beat.passes_rows
    beat.set_latency_ms(50)
    assert not beat.passes_rows


def test_controls_cue_nudge_scale_and_beats_per_bar():
    beat = BeatClock()
    for t in (0.0, 0.5, 1.0):
        beat.tap(t)
    assert beat.state(1.0).counter() == "1:3"
    beat.cue(at=1.02)  # this beat is 1
    assert beat.state(1.02).counter() == "1:1" and beat.state(1.5).counter() == "1:2"
    before = beat.state(2.0).beat
    beat.nudge(1, at=2.0)  # +10 ms: the beats come earlier
    assert beat.state(2.0).beat - before == pytest.approx(0.01 * 2.0)
    beat.set_beats_per_bar(3)
    assert beat.state(2.51).counter() == "2:1"
    audio = BeatClock()
    audio.use("tap")
    audio.use("audio")
    with pytest.raises(TempoError, match="no tempo yet"):
        audio.cue(at=0.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.set_beats_per_bar(0), "beats per bar must be a whole number 1-16, got 0"),
        (lambda b: b.set_beats_per_bar(3.5), "beats per bar must be a whole number 1-16"),
        (lambda b: b.set_beats_per_bar("4"), "got '4'"),
        (lambda b: b.set_latency_ms(-1), r"output latency must be 0-1000 ms, got -1"),
        (lambda b: b.set_latency_ms(float("nan")), "output latency must be 0-1000 ms"),
        (
            lambda b: b.use("link"),
            r"tempo source 'link' is not open in this show \(valid: audio, tap\)",
        ),
        (lambda b: b.set_tempo(1e9), "tempo must be 20-400 BPM"),
        (lambda b: b.nudge(3), "nudge must be"),
        (lambda b: b.scale(3), "tempo factor must be 2 or 0.5"),
    ],
)
def test_bad_beat_controls_are_one_clear_error(call, message):
    with pytest.raises(TempoError, match=message):
        call(BeatClock())
