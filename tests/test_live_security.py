"""The live server against a hostile web page (DNS rebinding: a page on a name that resolves to
127.0.0.1 sends its own Host and Origin) and against greedy or malformed requests, through a
real socket to a real server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time

import pytest

from tests.live_fixtures import live_session, wait_until, write_track
from visualizer.live.http import TRACK_CHUNK, host_allowed

TRACK_SECONDS = 55.0  # a 2.4 MB wav (22050 Hz mono 16-bit): more than two TRACK_CHUNKs


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    live, _ = live_session(folder, seconds=TRACK_SECONDS, seed=1)
    live.start()
    yield live
    live.close()


def _raw(port: int, request: str, host: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is to ``host``; (status, headers, body) of the reply."""
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(request.encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += conn.recv(65536)
        head, _, body = reply.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers.get("Content-Length", 0))
        while len(body) < length:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


def _get(port: int, path: str, host: str, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    return _raw(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n")


@pytest.mark.parametrize("path", ["/", "/state", "/track", "/app.js", "/ws"])
@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "192.0.2.1:{port}", ""])
def test_a_foreign_host_is_refused_on_every_path(session, path, host):
    port = session.server.port
    status, _, body = _get(port, path, host.format(port=port))
    assert status == 403 and b"RIFF" not in body and b"params" not in body


def test_a_rebound_page_cannot_open_the_socket(session):
    port = session.server.port
    upgrade = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    evil = f"evil.example:{port}"
    status, _, _ = _get(port, "/ws", evil, upgrade + f"Origin: http://{evil}\r\n")
    assert status == 403
    mine = f"127.0.0.1:{port}"
    status, _, _ = _get(port, "/ws", mine, upgrade + f"Origin: http://{evil}\r\n")
    assert status == 403  # loopback Host, foreign Origin
    status, _, _ = _get(port, "/ws", mine, upgrade + f"Origin: http://{mine}\r\n")
    assert status == 101


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST"]
)
def test_loopback_names_are_served(session, host):
    status, _, body = _get(session.server.port, "/state", host.format(port=session.server.port))
    assert status == 200 and "params" in json.loads(body)


def test_host_names_allowed():
    assert host_allowed("studio.lan:8765", "studio.lan")  # what --host names
    assert not host_allowed("studio.lan:8765", "0.0.0.0")  # a wildcard names no host
    assert not host_allowed("127.0.0.1.evil.example", "127.0.0.1")
    assert not host_allowed("[::1", "127.0.0.1")


def test_track_comes_in_bounded_ranges_read_from_the_file(session):
    port, whole = session.server.port, session.source.track.read_bytes()
    assert len(whole) > 2 * TRACK_CHUNK
    status, headers, body = _get(port, "/track", "127.0.0.1")
    assert status == 206 and len(body) == TRACK_CHUNK and body == whole[:TRACK_CHUNK]
    assert headers["Content-Range"] == f"bytes 0-{TRACK_CHUNK - 1}/{len(whole)}"
    status, headers, body = _get(port, "/track", "127.0.0.1", f"Range: bytes={TRACK_CHUNK}-\r\n")
    assert status == 206 and body == whole[TRACK_CHUNK : 2 * TRACK_CHUNK]
    status, _, body = _get(port, "/track", "127.0.0.1", "Range: bytes=-100\r\n")
    assert status == 206 and body == whole[-100:]


def test_an_absurd_range_header_is_not_a_server_error(session):
    status, _, _ = _get(
        session.server.port, "/track", "127.0.0.1", f"Range: bytes={'9' * 5000}-\r\n"
    )
    assert status in (200, 206, 416)


def test_deep_json_on_the_socket_gets_an_error_reply(session):
    from websockets.asyncio.client import connect

    async def scenario():
        async with connect(f"ws://127.0.0.1:{session.server.port}/ws") as ws:
            await ws.recv()  # the first state
            await ws.send("[" * 30000 + "]" * 30000)
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("type") == "error":
                    return reply

    reply = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert "malformed" in reply["message"]


def test_allowed_hosts_reach_the_show_and_the_rebinding_rules_stay(tmp_path):
    """A tablet on the LAN reaches a show started with --host 0.0.0.0 by a name the user allowed
    (--allow-host); every other name is still refused, and the Origin must still match."""
    assert host_allowed("192.168.1.20:8765", "0.0.0.0", ("192.168.1.20",))
    assert host_allowed("Studio.LAN", "0.0.0.0", ("studio.lan",))
    assert not host_allowed("evil.example:8765", "0.0.0.0", ("192.168.1.20",))
    assert not host_allowed("0.0.0.0:8765", "0.0.0.0", ("0.0.0.0",))  # a wildcard names no host
    live, _ = live_session(tmp_path, seconds=2.0, allowed_hosts=("studio.lan",))
    live.start()
    try:
        port = live.server.port
        lan = f"studio.lan:{port}"
        status, _, body = _get(port, "/state", lan)
        assert status == 200 and "params" in json.loads(body)
        status, _, body = _get(port, "/", "evil.example")
        assert status == 403 and b"--allow-host" in body
        upgrade = (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        )
        status, _, _ = _get(port, "/ws", lan, upgrade + f"Origin: http://{lan}\r\n")
        assert status == 101
        status, _, _ = _get(port, "/ws", lan, upgrade + "Origin: http://evil.example\r\n")
        assert status == 403
    finally:
        live.close()


async def _watch(url: str, seconds: float) -> tuple[float, list[float]]:
    """Be a viewer that plays the track: report a playing clock, note when each frame arrives.
    Returns the frame rate after the first second, and the arrival times (from the start)."""
    from websockets.asyncio.client import connect

    arrivals: list[float] = []
    async with connect(url, max_size=None) as ws:
        start = time.monotonic()
        last_clock = -1.0
        while (now := time.monotonic() - start) < seconds:
            if now - last_clock >= 0.1:
                await ws.send(json.dumps({"type": "clock", "t": now, "playing": True}))
                last_clock = now
            with contextlib.suppress(TimeoutError):
                if isinstance(await asyncio.wait_for(ws.recv(), 0.1), bytes):
                    arrivals.append(time.monotonic() - start)
    settled = [t for t in arrivals if t >= 1.0]
    return len(settled) / (seconds - 1.0), [*arrivals, seconds]


async def _flood(url: str, messages: list[str], done) -> float:
    """Send ``messages`` as fast as the socket takes them, never reading; stay connected until
    ``done()``. Returns the seconds from the first message to ``done()``."""
    from websockets.asyncio.client import connect

    async with connect(url) as ws:
        await ws.recv()  # the first state
        start = time.monotonic()
        for message in messages:
            await ws.send(message)
        while not done():
            await asyncio.sleep(0.1)
        return time.monotonic() - start


def _state_seconds(port: int) -> float:
    started = time.monotonic()
    status, _, body = _get(port, "/state", "127.0.0.1")
    assert status == 200 and "params" in json.loads(body)
    return time.monotonic() - started


def test_a_message_flood_keeps_frames_flowing_and_state_answering(tmp_path):
    """One page sending 3,000 ``set`` messages (and a burst of state requests and taps) while
    another page watches: frames keep arriving at a good share of the calm rate, /state answers
    within a bound, and the flood's last value is the one that holds."""
    live, _ = live_session(tmp_path, seconds=60.0)
    live.start()
    try:
        port = live.server.port
        url = f"ws://127.0.0.1:{port}/ws"
        calm, _ = asyncio.run(_watch(url, 4.0))
        values = [round(0.1 + 0.8 * (i % 100) / 100, 3) for i in range(3000)]
        flood = [json.dumps({"type": "set", "key": "pulse.amount", "value": v}) for v in values]
        flood += [json.dumps({"type": "state"})] * 300 + [json.dumps({"type": "tap"})] * 100
        flood.append(json.dumps({"type": "set", "key": "pulse.amount", "value": 0.777}))
        answers: list[float] = []

        async def scenario():
            watching = asyncio.create_task(_watch(url, 8.0))
            landed = lambda: live.control.base.pulse.amount == 0.777  # noqa: E731
            flooding = asyncio.create_task(_flood(url, flood, landed))
            await asyncio.sleep(0.5)
            for _ in range(6):
                answers.append(await asyncio.to_thread(_state_seconds, port))
                await asyncio.sleep(0.5)
            return await watching, await flooding

        (rate, arrivals), took = asyncio.run(asyncio.wait_for(scenario(), 120))
        gap = max(b - a for a, b in zip(arrivals, arrivals[1:], strict=False))
        print(f"calm {calm:.1f} fps, flood {rate:.1f} fps, longest gap {gap:.2f} s, "
              f"/state within {max(answers):.2f} s, the flood applied in {took:.1f} s")  # fmt: skip
        assert rate >= 0.4 * calm and gap < 2.0, (rate, calm, gap)
        assert max(answers) < 1.5, answers
    finally:
        live.close()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/state", "Host: 127.0.0.1\r\nHost: 127.0.0.1\r\n"),
        ("/state", "Host: 127.0.0.1\r\nHost: evil.example\r\n"),
        ("/ws", "Host: 127.0.0.1\r\nHost: 127.0.0.1\r\n"),
        ("/ws", "Host: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n"),
    ],
)
def test_repeated_host_or_origin_headers_are_one_clean_refusal(session, path, headers):
    """Two Host (or Origin) headers: which one names the show is ambiguous, so the request is
    refused with 400, never a server error, and the server goes on serving."""
    port = session.server.port
    upgrade = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    extra = upgrade if path == "/ws" else ""
    status, _, body = _raw(port, f"GET {path} HTTP/1.1\r\n{headers}{extra}\r\n")
    assert status == 400 and b"params" not in body, (status, body)
    status, _, _ = _get(port, "/state", "127.0.0.1")
    assert status == 200


@pytest.mark.parametrize(("bound", "shown"), [("0.0.0.0", "127.0.0.1"), ("::", "[::1]")])
def test_the_address_printed_for_a_wildcard_host_is_one_that_answers(tmp_path, bound, shown):
    """`live --host 0.0.0.0` printed http://0.0.0.0:PORT/, whose Host the server refuses (a
    wildcard names no host): it prints the loopback address, which answers."""
    if bound == "::" and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    live, _ = live_session(tmp_path, seconds=2.0, host=bound)
    live.start()
    try:
        url = live.server.url
        assert url == f"http://{shown}:{live.server.port}/"
        request = f"GET /state HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n"
        status, _, body = _raw(live.server.port, request, shown.strip("[]"))
        assert status == 200 and "params" in json.loads(body)
    finally:
        live.close()


# -- inputs that are not files: a FIFO waits for ever, /dev/zero never ends ---------------------

NESTED_MAP = "[[control]]\nchannel = " + "[" * 5000 + "]" * 5000 + "\n"


def _hostile(folder, kind: str, name: str):
    """A file named ``name`` in ``folder`` that is a FIFO, /dev/zero (a link to it), over the
    1 MiB bound, or a TOML nested past the interpreter's recursion."""
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "big":
        path.write_text("# padding\n" * 110_000)
    else:
        path.write_text(NESTED_MAP)
    return path


@pytest.mark.parametrize("kind", ["fifo", "device", "big", "nested"])
@pytest.mark.parametrize("option", ["--midi-map", "--preset", "--audio"])
def test_live_inputs_that_are_not_regular_bounded_files_are_one_line(tmp_path, option, kind):
    """Every file live reads from the command line is checked before it is read: a FIFO
    (waited for ever), /dev/zero (read until memory ran out), a file past its bound or nested
    past the recursion limit is one error line naming it, at once."""
    from tests.test_live_cli import _cli

    if option == "--audio" and kind in ("big", "nested"):
        pytest.skip("a track has no size bound (a long mix is a big file), and is not TOML")
    track, _ = write_track(tmp_path, seconds=1.0)
    bad = _hostile(tmp_path, kind, "track.mp3" if option == "--audio" else "in.toml")
    args = {"--midi-map": ["--audio", str(track), "--midi-out", "--midi-map", str(bad)],
            "--preset": ["--audio", str(track), "--preset", str(bad)],
            "--audio": ["--audio", str(bad)]}[option]  # fmt: skip
    process = _cli(*args, "--port", "0", "--weights", "random", "--device", "cpu")
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0], err


@pytest.mark.parametrize("kind", ["fifo", "device", "big", "nested"])
def test_a_preset_reloaded_or_a_scene_read_while_playing_is_checked_too(tmp_path, kind):
    """The preset file saved over while it plays, and a scene in --save-dir, are read the same
    way: the hostile file is refused with a note, the show keeps what it plays."""
    from visualizer.errors import PresetError
    from visualizer.live.control import LiveControl

    preset = tmp_path / "look.toml"
    preset.write_text('[classes]\nnames = ["tiger"]\n')
    control = LiveControl(str(preset), save_dir=tmp_path)
    before = control.preset
    preset.unlink()
    _hostile(tmp_path, kind, "look.toml")
    os.utime(preset, follow_symlinks=False)
    assert control.poll_file() is False and control.preset is before
    assert "look.toml" in control.messages[-1]
    _hostile(tmp_path, kind, "scene.toml")
    with pytest.raises(PresetError, match=f"preset file {tmp_path / 'scene.toml'}"):
        control.load("scene")
    assert control.preset is before


@pytest.mark.parametrize("kind", ["fifo", "device", "gone"])
def test_a_track_replaced_while_playing_is_a_404_not_a_stall(tmp_path, kind):
    """/track opens the file without waiting: the track replaced by a FIFO or a device, or
    removed, while the show runs is answered 404 at once, and the server goes on."""
    live, _ = live_session(tmp_path, seconds=2.0)
    live.start()
    try:
        track = live.source.track
        track.unlink()
        if kind != "gone":
            _hostile(tmp_path, kind, track.name)
        status, _, _ = _get(live.server.port, "/track", "127.0.0.1")
        assert status == 404
        assert _get(live.server.port, "/state", "127.0.0.1")[0] == 200
    finally:
        live.close()


def test_an_inbox_keeps_the_last_value_of_each_key_in_order_and_is_bounded():
    """Coalescing keeps what sequential application would end with: the newest value of a key,
    after whatever came between; uncoalesced messages (taps) fill the inbox to its bound and
    no further; the worker applies them in that order."""
    from visualizer.live.inbox import PENDING, ControlWorker

    applied: list[dict] = []
    worker = ControlWorker(lambda data, connection: applied.append(data))
    inbox = worker.open(lambda reply: None, None)
    for value in range(100):
        assert worker.post(inbox, {"type": "set", "key": "pulse.amount", "value": value / 100})
    assert worker.post(inbox, {"type": "preset", "name": "dreamy"})
    assert worker.post(inbox, {"type": "set", "key": "pulse.amount", "value": 0.5})
    taps = sum(worker.post(inbox, {"type": "tap"}) for _ in range(100))
    assert taps == PENDING - 2 and inbox.coalesced == 100
    assert worker.post(
        inbox, {"type": "set", "key": "pulse.amount", "value": 0.25}
    )  # room: same key
    worker.start()
    try:
        wait_until(lambda: len(applied) == PENDING, 10, "the inbox applied")
    finally:
        worker.stop()
    assert applied[0] == {"type": "preset", "name": "dreamy"}
    assert applied[-1] == {"type": "set", "key": "pulse.amount", "value": 0.25}
    assert [m["type"] for m in applied[1:-1]] == ["tap"] * (PENDING - 2)
