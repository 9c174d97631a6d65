"""HTTP + WebSocket server of live mode (the `websockets` library, asyncio, one port).

HTTP GET serves exactly these paths and nothing else (404): ``/`` (the control page),
``/projector`` (the output page: the picture alone, no sound, no controls), their scripts and
style, ``/track`` (the chosen audio file, with byte ranges so the <audio> element can seek),
``/state`` (JSON: engine stats, parameters, beat, clock), ``/cue.jpg`` (the next scene's
thumbnail), ``/osc.json`` and ``/osc`` (every OSC address accepted, with types and ranges).
Names are looked up in a fixed table, never joined to a filesystem path, so no request can
reach another file.

``/ws`` is the WebSocket. Server -> page: binary frame messages (the page sink,
`visualizer.live.sink_page`: one latest-frame slot per page, so a slow or stalled page never
queues frames nor slows the render loop) and JSON text messages (``state``, ``classes``,
``saved``, ``error``). Page -> server: JSON text messages, see `handle_message`. Malformed
messages are logged and answered with an error; they never close the connection nor stop the
show.

One clock per show: the first page that reports its player's position owns the clock, and only
its reports move the source (`Source.report`); the state names the owner (the page's own random
id), so every other page mutes its player and shows the picture only. The owner's going away
frees the clock for the next page that reports; a page can take it (``take_clock``).

Every request must name this machine by a loopback Host, the ``--host`` name or an
``--allow-host`` name (`visualizer.live.http.host_allowed`), so a web page reaching the port
through DNS rebinding is refused (403) on every path; the WebSocket also needs an Origin
matching the Host, so another web site cannot steer the show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from visualizer.errors import VisualizerError
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine
from visualizer.live.http import host_allowed, mime, ranged, response
from visualizer.live.osc_api import listing, listing_page
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
    "/projector": "projector.html",
    "/projector.js": "projector.js",
}
PAGE_ID = 64  # characters of a page's id at most
MAX_MESSAGE = 64 * 1024  # control messages are small; refuse anything bigger


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
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self.engine, self.control, self.source, self.page = engine, control, source, page
        self.host, self.port = host, port
        self.allowed_hosts = tuple(allowed_hosts)  # further Host names answered (--allow-host)
        self.clock_owner: str | None = None  # the id of the page whose player is the clock
        self._owner_connection: object | None = None
        self.ignored_clocks = 0  # clock reports from pages that do not own the clock
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
        if not host_allowed(host, self.host, self.allowed_hosts):
            # DNS rebinding: a web page on a name that resolves to 127.0.0.1 sends its own name
            log.warning(
                "refused a request for Host %r (allow a name with --allow-host)", host[:100]
            )
            return connection.respond(403, "foreign host (start the show with --allow-host NAME)\n")
        if path == "/ws":
            origin = request.headers.get("Origin")
            if origin is not None and origin.split("://", 1)[-1] != host:
                log.warning("refused a WebSocket from origin %s", origin[:100])
                return connection.respond(403, "foreign origin\n")
            return None
        if path in ASSETS:
            name = ASSETS[path]
            return response(200, (STATIC / name).read_bytes(), mime(name))
        if path == "/state":
            return response(200, json.dumps(self.state()).encode(), "application/json")
        if path == "/osc.json":
            return response(200, json.dumps(listing()).encode(), "application/json")
        if path == "/osc":
            return response(200, listing_page().encode(), "text/html; charset=utf-8")
        if path == "/cue.jpg" and self.engine.cue is not None:
            return response(200, self.engine.cue, "image/jpeg")
        if path == "/track" and self.source.track is not None:
            return ranged(self.source.track, request.headers.get("Range"))
        return connection.respond(404, "not found\n")

    def state(self) -> dict[str, Any]:
        stats = self.engine.stats
        clock = self.source.clock()
        cue = {"name": self.engine.cue_name, "version": self.engine.cue_version}
        return {
            **self.control.snapshot(),
            "stats": {**stats.__dict__},
            "clock": clock.seconds if clock is not None else None,
            "clock_owner": self.clock_owner,
            "fps": float(self.engine.fps),
            "track": self.source.track is not None,
            "bad_messages": self.bad_messages,
            "clients": len(self.page.pages),
            "midi": self.midi.snapshot() if self.midi is not None else None,
            "cue": cue if self.engine.cue is not None else None,
            "input": self.engine.calibration.snapshot(),
        }

    async def _push_state(self) -> None:
        """Send the state to every page when it changed from elsewhere (MIDI, OSC, a reload):
        the page's faders and lamps follow a knob within a tenth of a second."""
        seen = (self.control.version, self.engine.cue_version, self.clock_owner)
        while True:
            await asyncio.sleep(0.1)
            now = (self.control.version, self.engine.cue_version, self.clock_owner)
            if now == seen or not self.page.pages:
                continue
            seen = now
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
                reply = self.handle_message(message, connection)
                if reply is not None:
                    await connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            self.page.leave(page)
            sender.cancel()
            if self._owner_connection is connection:  # the clock is free for the next page
                self._owner_connection = self.clock_owner = None

    def handle_message(
        self, message: str | bytes, connection: object = None
    ) -> dict[str, Any] | None:
        """Apply one message from the page on ``connection``; returns the reply (or None).
        Never raises.

        ``{"type": "clock", "t": seconds, "playing": bool, "page": id}`` the player's position
        (taken from the page that owns the clock; the first to report owns it; without an id a
        connection is its own page), ``{"type":
        "take_clock", "page": id}``; ``{"type": "set", "key": "section.key", "value": v}``;
        ``{"type": "preset", "name": n, "fade": seconds, "quantize": q}`` a scene (fade and
        quantize optional); ``{"type": "tap"}``, ``{"type": "tap_clear"}``; ``{"type": "save",
        "name": n}``; ``{"type": "master", "name": m, "value": 0-2}``; ``{"type": "crossfade",
        "seconds": s}``; ``{"type": "action", "action": a, "quantize": q}`` one of
        `visualizer.live.control.ACTIONS`; ``{"type": "quantize", "value": q}``; ``{"type":
        "cycle", "bars": n, "mode": m}``; ``{"type": "tempo", "name": "source"|"bpm"|
        "beats_per_bar"|"latency_ms", "value": v}``; ``{"type": "input", "name": n, "value":
        v}`` the input calibration; ``{"type": "learn", "target": t}`` bind the next MIDI control
        or note to ``t`` (null cancels); ``{"type": "search", "text": s}`` -> ``{"type":
        "classes", "results": [[i, name]]}``; ``{"type": "state"}`` -> the state.
        """
        try:
            data = json.loads(message) if isinstance(message, str) else None
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                raise ValueError("expected a JSON object with a 'type'")
            if data["type"] in ("clock", "take_clock"):
                return self._clock(data, connection)
            return self._dispatch(data)
        except VisualizerError as error:
            self.control.note(str(error))
            return {"type": "error", "message": str(error)}
        except (ValueError, TypeError, KeyError, RecursionError) as error:
            self.bad_messages += 1
            text = message[:80] if isinstance(message, str) else f"{len(message)} binary bytes"
            log.warning("ignored a malformed page message (%s): %r", error, text)
            return {"type": "error", "message": f"malformed message ignored: {error}"}

    def _clock(self, data: dict[str, Any], connection: object) -> dict[str, Any] | None:
        """A page's player position, or a page taking the clock (see the module docstring)."""
        page = data.get("page") or f"connection-{id(connection)}"  # a client without an id
        if not isinstance(page, str) or len(page) > PAGE_ID:
            raise ValueError(f"a page id is 1-{PAGE_ID} characters, got {page!r}")
        if data["type"] == "clock":  # a malformed report is malformed from any page
            t = float(data["t"])
            if not 0 <= t < 1e7:
                raise ValueError(f"clock {t} out of range")
        if data["type"] == "take_clock" or self.clock_owner is None:
            self.clock_owner, self._owner_connection = page, connection
            if data["type"] == "take_clock":
                return {"type": "state", **self.state()}
        if page != self.clock_owner:
            self.ignored_clocks += 1  # a second page's player: the one clock is not moved
            return None
        self.source.report(t, bool(data.get("playing", True)))
        return None

    def _dispatch(self, data: dict[str, Any]) -> dict[str, Any] | None:
        kind = data["type"]
        if kind == "set":
            self.control.set(str(data["key"]), data["value"])
        elif kind == "preset":
            self.control.load(
                str(data["name"]), fade=data.get("fade"), quantize=data.get("quantize")
            )
        elif kind == "tap":
            self.control.tap()
        elif kind in ("master", "crossfade", "action", "learn"):
            self._perform(kind, data)
        elif kind in ("quantize", "cycle", "tempo", "input"):
            self._show(kind, data)
        elif kind == "tap_clear":
            self.control.beat.clear_taps()
            self.control.changed()
        elif kind == "save":
            path = self.control.save(str(data["name"]))
            return {"type": "saved", "path": str(path)}
        elif kind == "search":
            from visualizer.mapping.classes import search_classes

            results = search_classes(str(data["text"])[:100])
            return {"type": "classes", "results": [list(r) for r in results]}
        elif kind != "state":
            raise ValueError(f"unknown message type {kind!r}")
        return {"type": "state", **self.state()}

    def _perform(self, kind: str, data: dict[str, Any]) -> None:
        """The performing surface's messages (see `handle_message`)."""
        if kind == "master":
            self.control.set_master(str(data["name"]), data["value"])
        elif kind == "crossfade":
            self.control.set_crossfade(data["seconds"])
        elif kind == "action":
            self.control.perform(str(data["action"]), None, data.get("quantize"))
        elif self.midi is None:
            raise VisualizerError("MIDI is off: start live mode with --midi to learn controls")
        else:
            target = data.get("target")
            self.midi.learn(None if target is None else str(target))

    def _show(self, kind: str, data: dict[str, Any]) -> None:
        """The beat, launch and input settings (see `handle_message`)."""
        beat, value = self.control.beat, data.get("value")
        if kind == "quantize":
            self.control.set_quantize(value)
        elif kind == "cycle":
            self.control.set_cycle(data.get("bars"), data.get("mode"))
        elif kind == "input":
            self.engine.calibration.set(str(data["name"]), value)
        else:
            setters = {
                "source": beat.use,
                "bpm": beat.set_tempo,
                "beats_per_bar": beat.set_beats_per_bar,
                "latency_ms": beat.set_latency_ms,
            }
            name = data.get("name")
            if name not in setters:
                raise ValueError(f"unknown tempo setting {name!r} (valid: {', '.join(setters)})")
            setters[name](value)  # type: ignore[operator]
        self.control.changed()
