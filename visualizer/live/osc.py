"""OSC input (python-osc, UDP): steer the show from a VJ setup.

Addresses:

- ``/visualizer/set <section.key> <value>``  e.g. ``/visualizer/set pulse.strength 0.8``
  (a list value may be given as more arguments or one "a,b" string)
- ``/visualizer/preset <name>``              a built-in preset or one saved in the save folder
- ``/visualizer/tap``                        one tap of tap tempo
- ``/visualizer/action <name>``              freeze, blackout, next_scene, next_palette, ...
  (`visualizer.live.control.ACTIONS`)
- ``/visualizer/master <name> <0-2>``        a master fader: reactivity, motion, truncation

Anything else, wrong argument counts or refused values are logged and ignored: a stray packet
never stops the show. A message whose type tags name more arguments than it carries (``,sf``
with no float, which python-osc would read as 0.0) is refused and logged; datagrams over
`MAX_DATAGRAM` bytes are refused, logged the first time. The server binds 127.0.0.1 unless told
otherwise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from visualizer.errors import VisualizerError
from visualizer.live.control import LiveControl

log = logging.getLogger("visualizer")
MAX_DATAGRAM = 8192  # bytes: python-osc's receive size; larger ones were cut and lost silently
_FIXED_SIZES = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8}


def _padded_string(data: bytes, start: int) -> int | None:
    """The offset after the NUL-terminated, 4-byte padded OSC string at ``start``, or None."""
    end = data.find(b"\0", start)
    return None if end < 0 else (end // 4 + 1) * 4


def missing_argument(data: bytes) -> str | None:
    """Why an OSC message datagram carries fewer arguments than its type tags name, or None
    (bundles and garbage are left to python-osc, which drops what it cannot parse)."""
    if not data.startswith(b"/"):
        return None
    offset = _padded_string(data, 0)
    if offset is None or offset >= len(data) or data[offset : offset + 1] != b",":
        return None
    tags_end = _padded_string(data, offset)
    if tags_end is None:
        return "its type tags are not terminated"
    tags = data[offset + 1 : data.find(b"\0", offset)].decode("ascii", "replace")
    for index, tag in enumerate(tags):
        if tag in _FIXED_SIZES:
            tags_end += _FIXED_SIZES[tag]
        elif tag in "sS":
            tags_end = _padded_string(data, tags_end) if tags_end < len(data) else None
        elif tag == "b":
            size = int.from_bytes(data[tags_end : tags_end + 4], "big", signed=False)
            tags_end = tags_end + 4 + (size + 3) // 4 * 4 if tags_end + 4 <= len(data) else None
        if tags_end is None or tags_end > len(data):
            return f"argument {index + 1} (type '{tag}') is missing: the datagram ends early"
    return None


class OscInput:
    """UDP OSC server in a daemon thread; ``now()`` gives the audio clock for taps."""

    def __init__(
        self,
        control: LiveControl,
        *,
        host: str = "127.0.0.1",
        port: int = 9000,
        now: Callable[[], float] = lambda: 0.0,
    ) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import ThreadingOSCUDPServer

        inputs = self

        class CheckedServer(ThreadingOSCUDPServer):
            max_packet_size = 65536  # receive whole: an oversized datagram is seen, not cut

            def verify_request(self, request, client_address) -> bool:
                return inputs._accept(request[0]) and super().verify_request(
                    request, client_address
                )

        self.control, self.now = control, now
        self.received = 0  # messages applied
        self.ignored = 0  # messages refused (unknown address, bad arguments, bad values)
        self._told_oversized = False
        dispatcher = Dispatcher()
        dispatcher.map("/visualizer/set", self._guard(self._set))
        dispatcher.map("/visualizer/preset", self._guard(self._preset))
        dispatcher.map("/visualizer/tap", self._guard(self._tap))
        dispatcher.map("/visualizer/action", self._guard(self._action))
        dispatcher.map("/visualizer/master", self._guard(self._master))
        dispatcher.set_default_handler(self._unknown)
        try:
            self._server = CheckedServer((host, port), dispatcher)
        except OSError as error:
            raise VisualizerError(f"cannot listen for OSC on {host}:{port}: {error}") from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="live-osc", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _accept(self, data: bytes) -> bool:
        """False (logged) for a datagram over `MAX_DATAGRAM` or one missing arguments."""
        if len(data) > MAX_DATAGRAM:
            self.ignored += 1
            if not self._told_oversized:  # once: a flood must not flood the log too
                self._told_oversized = True
                log.warning(
                    "ignored an OSC datagram of %d bytes (at most %d); larger ones are ignored "
                    "without a further warning",
                    len(data),
                    MAX_DATAGRAM,
                )
            return False
        problem = missing_argument(data)
        if problem is not None:
            self.ignored += 1
            address = data[: data.find(b"\0")].decode("ascii", "replace")[:80]
            log.warning("ignored OSC %s: %s", address, problem)
            return False
        return True

    def _guard(self, handler: Callable[..., None]) -> Callable[..., None]:
        def wrapped(address: str, *args: object) -> None:
            try:
                handler(*args)
                self.received += 1
            except (VisualizerError, ValueError, TypeError) as error:
                self.ignored += 1
                log.warning("ignored OSC %s %s: %s", address, list(args)[:4], error)

        return wrapped

    def _unknown(self, address: str, *args: object) -> None:
        self.ignored += 1
        log.warning("ignored OSC message to unknown address %s", address)

    def _set(self, *args: object) -> None:
        if len(args) < 2 or not isinstance(args[0], str):
            raise ValueError("expected /visualizer/set <section.key> <value>")
        value = args[1] if len(args) == 2 else ",".join(str(a) for a in args[1:])
        self.control.set(args[0], value)

    def _preset(self, *args: object) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            raise ValueError("expected /visualizer/preset <name>")
        self.control.load(args[0])

    def _tap(self, *args: object) -> None:
        self.control.tap(self.now())

    def _action(self, *args: object) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            raise ValueError("expected /visualizer/action <name>")
        self.control.perform(args[0], self.now())

    def _master(self, *args: object) -> None:
        if len(args) != 2 or not isinstance(args[0], str):
            raise ValueError("expected /visualizer/master <name> <0-2>")
        self.control.set_master(args[0], args[1])
