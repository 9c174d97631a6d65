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
never stops the show. The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from visualizer.errors import VisualizerError
from visualizer.live.control import LiveControl

log = logging.getLogger("visualizer")


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

        self.control, self.now = control, now
        self.received = 0  # messages applied
        self.ignored = 0  # messages refused (unknown address, bad arguments, bad values)
        dispatcher = Dispatcher()
        dispatcher.map("/visualizer/set", self._guard(self._set))
        dispatcher.map("/visualizer/preset", self._guard(self._preset))
        dispatcher.map("/visualizer/tap", self._guard(self._tap))
        dispatcher.map("/visualizer/action", self._guard(self._action))
        dispatcher.map("/visualizer/master", self._guard(self._master))
        dispatcher.set_default_handler(self._unknown)
        try:
            self._server = ThreadingOSCUDPServer((host, port), dispatcher)
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
