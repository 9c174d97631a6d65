"""The live server against a hostile web page (DNS rebinding: a page on a name that resolves to
127.0.0.1 sends its own Host and Origin) and against greedy or malformed requests, through a
real socket to a real server."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from tests.live_fixtures import live_session
from visualizer.live.http import TRACK_CHUNK, host_allowed

TRACK_SECONDS = 55.0  # a 2.4 MB wav (22050 Hz mono 16-bit): more than two TRACK_CHUNKs


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    live, _ = live_session(folder, seconds=TRACK_SECONDS, seed=1)
    live.start()
    yield live
    live.close()


def _raw(port: int, request: str) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; (status, headers, body) of the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
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
