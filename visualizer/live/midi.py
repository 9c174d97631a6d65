"""MIDI input (mido over python-rtmidi): knobs, faders and pads play the show.

``visualizer live --midi [PORT]`` opens an input port (the first one, or the first whose name
contains PORT; ``virtual`` creates a port named "visualizer" that other software connects to).
Every message goes through `MidiInput.handle`, the port's callback: control changes set values,
notes fire actions, as the `visualizer.live.midi_map.MidiMap` says. Learn mode binds: the page
arms a target, the next control or note that moves is bound to it and the map is saved.

mido and python-rtmidi are imported only here (the ``live`` extra). On Linux rtmidi talks to the
ALSA sequencer (/dev/snd/seq); where it is missing, opening a port is a LiveIOError that says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visualizer.errors import LiveIOError, MidiMapError, VisualizerError
from visualizer.live.control import LiveControl
from visualizer.live.midi_map import (
    SCENE_PREFIX,
    Binding,
    MidiMap,
    check_target,
    control_value,
    is_action,
)
from visualizer.live.params import parameter_specs

log = logging.getLogger("visualizer")

VIRTUAL = "virtual"  # --midi virtual: a port other software connects to
VIRTUAL_NAME = "visualizer"


def load_mido():
    try:
        import mido
    except ImportError as error:
        raise LiveIOError(
            f"MIDI needs mido and python-rtmidi (pip install 'visualizer[live]'): {error}"
        ) from None
    return mido


def backend_error(error: BaseException) -> LiveIOError:
    return LiveIOError(
        f"cannot use MIDI here: {error} (Linux needs the ALSA sequencer, /dev/snd/seq: "
        "load snd-seq, or run where the controller is plugged in)"
    )


def list_ports(direction: str = "input") -> list[str]:
    """Names of the MIDI input (or "output") ports, or a LiveIOError when MIDI cannot run here."""
    mido = load_mido()
    try:
        names = mido.get_input_names() if direction == "input" else mido.get_output_names()
        return list(names)
    except Exception as error:  # rtmidi raises its own SystemError subclasses
        raise backend_error(error) from None


def open_port(direction: str, wanted: str, callback: Callable[[Any], None] | None = None) -> Any:
    """An open mido port: ``direction`` "input" (its messages go to ``callback``, on rtmidi's
    thread) or "output". ``wanted`` picks it as ``--midi`` does: "" the first port, a part of a
    name, or "virtual" (a port named "visualizer" that other software connects to)."""
    mido = load_mido()
    try:
        if direction == "input":
            if wanted == VIRTUAL:
                return mido.open_input(VIRTUAL_NAME, virtual=True, callback=callback)
            return mido.open_input(choose_port(wanted, list_ports()), callback=callback)
        if wanted == VIRTUAL:
            return mido.open_output(VIRTUAL_NAME, virtual=True)
        return mido.open_output(choose_port(wanted, list_ports("output"), "output"))
    except VisualizerError:
        raise
    except Exception as error:  # rtmidi raises its own SystemError subclasses
        raise backend_error(error) from None


def choose_port(wanted: str, names: list[str], direction: str = "input") -> str:
    """The first port whose name contains ``wanted`` (any case; "" = the first port)."""
    for name in names:
        if wanted.lower() in name.lower():
            return name
    available = ", ".join(repr(n) for n in names) or "none"
    raise LiveIOError(f"no MIDI {direction} port matches {wanted!r} (available: {available})")


class MidiInput:
    """Applies MIDI messages to ``control``. ``now()`` is the time of a tap (monotonic);
    ``map_path`` is where learn mode saves the map (None: learning does not save)."""

    def __init__(
        self,
        control: LiveControl,
        *,
        midi_map: MidiMap | None = None,
        map_path: Path | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.control, self.now = control, now
        self.map = midi_map or MidiMap()
        self.map_path = Path(map_path) if map_path else None
        self.port_name: str | None = None
        self.received = 0  # messages that changed something
        self.ignored = 0  # unbound, refused or malformed messages
        self.learned: Binding | None = None  # the last binding learn mode made
        self._learning: str | None = None
        self._last_cc: dict[tuple[int, int], int] = {}  # for buttons that send CC
        self._last_error = ""
        self._lock = threading.Lock()
        self._port: Any = None  # a mido input port once open

    # -- ports -----------------------------------------------------------------------------
    def open(self, wanted: str = "") -> str:
        """Open an input port (see the module docstring); returns its name."""
        self._port = open_port("input", wanted, self.handle)
        self.port_name = self._port.name
        return self.port_name

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    # -- learn -----------------------------------------------------------------------------
    def learn(self, target: str | None) -> None:
        """Bind the next control (or note) that moves to ``target``; None cancels."""
        with self._lock:
            if target is None:
                self._learning = None
                return
            check_target("control", target)
            self._check_settable(target)
            self._learning = target

    def _check_settable(self, target: str) -> None:
        """A preset key a knob can set (a number, switch or choice of the current scene)."""
        if is_action(target) or target == "crossfade" or target.startswith("master."):
            return
        spec = next((s for s in parameter_specs(self.control.base) if s["key"] == target), None)
        if spec is None or spec["kind"] not in ("number", "integer", "bool", "choice"):
            raise MidiMapError(
                f"a MIDI control cannot set {target!r}: bind a number, switch or choice key"
            )

    def snapshot(self) -> dict[str, Any]:
        """For the page: the port, what learn waits for, the bindings and the counters."""
        with self._lock:
            return {
                "port": self.port_name,
                "learning": self._learning,
                "learned": _describe(self.learned) if self.learned else None,
                "bindings": [_describe(b) for b in self.map.bindings.values()],
                "map": str(self.map_path) if self.map_path else None,
                "received": self.received,
                "ignored": self.ignored,
            }

    # -- messages --------------------------------------------------------------------------
    def handle(self, message) -> None:
        """Apply one mido message (the port's callback; never raises)."""
        try:
            applied = self._handle(message)
        except VisualizerError as error:
            self.ignored += 1
            if str(error) != self._last_error:  # a knob sweeping a bad binding says it once
                self._last_error = str(error)
                self.control.note(f"MIDI {message}: {error}")
            return
        except Exception:  # a broken message must not stop the port's thread
            self.ignored += 1
            log.exception("MIDI message %s", message)
            return
        if applied:
            self.received += 1
        else:
            self.ignored += 1

    def _handle(self, message) -> bool:
        kind = _kind(message)
        if kind is None:
            return False
        channel, number = message.channel + 1, _number(message)
        if self._take_learning(kind, channel, number):
            return True
        binding = self.map.find(kind, channel, number)
        if binding is None:
            return False
        if kind == "note":
            self._fire(binding)
            return True
        value = int(message.value)
        previous = self._last_cc.get((channel, number), 0)
        self._last_cc[(channel, number)] = value
        if is_action(binding.target):
            if value >= 64 > previous:  # a button sending CC: fire on the press only
                self._fire(binding)
            return True
        self._set(binding, value)
        return True

    def _take_learning(self, kind: str, channel: int, number: int) -> bool:
        with self._lock:
            target = self._learning
            if target is None:
                return False
            if kind == "note" and not is_action(target):
                self.control.note(f"notes fire actions: move a knob or fader to bind {target}")
                return True  # keep waiting for a control
            binding = Binding(kind, channel, number, target)
            self.map.bind(binding)
            self.learned, self._learning = binding, None
        log.info("MIDI learn: %s", _describe(binding))
        if self.map_path is not None:
            self.map.save(self.map_path)
        self.control.changed()
        return True

    def _fire(self, binding: Binding) -> None:
        target, quantize = binding.target, binding.quantize
        if target.startswith(SCENE_PREFIX):
            self.control.load(target[len(SCENE_PREFIX) :], quantize=quantize)
        else:  # only a tap needs the time
            self.control.perform(target, self.now() if target == "tap" else None, quantize)

    def _set(self, binding: Binding, value: int) -> None:
        target = binding.target
        specs = {spec["key"]: spec for spec in parameter_specs(self.control.base)}
        result = control_value(binding, value, specs)
        if target == "crossfade":
            self.control.set_crossfade(result)
        elif target.startswith("master."):
            self.control.set_master(target.partition(".")[2], result)
        else:
            self.control.set(target, result)


def _kind(message) -> str | None:
    """ "control" for control changes, "note" for note-ons with a velocity, None otherwise."""
    if message.type == "control_change":
        return "control"
    if message.type == "note_on" and message.velocity > 0:
        return "note"
    return None  # note-offs (and note-ons at velocity 0), clock, sysex, ...


def _number(message) -> int:
    return int(message.control if message.type == "control_change" else message.note)


def _describe(binding: Binding) -> str:
    what = "CC" if binding.kind == "control" else "note"
    return f"{what} {binding.number} ch {binding.channel} -> {binding.target}"
