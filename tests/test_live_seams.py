"""The live seams: a sink and a source each added as one file (tests/dummy_sink.py,
tests/dummy_source.py) plus one registry line, played by a real `LiveSession`: the dummy sink
gets exactly the frames the page gets, the dummy source's clock and audio are what the engine
follows (a seek included), and a clock-only source drives the frames on its own time."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest

from tests.dummy_sink import DummySink
from tests.dummy_source import DummySource
from tests.fixtures_audio import SR
from tests.live_fixtures import FPS, live_session, tiny_generator, wait_until, write_preset
from visualizer.analysis.causal import analyze_causal
from visualizer.errors import LiveIOError
from visualizer.live.control import LiveControl
from visualizer.live.engine import causal_timeline
from visualizer.live.session import LiveSession
from visualizer.live.sinks import SINKS, output_names
from visualizer.live.sources import SOURCES, open_source


@pytest.fixture
def dummy_sink():
    SINKS.register(DummySink)
    yield DummySink
    SINKS.unregister(DummySink.name)


@pytest.fixture
def dummy_source():
    SOURCES.register(DummySource)
    yield DummySource
    SOURCES.unregister(DummySource.name)


@pytest.fixture(scope="module")
def generator():
    return tiny_generator()


async def _page(url: str, seconds: float) -> list[tuple[dict, bytes]]:
    """Be the page for ``seconds``: report a playing clock, keep each frame's header and JPEG."""
    from websockets.asyncio.client import connect

    frames = []
    async with connect(url) as ws:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            t = time.monotonic() - start
            await ws.send(json.dumps({"type": "clock", "t": t, "playing": True}))
            try:
                message = await asyncio.wait_for(ws.recv(), 0.1)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                length = int.from_bytes(message[:4], "big")
                frames.append((json.loads(message[4 : 4 + length]), message[4 + length :]))
    return frames


def test_a_registered_sink_is_an_output_choice(dummy_sink):
    from visualizer.cli import get_parser

    assert output_names() == ("ndi", "camera", "dummy")
    args = get_parser().parse_args(["live", "--audio", "x.wav", "--output", "dummy"])
    assert args.output == ["dummy"]
    with pytest.raises(ValueError, match="already registered"):
        SINKS.register(type("Other", (DummySink,), {}))
    SINKS.register(DummySink)  # the same class again: no change
    assert SINKS.names() == ("page", "ndi", "camera", "record", "osc", "midi", "dummy")


def test_the_dummy_sink_receives_the_frames_the_page_gets(tmp_path, generator, dummy_sink):
    session, _ = live_session(tmp_path, seconds=4.0, generator=generator, outputs=("dummy",))
    (sink,) = session.outputs
    assert isinstance(sink, DummySink)
    assert (sink.setup.resolution, sink.setup.fps) == (128, FPS)
    session.start()
    try:
        url = session.server.url.replace("http", "ws") + "ws"
        shown = asyncio.run(_page(url, seconds=2.0))
    finally:
        session.close()
    assert len(shown) >= 3 and sink.released
    rendered = session.engine.stats.rendered
    assert len(sink.frames) == sink.sent == rendered and sink.dropped == sink.failures == 0
    kept = {frame.index: frame for frame in sink.frames}
    assert list(kept) == sorted(kept) and len(kept) == rendered  # in order, each once
    for header, jpeg in shown:  # every frame the page showed, the sink got, byte for byte
        frame = kept[header["index"]]
        assert frame.jpeg == jpeg and frame.t == header["t"]
        assert frame.pixels.shape == (128, 128, 3) and frame.pixels.dtype == np.uint8


def test_outputs_must_be_output_sinks(tmp_path, generator):
    for name in ("page", "record", "nosuch"):
        with pytest.raises(LiveIOError, match=rf"unknown output '{name}' \(valid: ndi, camera\)"):
            live_session(tmp_path, seconds=1.0, generator=generator, outputs=(name,))


def _dummy_session(folder, generator, source, **options) -> LiveSession:
    control = LiveControl(str(write_preset(folder)), save_dir=folder)
    return LiveSession(
        generator=generator, control=control, source=source, fps=FPS, seed=3, port=0, **options
    )


def test_the_engine_follows_a_registered_source(tmp_path, generator, dummy_source):
    source = open_source("dummy", "3:1")
    assert isinstance(source, DummySource)
    session = _dummy_session(tmp_path, generator, source, keep_timeline=True)
    offline = causal_timeline(
        analyze_causal(source.audio, SR, FPS), session.control.preset, seed=3, fps=FPS
    )
    session.start()
    try:
        assert source.started
        engine = session.engine
        time.sleep(0.3)
        assert engine.stats.frame == -1  # the clock has not started: nothing to follow
        source.move_to(2.0)
        # paused at 2 s: the engine maps up to 2 s plus its lead (its render time)
        wait_until(lambda: engine.stats.frame >= 2 * FPS - 1, what="frames up to 2 s")
        assert engine.stats.frame <= (2.0 + 0.5) * FPS
        assert session.now() == 2.0 and session.server.state()["clock"] == 2.0
        assert session.server.state()["track"] is False  # nothing for the page to play
        _assert_prefix(engine.timeline(), offline)
        source.move_to(0.5)  # a seek back: analysis and mapping start over
        wait_until(lambda: engine.stats.restarts == 1, what="a restart")
        wait_until(lambda: 0 < engine.stats.frame < 2 * FPS, what="frames after the seek")
        _assert_prefix(engine.timeline(), offline)
    finally:
        session.close()
    assert source.stopped


def _assert_prefix(live, offline) -> None:
    """``live`` is the first frames of ``offline``, bit for bit."""
    n = live.n_frames
    assert 0 < n < offline.n_frames
    assert np.array_equal(live.class_vectors, offline.class_vectors[:n])
    assert np.array_equal(live.noise, offline.noise[:n])
    assert np.array_equal(live.truncation, offline.truncation[:n])


def test_a_clock_only_source_drives_the_frames(tmp_path, generator, dummy_source, dummy_sink):
    source = open_source("dummy", "")  # no audio: a clock like MIDI clock or Ableton Link
    session = _dummy_session(tmp_path, generator, source, outputs=("dummy",))
    (sink,) = session.outputs
    session.start()
    try:
        source.move_to(1.0, playing=True)
        wait_until(lambda: session.engine.stats.frame >= FPS, what="frames on the clock")
        source.move_to(3.0)
        wait_until(lambda: session.engine.stats.frame >= 3 * FPS, what="frames after a jump")
        wait_until(lambda: sink.frames and sink.frames[-1].index >= 3 * FPS, what="a sent frame")
    finally:
        session.close()
    stats = session.engine.stats
    assert stats.restarts == 0 and stats.beats == 0 and stats.onsets == 0  # silence
    assert stats.frame <= (3.0 + 0.5) * FPS and sink.frames[-1].t <= 3.5


def test_a_registered_tempo_source_is_a_tempo_choice():
    from tests.dummy_tempo import DummyTempo
    from visualizer.cli import get_parser
    from visualizer.live.beat import BeatClock
    from visualizer.live.tempos import TEMPOS, open_tempo

    TEMPOS.register(DummyTempo)
    try:
        args = get_parser().parse_args(["live", "--audio", "x.wav", "--tempo", "dummy:90"])
        source = open_tempo(args.tempo)
        assert isinstance(source, DummyTempo) and source.bpm == 90.0
        beat = BeatClock(active="audio")
        beat.add(source)
        beat.use("dummy")
        assert beat.state(4.0).counter() == "2:3"  # 6 beats in 4 s at 90 BPM
        assert beat.sources["audio"] is not source and list(beat.sources) == [
            "audio",
            "tap",
            "dummy",
        ]
    finally:
        TEMPOS.unregister(DummyTempo.name)
    with pytest.raises(LiveIOError, match="unknown tempo source 'dummy'"):
        open_tempo("dummy")
