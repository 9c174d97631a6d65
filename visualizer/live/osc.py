"""OSC input (python-osc, UDP): steer the show from a VJ setup.

The addresses, their arguments, types and ranges are listed in one table,
`visualizer.live.osc_api.ADDRESSES` (served at ``/osc.json`` and ``/osc``); each is handled by
the method named after it (``/visualizer/tempo/bpm`` -> ``_on_tempo_bpm``), and only listed
addresses are mapped. E.g. ``/visualizer/set pulse.amount 0.8``, ``/visualizer/preset dreamy
bar``, ``/visualizer/action cue``, ``/visualizer/tempo/bpm 128``.

Anything else, wrong argument counts, types or ranges and refused values are logged with one line
(what the address takes) and ignored: a stray packet never stops the show. A message whose type
tags name more arguments than it carries (``,sf`` with no float, which python-osc would read as
0.0) is refused and logged; datagrams over `MAX_DATAGRAM` bytes, and those whose address or
text is not UTF-8, are refused, logged the first time; anything else python-osc cannot read is
ignored with one line, never a traceback. The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from visualizer.errors import VisualizerError
from visualizer.live.calibrate import InputCalibration
from visualizer.live.control import LiveControl
from visualizer.live.osc_api import ADDRESSES, PREFIX, Address, check_arguments

log = logging.getLogger("visualizer")
MAX_DATAGRAM = 8192  # bytes: python-osc's receive size; larger ones were cut and lost silently
NOT_TEXT = "is not UTF-8 text"
_FIXED_SIZES = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8}


def _padded_string(data: bytes, start: int) -> int | None:
    """The offset after the NUL-terminated, 4-byte padded OSC string at ``start``, or None."""
    end = data.find(b"\0", start)
    return None if end < 0 else (end // 4 + 1) * 4


def _text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def datagram_problem(data: bytes) -> str | None:
    """Why an OSC message datagram cannot be read as its type tags say, or None: its address or
    a text argument is not UTF-8 (`NOT_TEXT`), or it carries fewer arguments than its type tags
    name (bundles and garbage are left to python-osc, which drops what it cannot parse)."""
    if not data.startswith(b"/"):
        return None
    offset = _padded_string(data, 0)
    if offset is not None and not _text(data[: data.find(b"\0")]):
        return f"its address {NOT_TEXT}"
    if offset is None or offset >= len(data) or data[offset : offset + 1] != b",":
        return None
    tags_end = _padded_string(data, offset)
    if tags_end is None:
        return "its type tags are not terminated"
    tags = data[offset + 1 : data.find(b"\0", offset)].decode("ascii", "replace")
    for index, tag in enumerate(tags):
        start = tags_end
        if tag in _FIXED_SIZES:
            tags_end += _FIXED_SIZES[tag]
        elif tag in "sS":
            tags_end = _padded_string(data, tags_end) if tags_end < len(data) else None
            if tags_end is not None and not _text(data[start : data.find(b"\0", start)]):
                return f"argument {index + 1} {NOT_TEXT}"
        elif tag == "b":
            size = int.from_bytes(data[tags_end : tags_end + 4], "big", signed=False)
            tags_end = tags_end + 4 + (size + 3) // 4 * 4 if tags_end + 4 <= len(data) else None
        if tags_end is None or tags_end > len(data):
            return f"argument {index + 1} (type '{tag}') is missing: the datagram ends early"
    return None


class OscInput:
    """UDP OSC server in a daemon thread; ``now()`` gives the time of a tap (monotonic),
    ``calibration`` the input calibration ``/visualizer/input`` sets (None: refused)."""

    def __init__(
        self,
        control: LiveControl,
        *,
        host: str = "127.0.0.1",
        port: int = 9000,
        now: Callable[[], float] = time.monotonic,
        calibration: InputCalibration | None = None,
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

            def handle_error(self, request, client_address) -> None:
                inputs._unreadable(request[0])  # what python-osc could not parse: no traceback

        self.control, self.now = control, now
        self.received = 0  # messages applied
        self.ignored = 0  # messages refused (unknown address, bad arguments, bad values)
        self._told: set[str] = set()  # the floods already logged once
        self.calibration = calibration
        self.dispatcher = dispatcher = Dispatcher()
        for address in ADDRESSES:  # only listed addresses: the listing is the whole API
            dispatcher.map(address.path, self._guard(address, handler_of(self, address)))
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
        """False (logged) for a datagram over `MAX_DATAGRAM`, one missing arguments or one whose
        text is not UTF-8."""
        if len(data) > MAX_DATAGRAM:
            self._refuse(
                "oversized",
                f"ignored an OSC datagram of {len(data)} bytes (at most {MAX_DATAGRAM}); larger "
                "ones are ignored without a further warning",
            )
            return False
        problem = datagram_problem(data)
        if problem is not None:
            address = _shown(data[: data.find(b"\0")])
            if NOT_TEXT in problem:  # once: a flood must not flood the log too
                self._refuse(
                    "text",
                    f"ignored OSC {address}: {problem}; datagrams with text that is not UTF-8 "
                    "are ignored without a further warning",
                )
            else:
                self._refuse("", f"ignored OSC {address}: {problem}")
            return False
        return True

    def _refuse(self, once: str, message: str) -> None:
        """Count an ignored datagram and log ``message``: every time, or (``once`` names the
        kind) the first time only. Logged before counted: a count seen means its line is there."""
        if not once or once not in self._told:
            self._told.add(once)
            log.warning("%s", message)
        self.ignored += 1

    def _unreadable(self, data: bytes) -> None:
        error = sys.exc_info()[1]
        why = f"{type(error).__name__}: {error}"
        self._refuse(
            "unreadable",
            f"ignored an OSC datagram that cannot be read ({why}) starting {_shown(data[:40])}; "
            "such datagrams are ignored without a further warning",
        )

    def _guard(self, address: Address, handler: Callable[..., None]) -> Callable[..., None]:
        def wrapped(path: str, *args: object) -> None:
            try:
                handler(*check_arguments(address, args))
                self.received += 1
            except (VisualizerError, ValueError, TypeError) as error:
                log.warning("ignored OSC %s %s: %s", path, list(args)[:4], error)
                self.ignored += 1  # after the line (`_refuse`)

        return wrapped

    def _unknown(self, address: str, *args: object) -> None:
        shown = _shown(address.encode("utf-8", "replace"))
        log.warning("ignored OSC message to unknown address %s (see /osc for the list)", shown)
        self.ignored += 1  # after the line (`_refuse`)

    # -- one handler per listed address (arguments already checked) ------------------------
    def _on_set(self, key: str, *values: object) -> None:
        value = values[0] if len(values) == 1 else ",".join(str(v) for v in values)
        self.control.set(key, value)

    def _on_preset(self, name: str, quantize: str | None = None) -> None:
        self.control.load(name, quantize=quantize)

    def _on_tap(self) -> None:
        self.control.tap(self.now())

    def _on_action(self, name: str, quantize: str | None = None) -> None:
        self.control.perform(name, self.now(), quantize)

    def _on_master(self, name: str, value: float) -> None:
        self.control.set_master(name, value)

    def _on_crossfade(self, seconds: float) -> None:
        self.control.set_crossfade(seconds)

    def _on_quantize(self, quantize: str) -> None:
        self.control.set_quantize(quantize)

    def _on_cycle(self, bars: int, mode: str | None = None) -> None:
        self.control.set_cycle(bars, mode)

    def _on_tempo_source(self, name: str) -> None:
        self.control.beat.use(name)
        self.control.changed()

    def _on_tempo_bpm(self, bpm: float) -> None:
        self.control.beat.set_tempo(bpm)
        self.control.changed()

    def _on_tempo_beats_per_bar(self, beats: int) -> None:
        self.control.beat.set_beats_per_bar(beats)
        self.control.changed()

    def _on_tempo_latency(self, ms: float) -> None:
        self.control.beat.set_latency_ms(ms)
        self.control.changed()

    def _on_input(self, name: str, value: float) -> None:
        if self.calibration is None:
            raise VisualizerError("input calibration is not available in this show")
        self.calibration.set(name, value)
        self.control.changed()


def _shown(data: bytes) -> str:
    """Bytes of a datagram as printable text: anything but printable ASCII as ``\\xNN``."""
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in data[:80])


def handler_of(osc: OscInput, address: Address) -> Callable[..., None]:
    """The method of ``osc`` that handles ``address`` (``/visualizer/a/b`` -> ``_on_a_b``)."""
    name = "_on_" + address.path[len(PREFIX) + 1 :].replace("/", "_")
    return getattr(osc, name)
