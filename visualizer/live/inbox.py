"""Page messages off the frame path: each page's control messages wait in its own `Inbox`, and
one `ControlWorker` thread applies them, so no page can hold the server's event loop.

The event loop (frames to every page, /state, the WebSocket handshakes) only reads and parses a
page's messages, at most `READ_RATE` a second per page: beyond that it stops reading that socket
for a while, and TCP holds the sender back. Parsed messages wait in the page's inbox:

- coalesced per key: a newer ``set`` of the same key, ``master`` of the same fader, ``state``
  request, ... replaces the one still waiting (and moves behind what came in between), so a
  fader dragged faster than the show can apply it costs one change, the last;
- bounded: at most `PENDING` distinct messages wait per page; while the inbox is full the loop
  stops reading that page (nothing is dropped, nothing grows);
- rate-limited: the worker applies at most `APPLY_RATE` messages a second per page on average
  (bursts of `APPLY_BURST`), taking from the pages in turn.

A page that floods thus slows only its own messages; the frames and the other pages go on.
`parse_message` says what a page message is (a JSON object with a string ``type``).
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable
from typing import Any

READ_RATE = 200.0  # messages read per second per page (the page sends ~10 clock reports a second)
READ_BURST = 200
APPLY_RATE = 30.0  # messages applied per second per page, on average
APPLY_BURST = 60
PENDING = 32  # distinct messages waiting per page
# message type -> the field that makes two messages of that type the same key (None: the type)
COALESCED: dict[str, str | None] = {
    "set": "key", "master": "name", "input": "name", "tempo": "name", "save": "name",
    "state": None, "search": None, "preset": None, "crossfade": None, "quantize": None,
    "cycle": None, "learn": None,
}  # fmt: skip


def parse_message(message: str | bytes) -> dict[str, Any]:
    """A page message as a dict with a string ``type``; ValueError otherwise."""
    try:
        data = json.loads(message) if isinstance(message, str) else None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("expected a JSON object with a 'type'")
    return data


def shown(data: object) -> str:
    """A parsed message as JSON text (for a log line)."""
    try:
        return json.dumps(data)
    except (ValueError, TypeError, RecursionError):
        return "a message"


def coalescing_key(data: dict[str, Any]) -> tuple[str, str] | None:
    """The key under which ``data`` replaces an older waiting message, or None (a tap, an
    action: each one counts)."""
    kind = data["type"]
    if kind not in COALESCED:
        return None
    field = COALESCED[kind]
    return (kind, "" if field is None else repr(data.get(field))[:200])


class Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` held."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self.tokens, self._at = float(burst), clock()

    def wait(self) -> float:
        """Seconds until a token is there (0: one is)."""
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
        self._at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> bool:
        """Take a token if one is there."""
        if self.wait() > 0:
            return False
        self.tokens -= 1
        return True


class Inbox:
    """One page's waiting messages (see the module docstring). ``reply`` is called on the
    worker's thread with each reply (a dict) to send to the page."""

    def __init__(self, reply: Callable[[dict[str, Any]], None], connection: object) -> None:
        self.reply, self.connection = reply, connection
        self.pending: collections.OrderedDict[object, dict[str, Any]] = collections.OrderedDict()
        self.reading = Bucket(READ_RATE, READ_BURST)  # the event loop's reads of this page
        self.applying = Bucket(APPLY_RATE, APPLY_BURST)
        self.coalesced = 0  # messages replaced by a newer one before they were applied

    def full(self) -> bool:
        return len(self.pending) >= PENDING

    def put(self, data: dict[str, Any]) -> None:
        key = coalescing_key(data) or object()
        if key in self.pending:
            self.coalesced += 1
            del self.pending[key]  # behind whatever came in between, as if sent last
        self.pending[key] = data


class ControlWorker:
    """The thread that applies the pages' messages: ``apply(data, connection)`` returns the
    reply (or None) and never raises."""

    def __init__(self, apply: Callable[[dict[str, Any], object], dict[str, Any] | None]) -> None:
        self._apply = apply
        self._inboxes: list[Inbox] = []
        self._turn = 0  # the page served next, round-robin
        self._ready = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="live-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def open(self, reply: Callable[[dict[str, Any]], None], connection: object) -> Inbox:
        inbox = Inbox(reply, connection)
        with self._ready:
            self._inboxes.append(inbox)
        return inbox

    def close(self, inbox: Inbox) -> None:
        with self._ready:
            self._inboxes.remove(inbox)

    def post(self, inbox: Inbox, data: dict[str, Any]) -> bool:
        """Queue ``data`` in ``inbox``; False (nothing queued) while it is full."""
        with self._ready:
            if inbox.full() and coalescing_key(data) not in inbox.pending:
                return False
            inbox.put(data)
            self._ready.notify()
        return True

    def pending(self) -> int:
        with self._ready:
            return sum(len(inbox.pending) for inbox in self._inboxes)

    def _next(self) -> tuple[Inbox | None, float | None]:
        """The next page whose message may be applied now, else how long to wait (None: until
        a message comes)."""
        wait = None
        count = len(self._inboxes)
        for step in range(count):
            inbox = self._inboxes[(self._turn + step) % count]
            if not inbox.pending:
                continue
            if inbox.applying.take():
                self._turn = (self._turn + step + 1) % count
                return inbox, None
            wait = min(wait or 1.0, inbox.applying.wait())
        return None, wait

    def _run(self) -> None:
        while True:
            with self._ready:
                inbox, wait = self._next()
                while inbox is None and not self._stopped:
                    self._ready.wait(wait)
                    inbox, wait = self._next()
                if self._stopped:
                    return
                assert inbox is not None
                _, data = inbox.pending.popitem(last=False)
            reply = self._apply(data, inbox.connection)
            if reply is not None:
                inbox.reply(reply)
