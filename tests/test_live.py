"""Live mode without a browser: causal analysis, engine == offline causal Timeline, control,
OSC over real UDP, and the HTTP/WebSocket server's refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import struct
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests.fixtures_audio import SR, click_track, music_like
from tests.live_fixtures import FPS, live_session, tiny_generator, write_preset
from visualizer.analysis.causal import analyze_causal, frame_count
from visualizer.errors import PresetError, VisualizerError
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine, causal_timeline
from visualizer.live.source_file import FileSource
from visualizer.live.tempo_tap import TapTempo


def _equal_rows(a, b) -> bool:
    return all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
    )


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    return music_like(6.0, SR, seed=1).astype(np.float32)


@pytest.fixture(scope="module")
def generator():
    return tiny_generator()


# -- causal analysis --------------------------------------------------------------------------


@pytest.mark.parametrize("block", [1, 64, 511, 512, 2048, 22050])
def test_block_size_does_not_change_features(music, block):
    whole = analyze_causal(music, SR, FPS)
    blocked = analyze_causal(music, SR, FPS, block=block)
    assert len(whole) == len(blocked) == frame_count(len(music), SR, FPS)
    assert all(_equal_rows(a, b) for a, b in zip(whole, blocked, strict=True))


def test_features_are_causal_and_in_range(music):
    rows = analyze_causal(music, SR, FPS)
    prefix = analyze_causal(music[: 3 * SR], SR, FPS)
    # nothing after 3 s may change what the first 3 s gave
    assert all(_equal_rows(a, b) for a, b in zip(prefix, rows, strict=False))
    chroma = np.stack([r.chroma for r in rows])
    assert chroma.shape == (len(rows), 12) and chroma.min() >= 0 and chroma.max() <= 1
    assert np.allclose(chroma[chroma.max(axis=1) > 0].max(axis=1), 1.0)
    for name in ("onset_strength", "energy", "energy_rise"):
        values = np.array([getattr(r, name) for r in rows])
        assert values.min() >= 0 and values.max() <= 1 and values.max() > 0.5, name
    bands = np.stack([r.bands for r in rows])
    assert bands.shape == (len(rows), 3) and bands.min() >= 0 and bands.max() <= 1
    assert rows[0].is_section_start and [r.index for r in rows] == list(range(len(rows)))


def test_silence_gives_zero_chroma_and_no_onsets():
    rows = analyze_causal(np.zeros(SR, np.float32), SR, 30)
    assert len(rows) == 30
    assert not any(r.is_onset or r.is_beat for r in rows)
    assert all(not r.chroma.any() and r.energy == 0 for r in rows)


def test_onsets_and_beats_follow_a_click_track():
    times = np.arange(0.25, 8.0, 0.5)  # 120 BPM
    rows = analyze_causal(click_track(times, SR, duration=8.0), SR, 30)
    onsets = [r.index for r in rows if r.is_onset]
    expected = np.round(times * 30).astype(int)
    # every click is found within 2 frames (causal: never before the click)
    assert all(any(0 <= o - e <= 2 for o in onsets) for e in expected)
    assert len(onsets) <= len(expected) + 1
    late = [r for r in rows if r.index >= 6 * 30]
    assert abs(late[-1].tempo - 120) < 6
    beats = [r.index for r in late if r.is_beat]
    assert len(beats) >= 3 and all(
        12 <= b - a <= 18 for a, b in zip(beats, beats[1:], strict=False)
    )


# -- engine: live == offline causal -----------------------------------------------------------


def _engine(generator, control, source, keep=True) -> LiveEngine:
    return LiveEngine(
        generator=generator, control=control, source=source, fps=FPS, seed=3, keep_timeline=keep
    )


def test_live_timeline_equals_offline_causal_timeline(tmp_path, generator, music):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    source = FileSource(music, SR)
    engine = _engine(generator, control, source)
    rng = np.random.default_rng(0)
    t, rendered, step = 0.0, 0, 0
    while t < len(music) / SR:  # irregular clock steps, i.e. irregular audio blocks
        t += float(rng.uniform(0.001, 0.4))
        source.report(t, playing=False)
        engine.advance()
        step += 1
        if step % 4 == 0:  # rendering is slower than the clock: frames in between are dropped
            rendered += engine.render_latest()
    offline = causal_timeline(analyze_causal(music, SR, FPS), control.preset, seed=3, fps=FPS)
    live = engine.timeline()
    assert live.n_frames == offline.n_frames == frame_count(len(music), SR, FPS)
    assert np.array_equal(live.class_vectors, offline.class_vectors)
    assert np.array_equal(live.noise, offline.noise)
    assert np.array_equal(live.truncation, offline.truncation)
    assert live.preset == offline.preset and live.seed == offline.seed
    # steps were larger than a frame: frames were dropped, not queued
    assert 0 < rendered < live.n_frames
    assert engine.stats.dropped == engine._rendered_index + 1 - rendered


def test_seek_back_replays_to_the_same_state(tmp_path, generator, music):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    source = FileSource(music, SR)
    engine = _engine(generator, control, source)
    for t in (1.0, 2.0, 0.5, 1.5, 3.0):
        source.report(t, playing=False)
        engine.advance()
    assert engine.stats.restarts == 1
    offline = causal_timeline(
        analyze_causal(music[: 3 * SR], SR, FPS), control.preset, seed=3, fps=FPS
    )
    assert np.array_equal(engine.timeline().noise, offline.noise)


def test_slider_change_reaches_the_mapper_within_a_frame(tmp_path, generator, music):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    source = FileSource(music, SR)
    engine = _engine(generator, control, source, keep=False)
    source.report(0.5, playing=False)
    engine.advance()
    control.set("truncation.max", 0.5)
    source.report(0.5 + 1 / float(FPS), playing=False)
    assert engine.advance() == 1
    assert engine.mapper.preset.truncation.max == 0.5
    assert engine._latest[3] <= 0.5


# -- control ----------------------------------------------------------------------------------


def test_control_refuses_bad_values_and_names(tmp_path):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    with pytest.raises(PresetError, match="classes.sensitivity"):
        control.set("classes.sensitivity", 500)
    with pytest.raises(PresetError, match="nosuch"):
        control.set("classes.nosuch", 1)
    with pytest.raises(PresetError, match="section.key"):
        control.set("sensitivity", 1)
    with pytest.raises(VisualizerError):
        control.set("classes.names", "tigre")
    assert control.version == 0
    for name in ("../escape", "/etc/passwd", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(PresetError, match="invalid preset name"):
            control.save(name)
    with pytest.raises(PresetError, match="unknown preset"):
        control.load("../look")


def test_save_load_and_class_changes_snap_to_a_beat(tmp_path):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path / "saved")
    control.set("classes.sensitivity", 5.0)
    assert control.preset.classes.sensitivity == 5.0 and control.version == 1
    control.set("classes.names", "goldfish,daisy")  # no beat yet: lands at once
    assert control.take_change().classes.names == ("goldfish", "daisy")
    path = control.save("mylook")
    assert path == tmp_path / "saved" / "mylook.toml" and "goldfish" in path.read_text()
    with pytest.raises(VisualizerError, match="exists"):
        control.save("mylook")
    control.set("classes.sensitivity", 1.0)
    control.load("mylook")
    assert control.preset.classes.sensitivity == 5.0 and control.overrides == {}


def test_preset_file_is_reloaded_when_edited(tmp_path, caplog):
    path = write_preset(tmp_path)
    control = LiveControl(str(path), save_dir=tmp_path)
    assert not control.poll_file()
    path.write_text(path.read_text().replace("3.0", "7.5"))
    import os

    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert control.poll_file() and control.preset.classes.sensitivity == 7.5
    path.write_text("[classes\nbroken")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert not control.poll_file()  # half-saved file: keep playing the last good preset
    assert control.preset.classes.sensitivity == 7.5 and "not reloaded" in caplog.text


def test_tap_tempo_grid():
    tap = TapTempo()
    for t in (10.0, 10.5, 11.0, 11.6):  # the median interval: 0.5 s
        tap.tap(t)
    assert tap.bpm == pytest.approx(120.0)
    assert tap.reading(12.1).beat == pytest.approx(4.0)  # the last tap is beat 3
    tap.tap(20.0)  # a long pause starts a new sequence
    assert tap.taps == [20.0]


# -- OSC over real UDP ------------------------------------------------------------------------


def test_osc_messages_change_parameters_and_garbage_is_ignored(tmp_path, caplog):
    from pythonosc.udp_client import SimpleUDPClient

    from visualizer.live.osc import OscInput

    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    osc = OscInput(control, port=0, now=lambda: 4.0)
    osc.start()
    try:
        client = SimpleUDPClient("127.0.0.1", osc.port)
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.sendto(b"\x00\xffnot osc at all", ("127.0.0.1", osc.port))
        client.send_message("/visualizer/set", ["classes.sensitivity", 9.0])
        client.send_message("/visualizer/set", ["classes.sensitivity", 999.0])  # out of range
        client.send_message("/visualizer/set", [])  # no arguments
        client.send_message("/visualizer/nosuch", [1])
        client.send_message("/visualizer/tap", [])
        client.send_message("/visualizer/preset", ["no-such-preset"])
        deadline = time.monotonic() + 5
        while osc.received + osc.ignored < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert control.preset.classes.sensitivity == 9.0
        assert control.beat.sources["tap"].taps == [4.0]
        assert osc.received == 2 and osc.ignored == 4
        assert "unknown address /visualizer/nosuch" in caplog.text
        client.send_message("/visualizer/preset", ["default"])
        deadline = time.monotonic() + 5
        while control.source != "default" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert control.source == "default"
    finally:
        osc.stop()


def test_osc_missing_arguments_and_oversized_datagrams_are_refused_and_logged(tmp_path, caplog):
    from pythonosc.osc_message_builder import OscMessageBuilder

    from visualizer.live.osc import OscInput

    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    before = control.preset.classes.sensitivity
    osc = OscInput(control, port=0)
    osc.start()
    try:
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        whole = OscMessageBuilder("/visualizer/set")
        whole.add_arg("classes.sensitivity")
        whole.add_arg(0.0, "f")
        cut = whole.build().dgram[:-4]  # ",sf" with the float left off
        raw.sendto(cut, ("127.0.0.1", osc.port))
        big = OscMessageBuilder("/visualizer/set")
        big.add_arg("classes.names")
        big.add_arg("x" * 9000)
        for _ in range(3):
            raw.sendto(big.build().dgram, ("127.0.0.1", osc.port))
        deadline = time.monotonic() + 5
        while osc.ignored < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        osc.stop()
    assert osc.ignored == 4 and osc.received == 0
    assert control.preset.classes.sensitivity == before  # not 0.0
    assert "argument 2 (type 'f') is missing" in caplog.text
    assert caplog.text.count("ignored an OSC datagram of") == 1  # logged once, not per datagram


# -- server: only its own files, only its own pages --------------------------------------------


@pytest.fixture(scope="module")
def session(tmp_path_factory, generator):
    folder = tmp_path_factory.mktemp("live")
    live, _ = live_session(folder, seconds=3.0, generator=generator)
    live.start()
    yield live
    live.close()


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/static/../server.py",
        "/server.py",
        "/..%2fserver.py",
        "/app.js/../../session.py",
        "//etc/passwd",
        "/track/../look.toml",
        "/look.toml",
    ],
)
def test_no_path_traversal(session, path):
    with socket.create_connection(("127.0.0.1", session.server.port), timeout=10) as conn:
        # raw request: urllib would normalise the dots away before sending
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        reply = conn.recv(65536).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 404"), reply[:80]
    assert "root:" not in reply and "import" not in reply


def test_serves_page_assets_track_and_ranges(session):
    base = session.server.url
    status, body, headers = _get(base)
    assert status == 200 and b"<canvas" in body and headers["Content-Type"] == "text/html"
    assert _get(base + "app.js")[0] == 200 and _get(base + "style.css")[0] == 200
    status, whole, _ = _get(base + "track")
    assert status == 200 and whole == session.source.track.read_bytes()
    status, part, headers = _get(base + "track", {"Range": "bytes=100-199"})
    assert status == 206 and part == whole[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert _get(base + "track", {"Range": f"bytes={len(whole) + 5}-"})[0] == 416
    state = json.loads(_get(base + "state")[1])
    assert state["track"] is True and any(
        p["key"] == "classes.sensitivity" for p in state["params"]
    )


def test_websocket_refuses_foreign_origin_and_survives_garbage(session):
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    url = f"ws://127.0.0.1:{session.server.port}/ws"

    async def scenario():
        with pytest.raises(InvalidStatus, match="403"):
            async with connect(url, origin="http://evil.example"):
                pass
        async with connect(url) as ws:
            assert json.loads(await ws.recv())["type"] == "state"
            for message in ("{not json", "[1,2]", '{"type": "nosuch"}', '{"type": "set"}',
                            '{"type": "clock", "t": "soon"}', b"\x00\x01binary"):  # fmt: skip
                await ws.send(message)
                reply = json.loads(await ws.recv())
                assert reply["type"] == "error"
            await ws.send(json.dumps({"type": "set", "key": "classes.sensitivity", "value": 99}))
            assert "out of range" in json.loads(await ws.recv())["message"]
            # still serving frames after all that, and following the new clock (a frame rendered
            # for the previous clock may still be in flight: wait for one at t = 0.5 s or later)
            await ws.send(json.dumps({"type": "clock", "t": 0.5, "playing": True}))
            while True:
                message = await asyncio.wait_for(ws.recv(), 20)
                if isinstance(message, bytes):
                    length = struct.unpack(">I", message[:4])[0]
                    assert message[4 + length : 4 + length + 2] == b"\xff\xd8"  # a JPEG
                    header = json.loads(message[4 : 4 + length])
                    if header["index"] >= 12:
                        return header

    header = asyncio.run(scenario())
    assert header["index"] >= 12 and session.server.bad_messages >= 6


def test_a_page_that_does_not_keep_up_gets_only_the_latest_frame(session):
    feed = session.server.page
    page = feed.join(connection=None)  # never drained: a stalled page
    dropped = feed.dropped
    try:
        for index in range(5):
            feed.publish({"index": index, "dropped": 0}, b"jpeg%d" % index)
        assert page.slot == ({"index": 4, "dropped": 0}, b"jpeg4") and page.dropped == 4
        assert feed.dropped >= dropped + 4
    finally:
        feed.leave(page)


def test_a_vanished_page_does_not_stall_rendering(session):
    from websockets.asyncio.client import connect

    async def vanish():
        ws = await connect(f"ws://127.0.0.1:{session.server.port}/ws")
        await ws.send(json.dumps({"type": "clock", "t": 0.0, "playing": True}))
        ws.transport.abort()  # gone without a closing handshake

    rendered = session.engine.stats.rendered
    asyncio.run(vanish())
    deadline = time.monotonic() + 20
    while session.engine.stats.rendered < rendered + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.engine.stats.rendered >= rendered + 5
    while session.server.state()["clients"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.server.state()["clients"] == 0
