"""HTTP + WebSocket server of live mode (the `websockets` library, asyncio, one port).

HTTP GET serves exactly these paths and nothing else (404): ``/`` (the page), ``/app.js``,
``/style.css``, ``/track`` (the chosen audio file, with byte ranges so the <audio> element can
seek) and ``/state`` (JSON: engine stats, parameters, clock). Names are looked up in a fixed
table, never joined to a filesystem path, so no request can reach another file.

``/ws`` is the WebSocket. Server -> page: binary frame messages (the page sink,
`visualizer.live.sink_page`: one latest-frame slot per page, so a slow or stalled page never
queues frames nor slows the render loop) and JSON text messages (``state``, ``classes``,
``saved``, ``error``). Page -> server: JSON text messages, see `handle_message`; the page's
player position goes to the source (``report``). Malformed messages are logged and answered
with an error; they never close the connection nor stop the show.

Every request must name this machine by a loopback Host (127.0.0.1, localhost, [::1], or the
``--host`` name), so a web page reaching the port through DNS rebinding is refused (403) on
every path; the WebSocket also needs an Origin matching the Host, so another web site cannot
steer the show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import re
import threading
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from visualizer.errors import VisualizerError
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine
from visualizer.live.sink_page import PageSink
from visualizer.live.source import Source

log = logging.getLogger("visualizer")

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "/": "index.html",
    "/index.html": "index.html",
    "/app.js": "app.js",
    "/surface.js": "surface.js",
    "/style.css": "style.css",
}
MAX_MESSAGE = 64 * 1024  # control messages are small; refuse anything bigger
RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits: any file; int() stays cheap
TRACK_CHUNK = 1 << 20  # bytes of the track per /track response (bounded memory per client)


class LiveServer:
    """Serves the page and feeds it the ``page`` sink's frames. ``start()`` runs it in a thread
    and returns once the port is bound (``port=0`` picks a free one; see ``self.port``)."""

    def __init__(
        self,
        engine: LiveEngine,
        control: LiveControl,
        *,
        source: Source,
        page: PageSink,
        host: str = "127.0.0.1",
        port: int = 8765,
    ) -> None:
        self.engine, self.control, self.source, self.page = engine, control, source, page
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.bad_messages = 0  # malformed page messages seen (ignored)
        self.midi = None  # a `visualizer.live.midi.MidiInput` when --midi is on (learn, state)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise VisualizerError(f"cannot serve on {self.host}:{self.port}: {self._error}")

    def stop(self) -> None:
        """Stop serving; also safe after a failed start, whose loop is already closed."""
        if self._loop is not None and self._stopped is not None:
            with contextlib.suppress(RuntimeError):  # "Event loop is closed": nothing to stop
                self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by start()
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.page.bind(self._loop)
        self._stopped = asyncio.Event()
        async with serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            max_size=MAX_MESSAGE,
            compression=None,  # JPEG does not compress further; save the CPU
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            pusher = asyncio.create_task(self._push_state())
            await self._stopped.wait()
            pusher.cancel()

    # -- HTTP ------------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        host = request.headers.get("Host", "")
        if not host_allowed(host, self.host):
            # DNS rebinding: a web page on a name that resolves to 127.0.0.1 sends its own name
            log.warning("refused a request for Host %r", host[:100])
            return connection.respond(403, "foreign host\n")
        if path == "/ws":
            origin = request.headers.get("Origin")
            if origin is not None and origin.split("://", 1)[-1] != host:
                log.warning("refused a WebSocket from origin %s", origin[:100])
                return connection.respond(403, "foreign origin\n")
            return None
        if path in ASSETS:
            name = ASSETS[path]
            return _response(200, (STATIC / name).read_bytes(), _mime(name))
        if path == "/state":
            return _response(200, json.dumps(self.state()).encode(), "application/json")
        if path == "/track" and self.source.track is not None:
            return _ranged(self.source.track, request.headers.get("Range"))
        return connection.respond(404, "not found\n")

    def state(self) -> dict[str, Any]:
        stats = self.engine.stats
        clock = self.source.clock()
        return {
            **self.control.snapshot(),
            "stats": {**stats.__dict__},
            "clock": clock.seconds if clock is not None else None,
            "fps": float(self.engine.fps),
            "track": self.source.track is not None,
            "bad_messages": self.bad_messages,
            "clients": len(self.page.pages),
            "midi": self.midi.snapshot() if self.midi is not None else None,
        }

    async def _push_state(self) -> None:
        """Send the state to every page when it changed from elsewhere (MIDI, OSC, a reload):
        the page's faders and lamps follow a knob within a tenth of a second."""
        seen = self.control.version
        while True:
            await asyncio.sleep(0.1)
            if self.control.version == seen or not self.page.pages:
                continue
            seen = self.control.version
            text = json.dumps({"type": "state", **self.state()})
            for page in list(self.page.pages):
                with contextlib.suppress(ConnectionClosed):
                    await page.connection.send(text)

    # -- WebSocket -------------------------------------------------------------------------
    async def _handle(self, connection: ServerConnection) -> None:
        page = self.page.join(connection)
        sender = asyncio.create_task(self.page.feed(page))
        try:
            await connection.send(json.dumps({"type": "state", **self.state()}))
            async for message in connection:
                reply = self.handle_message(message)
                if reply is not None:
                    await connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            self.page.leave(page)
            sender.cancel()

    def handle_message(self, message: str | bytes) -> dict[str, Any] | None:
        """Apply one page message; returns the reply (or None). Never raises.

        ``{"type": "clock", "t": seconds, "playing": bool}`` the <audio> position;
        ``{"type": "set", "key": "section.key", "value": v}``; ``{"type": "preset", "name": n}``;
        ``{"type": "tap"}``, ``{"type": "tap_clear"}``; ``{"type": "save", "name": n}``;
        ``{"type": "preset", "name": n, "fade": seconds}`` a scene with its own crossfade;
        ``{"type": "master", "name": m, "value": 0-2}``; ``{"type": "crossfade", "seconds": s}``;
        ``{"type": "action", "action": a}`` one of `visualizer.live.control.ACTIONS`;
        ``{"type": "learn", "target": t}`` bind the next MIDI control or note to ``t`` (a key,
        ``master.NAME`` or an action), ``{"type": "learn", "target": null}`` cancels;
        ``{"type": "search", "text": s}`` -> ``{"type": "classes", "results": [[i, name]]}``;
        ``{"type": "state"}`` -> the state.
        """
        try:
            data = json.loads(message) if isinstance(message, str) else None
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                raise ValueError("expected a JSON object with a 'type'")
            return self._dispatch(data)
        except VisualizerError as error:
            self.control.note(str(error))
            return {"type": "error", "message": str(error)}
        except (ValueError, TypeError, KeyError, RecursionError) as error:
            self.bad_messages += 1
            text = message[:80] if isinstance(message, str) else f"{len(message)} binary bytes"
            log.warning("ignored a malformed page message (%s): %r", error, text)
            return {"type": "error", "message": f"malformed message ignored: {error}"}

    def _dispatch(self, data: dict[str, Any]) -> dict[str, Any] | None:
        kind = data["type"]
        if kind == "clock":
            t = float(data["t"])
            if not 0 <= t < 1e7:
                raise ValueError(f"clock {t} out of range")
            self.source.report(t, bool(data.get("playing", True)))
            return None
        if kind == "set":
            self.control.set(str(data["key"]), data["value"])
            return {"type": "state", **self.state()}
        if kind == "preset":
            self.control.load(str(data["name"]), fade=data.get("fade"))
            return {"type": "state", **self.state()}
        if kind == "tap":
            self.control.tap(self.now())
            return {"type": "state", **self.state()}
        if kind in ("master", "crossfade", "action", "learn"):
            self._perform(kind, data)
            return {"type": "state", **self.state()}
        if kind == "tap_clear":
            self.control.tap_tempo.clear()
            return {"type": "state", **self.state()}
        if kind == "save":
            path = self.control.save(str(data["name"]))
            return {"type": "saved", "path": str(path)}
        if kind == "search":
            from visualizer.mapping.classes import search_classes

            results = search_classes(str(data["text"])[:100])
            return {"type": "classes", "results": [list(r) for r in results]}
        if kind == "state":
            return {"type": "state", **self.state()}
        raise ValueError(f"unknown message type {kind!r}")

    def _perform(self, kind: str, data: dict[str, Any]) -> None:
        """The performing surface's messages (see `handle_message`)."""
        if kind == "master":
            self.control.set_master(str(data["name"]), data["value"])
        elif kind == "crossfade":
            self.control.set_crossfade(data["seconds"])
        elif kind == "action":
            self.control.perform(str(data["action"]), self.now())
        elif self.midi is None:
            raise VisualizerError("MIDI is off: start live mode with --midi to learn controls")
        else:
            target = data.get("target")
            self.midi.learn(None if target is None else str(target))

    def now(self) -> float:
        """The source's clock in seconds (before it starts: the newest mapped frame's time)."""
        clock = self.source.clock()
        return (
            clock.seconds if clock is not None else self.engine.stats.frame / float(self.engine.fps)
        )


def _mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _response(status: int, body: bytes, mime: str, extra: dict[str, str] | None = None) -> Response:
    reason = {200: "OK", 206: "Partial Content", 416: "Range Not Satisfiable"}.get(status, "OK")
    headers = Headers(
        {
            "Content-Type": mime,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **(extra or {}),
        }
    )
    return Response(status, reason, headers, body)


def host_allowed(host: str, bound: str) -> bool:
    """True for a Host header naming this machine by a loopback name (127.0.0.1, localhost,
    [::1]) or by the name the server was bound to (``--host``), with any port."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8765
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    allowed = {"127.0.0.1", "localhost", "::1", bound.strip("[]").lower()} - {"", "0.0.0.0", "::"}
    return name in allowed


def _ranged(path: Path, header: str | None) -> Response:
    """The track, whole or one byte range (what <audio> asks for when it seeks).

    At most TRACK_CHUNK bytes are read per request, from the file, never the whole file: a
    range reaching further is answered with its first TRACK_CHUNK bytes (206, as HTTP allows),
    and the player asks for the rest. Memory stays bounded however many pages stall.
    """
    mime = _mime(path.name)
    size = path.stat().st_size
    match = RANGE.match(header.strip()) if header else None
    if not match or not (match.group(1) or match.group(2)):
        if size <= TRACK_CHUNK:
            return _response(200, path.read_bytes(), mime, {"Accept-Ranges": "bytes"})
        match = RANGE.match("bytes=0-")  # a big file comes in ranges, whatever was asked
    assert match is not None
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # suffix range: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        return _response(416, b"", mime, {"Content-Range": f"bytes */{size}"})
    end = min(end, start + TRACK_CHUNK - 1)
    with path.open("rb") as file:
        file.seek(start)
        data = file.read(end - start + 1)
    extra = {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"}
    return _response(206, data, mime, extra)
