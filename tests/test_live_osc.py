"""OSC: every accepted address is listed (with types and ranges) and every listing is handled;
messages through real UDP; bad values refused with one line; OSC out received by a real UDP
socket on loopback from a running show."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from tests.dummy_source import DummySource
from tests.live_fixtures import FPS, tiny_generator, wait_until, write_preset
from visualizer.live.calibrate import InputCalibration
from visualizer.live.control import LiveControl
from visualizer.live.osc_api import ADDRESSES, BY_PATH, PREFIX, check_arguments, listing
from visualizer.live.session import LiveSession

pytest.importorskip("pythonosc", reason="OSC needs the live extra (python-osc)")

from pythonosc.osc_message import OscMessage  # noqa: E402
from pythonosc.udp_client import SimpleUDPClient  # noqa: E402

from visualizer.live.osc import OscInput, handler_of  # noqa: E402


@pytest.fixture
def osc(tmp_path):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    server = OscInput(control, port=0, calibration=InputCalibration())
    server.start()
    yield server
    server.stop()


def test_every_handler_is_listed_and_every_listing_is_handled(osc):
    handlers = {name for name in dir(osc) if name.startswith("_on_")}
    listed = {"_on_" + a.path[len(PREFIX) + 1 :].replace("/", "_") for a in ADDRESSES}
    assert handlers == listed, "an OSC handler without a listing in osc_api.ADDRESSES (or back)"
    mapped = set(getattr(osc.dispatcher, "_map", {}))  # python-osc's table of mapped addresses
    assert mapped == set(BY_PATH), "an address mapped without a listing"
    for address in ADDRESSES:
        assert callable(handler_of(osc, address))
        assert osc.dispatcher.handlers_for_address(address.path)
    data = listing()
    assert [entry["address"] for entry in data["in"]] == [a.path for a in ADDRESSES]
    assert {entry["address"] for entry in data["out"]} >= {f"{PREFIX}/beat", f"{PREFIX}/bpm"}


def _send_all(osc, messages) -> None:
    client = SimpleUDPClient("127.0.0.1", osc.port)
    before = osc.received + osc.ignored
    for address, args in messages:
        client.send_message(address, args)
    wait_until(lambda: osc.received + osc.ignored >= before + len(messages), 10, "OSC handled")


def test_the_new_addresses_steer_the_show(osc):
    control = osc.control
    _send_all(osc, [
        ("/visualizer/quantize", ["bar"]),
        ("/visualizer/tempo/beats_per_bar", [3]),
        ("/visualizer/tempo/latency", [80.0]),
        ("/visualizer/tempo/bpm", [128]),
        ("/visualizer/cycle", [8, "random"]),
        ("/visualizer/crossfade", [2.5]),
        ("/visualizer/preset", ["minimal", "now"]),
        ("/visualizer/action", ["double"]),
    ])  # fmt: skip
    assert osc.ignored == 0, osc.ignored
    beat = control.beat
    assert control.quantize == "bar" and beat.beats_per_bar == 3
    assert beat.latency_s == pytest.approx(0.08) and beat.active == "tap"
    assert beat.state().bpm == pytest.approx(256.0)  # 128, then x2
    assert (control.cycle_bars, control.cycle_mode, control.crossfade_s) == (8, "random", 2.5)
    assert control.source == "minimal"


@pytest.mark.parametrize(
    ("address", "args", "words"),
    [
        ("/visualizer/master", ["motion", 3.0], "value = 3.0 does not fit"),
        ("/visualizer/master", ["speed", 1.0], "name = 'speed' does not fit"),
        ("/visualizer/tempo/bpm", ["fast"], "bpm = 'fast' does not fit"),
        ("/visualizer/tempo/bpm", [float("nan")], "does not fit"),
        ("/visualizer/tempo/beats_per_bar", [3.5], "beats = 3.5 does not fit"),
        ("/visualizer/quantize", ["soon"], "quantize = 'soon' does not fit"),
        ("/visualizer/preset", [], "expected /visualizer/preset <name: text>"),
        ("/visualizer/tap", [1], "expected /visualizer/tap, got 1 argument"),
        ("/visualizer/tempo/source", ["link"], "tempo source 'link' is not open"),
        ("/visualizer/input", ["gain", 99.0], "gain must be a number 0 to 8"),
    ],
)
def test_bad_messages_are_refused_with_one_line(osc, caplog, address, args, words):
    _send_all(osc, [(address, args)])
    assert osc.ignored == 1 and osc.received == 0
    lines = [r.getMessage() for r in caplog.records if "ignored OSC" in r.getMessage()]
    assert len(lines) == 1 and words in lines[0], lines


def test_argument_checks_name_the_usage():
    with pytest.raises(ValueError, match=r"expected /visualizer/master <name: reactivity\|"):
        check_arguments(BY_PATH["/visualizer/master"], ("motion",))
    assert check_arguments(BY_PATH["/visualizer/tempo/beats_per_bar"], (4.0,)) == [4]


def _receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    return sock


def test_osc_out_reaches_a_udp_socket_from_a_running_show(tmp_path):
    receiver = _receiver()
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    source = DummySource(None)
    session = LiveSession(generator=tiny_generator(), control=control, source=source, fps=FPS,
                          port=0, osc_out=receiver.getsockname())  # fmt: skip
    assert [sink.name for sink in session.sinks] == ["page", "osc"]
    now = time.monotonic()
    for k in range(4):
        control.beat.tap(now - 2.0 + 0.5 * k)  # 120 BPM, running
    received: list[tuple[str, list]] = []
    session.start()
    try:
        start = time.monotonic()
        while time.monotonic() - start < 4.0:
            source.move_to(time.monotonic() - start, playing=True)
            try:
                data = receiver.recv(65536)
            except TimeoutError:
                continue
            message = OscMessage(data)
            received.append((message.address, list(message.params)))
    finally:
        session.close()
        receiver.close()
    beats = [args for address, args in received if address == "/visualizer/beat"]
    assert len(beats) >= 3, received[:10]
    assert all(1 <= beat <= 4 and bar >= 1 for beat, bar in beats)
    bpm = [args[0] for address, args in received if address == "/visualizer/bpm"]
    assert bpm and bpm[0] == pytest.approx(120.0, abs=0.1)
    assert ("/visualizer/scene", ["look"]) in received
    bars = [args[0] for address, args in received if address == "/visualizer/bar"]
    assert bars and all(b >= 1 for b in bars)


def test_the_server_lists_the_addresses(tmp_path):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    session = LiveSession(generator=tiny_generator(), control=control, source=DummySource(None),
                          fps=FPS, port=0)  # fmt: skip
    session.start()
    try:
        with urllib.request.urlopen(session.server.url + "osc.json", timeout=10) as response:
            data = json.loads(response.read())
        with urllib.request.urlopen(session.server.url + "osc", timeout=10) as response:
            page = response.read().decode()
    finally:
        session.close()
    assert [entry["address"] for entry in data["in"]] == [a.path for a in ADDRESSES]
    for address in ADDRESSES:
        assert address.path in page
    assert "0-2" in page and "now|beat|bar|2bars|4bars" in page
