"""The MIDI map: which knob, fader or pad drives what, kept as a TOML file.

    # visualizer MIDI map (learn mode writes this file; edit it freely)
    [[control]]              # a knob or fader: control change (CC) messages
    channel = 1              # MIDI channel 1-16
    number = 21              # controller number 0-127
    target = "master.reactivity"

    [[note]]                 # a pad or key: note-on messages
    channel = 10
    number = 36              # note number 0-127
    target = "scene:dreamy"
    quantize = "bar"         # optional: when this pad's launch lands (now, beat, bar, 2bars,
                             # 4bars; default: the surface's choice)

Targets: a number, switch or choice of the preset (``"pulse.amount"``: the CC's 0-127 spans the
key's range, or ``min``/``max`` given in the binding), a master fader (``"master.motion"``: 0-2),
``"crossfade"`` (0-10 s), an action of `visualizer.live.control.ACTIONS` (a note, or a button
that sends CC: it fires when the value crosses 64 upwards) or ``"scene:NAME"`` (switch to that
scene). Unknown keys, bad numbers and bad targets are errors naming the binding.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from visualizer.errors import MidiMapError, PresetError
from visualizer.files import write_text_atomic
from visualizer.inputs import load_toml
from visualizer.live.control import ACTIONS
from visualizer.live.launch import QUANTIZE
from visualizer.live.show import MASTER_RANGE, MASTERS, SAVE_NAME

KINDS = ("control", "note")
CROSSFADE_RANGE = (0.0, 10.0)  # seconds a crossfade fader spans
SCENE_PREFIX = "scene:"


@dataclasses.dataclass(frozen=True)
class Binding:
    kind: str  # "control" (CC) or "note"
    channel: int  # 1-16, as printed on controllers
    number: int  # controller or note number, 0-127
    target: str  # see the module docstring
    min: float | None = None  # the value at CC 0 (preset keys only; default: the key's range)
    max: float | None = None  # the value at CC 127
    quantize: str | None = None  # launches (scenes, scene and palette steps): when they land

    @property
    def address(self) -> tuple[str, int, int]:
        return (self.kind, self.channel, self.number)


def is_action(target: str) -> bool:
    """Whether ``target`` fires once (an action or a scene) rather than taking a value."""
    return target in ACTIONS or target.startswith(SCENE_PREFIX)


def check_target(kind: str, target: object) -> str:
    """``target`` if it is valid for a binding of ``kind``; a MidiMapError otherwise. Preset keys
    are checked against the preset when they are used (a scene may lack one)."""
    if not isinstance(target, str) or not target:
        raise MidiMapError(f"invalid MIDI target {target!r}")
    if target.startswith(SCENE_PREFIX):
        if not SAVE_NAME.match(target[len(SCENE_PREFIX) :]):
            raise MidiMapError(f"invalid scene name in MIDI target {target!r}")
        return target
    if target in ACTIONS:
        return target
    if kind == "note":
        raise MidiMapError(
            f"a note triggers an action, not {target!r} "
            f"(valid: {', '.join(ACTIONS)} or scene:NAME; bind a knob or fader to values)"
        )
    section, dot, name = target.partition(".")
    if target == "crossfade" or (section == "master" and name in MASTERS):
        return target
    if not dot or not section or not name or "." in name:
        raise MidiMapError(
            f"invalid MIDI target {target!r}: expected section.key, master.NAME "
            f"({', '.join(MASTERS)}), crossfade, scene:NAME or an action ({', '.join(ACTIONS)})"
        )
    return target


class MidiMap:
    """Bindings by address (kind, channel, number); at most one target per address."""

    def __init__(self, bindings: list[Binding] | None = None) -> None:
        self.bindings: dict[tuple[str, int, int], Binding] = {}
        for binding in bindings or []:
            self.bindings[binding.address] = binding

    def find(self, kind: str, channel: int, number: int) -> Binding | None:
        return self.bindings.get((kind, channel, number))

    def bind(self, binding: Binding) -> None:
        """Add ``binding``; it replaces what its address did and other addresses bound to the
        same target (learning a target again moves it)."""
        self.bindings = {
            address: b for address, b in self.bindings.items() if b.target != binding.target
        }
        self.bindings[binding.address] = binding

    def to_toml(self) -> str:
        lines = ["# visualizer MIDI map (learn mode writes this file; edit it freely)"]
        for binding in sorted(self.bindings.values(), key=lambda b: b.address):
            lines += ["", f"[[{binding.kind}]]", f"channel = {binding.channel}"]
            lines += [f"number = {binding.number}", f'target = "{binding.target}"']
            lines += [f"{end} = {getattr(binding, end)!r}" for end in ("min", "max")
                      if getattr(binding, end) is not None]  # fmt: skip
            if binding.quantize is not None:
                lines.append(f'quantize = "{binding.quantize}"')
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> Path:
        return write_text_atomic(path, self.to_toml())

    @classmethod
    def load(cls, path: str | Path) -> MidiMap:
        """Read a map file (checked as every input is, `visualizer.inputs`); a MidiMapError names
        the file and the bad binding."""
        path = Path(path)
        # a regular file of at most 1 MiB: a FIFO, a device or a deep nesting is one line
        data = load_toml(path, "MIDI map", MidiMapError)
        unknown = sorted(set(data) - set(KINDS))
        if unknown:
            raise MidiMapError(
                f"MIDI map {path}: unknown table {unknown[0]!r} (valid: control, note)"
            )
        bindings = []
        for kind in KINDS:
            entries = data.get(kind, [])
            if not isinstance(entries, list):
                raise MidiMapError(f"MIDI map {path}: write [[{kind}]] tables")
            for i, entry in enumerate(entries):
                try:
                    bindings.append(_binding(kind, entry))
                except MidiMapError as error:
                    raise MidiMapError(f"MIDI map {path}: [[{kind}]] #{i + 1}: {error}") from None
        return cls(bindings)


def _binding(kind: str, entry: Any) -> Binding:
    if not isinstance(entry, dict):
        raise MidiMapError("expected a table")
    unknown = sorted(set(entry) - {"channel", "number", "target", "min", "max", "quantize"})
    if unknown:
        raise MidiMapError(
            f"unknown key {unknown[0]!r} (valid: channel, number, target, min, max, quantize)"
        )
    quantize = entry.get("quantize")
    if quantize is not None and quantize not in QUANTIZE:
        raise MidiMapError(f"quantize must be one of {', '.join(QUANTIZE)}, got {quantize!r}")
    channel, number = entry.get("channel"), entry.get("number")
    if not isinstance(channel, int) or isinstance(channel, bool) or not 1 <= channel <= 16:
        raise MidiMapError(f"channel must be 1-16, got {channel!r}")
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 127:
        raise MidiMapError(f"number must be 0-127, got {number!r}")
    ends = {}
    for end in ("min", "max"):
        value = entry.get(end)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise MidiMapError(f"{end} must be a number, got {value!r}")
        ends[end] = None if value is None else float(value)
    target = check_target(kind, entry.get("target"))
    return Binding(kind, channel, number, target, **ends, quantize=quantize)


def _same_source(choices: list[str], value: Any) -> list[str]:
    """The choices a knob sweeps: for a signal key (SOURCE.FEATURE), the features of the source
    it reads now (the mix's plain names, or one stem's), not every source's; a knob over six
    sources' features would move too far for a touch."""
    source = str(value).partition(".")[0] if "." in str(value) else None
    same = [c for c in choices if (c.partition(".")[0] if "." in c else None) == source]
    return same or list(choices)


def control_value(binding: Binding, value: int, specs: dict[str, dict[str, Any]]) -> Any:
    """The value a CC ``value`` (0-127) gives ``binding``'s target. ``specs`` are the preset's
    parameter specs by key (`visualizer.live.control.parameter_specs`)."""
    share = min(max(value, 0), 127) / 127.0
    target = binding.target
    if target == "crossfade" or target.startswith("master."):
        low, high = CROSSFADE_RANGE if target == "crossfade" else MASTER_RANGE
        return _span(binding, low, high, share)
    spec = specs.get(target)
    if spec is None:
        raise PresetError(f"MIDI target {target!r} is not a key of this scene")
    kind = spec["kind"]
    if kind == "bool":
        return value >= 64
    if kind == "choice":
        choices = _same_source(spec["choices"], spec.get("value"))
        return choices[min(int(share * len(choices)), len(choices) - 1)]
    if kind not in ("number", "integer"):
        raise PresetError(f"a MIDI control cannot set {target} ({kind}): bind a number")
    number = _span(binding, spec["min"], spec["max"], share)
    return round(number) if kind == "integer" else round(number, 6)


def _span(binding: Binding, low: float, high: float, share: float) -> float:
    low = binding.min if binding.min is not None else low
    high = binding.max if binding.max is not None else high
    return low + (high - low) * share
