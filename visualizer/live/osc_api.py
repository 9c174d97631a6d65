"""Every OSC address live mode accepts, with its arguments' types and ranges: one table.

`visualizer.live.osc.OscInput` maps exactly these addresses (a handler that is not listed here is
never reached, and a test checks both ways); the server lists them as JSON at ``/osc.json`` and as
a readable page at ``/osc``; `check_arguments` validates a message against its listing, so a bad
message is refused with one line that says what the address takes.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import Any

from visualizer.live.calibrate import LIMITS
from visualizer.live.control import ACTIONS, CYCLE_MODES, MAX_CYCLE_BARS
from visualizer.live.launch import QUANTIZE
from visualizer.live.show import MASTER_RANGE, MASTERS, MAX_CROSSFADE_S

PREFIX = "/visualizer"
TYPES = {"s": "text", "f": "number", "i": "whole number", "*": "any"}


@dataclass(frozen=True)
class Arg:
    name: str
    type: str  # "s" text, "f" number, "i" whole number, "*" a number, text or true/false
    range: tuple[float, float] | None = None  # inclusive, for numbers
    choices: tuple[str, ...] = ()  # for text: the words allowed (empty: any)
    optional: bool = False  # may be left out (only at the end)
    rest: bool = False  # takes this and every further argument (a list value)

    def describe(self) -> str:
        if self.choices:
            what = "|".join(self.choices)
        elif self.range is not None:
            what = f"{self.range[0]:g}-{self.range[1]:g}"
        else:
            what = TYPES[self.type]
        text = f"<{self.name}: {what}{' ...' if self.rest else ''}>"
        return f"[{text}]" if self.optional else text


@dataclass(frozen=True)
class Address:
    path: str
    args: tuple[Arg, ...]
    help: str

    def usage(self) -> str:
        return " ".join([self.path, *(arg.describe() for arg in self.args)])


QUANTIZE_ARG = Arg("quantize", "s", choices=QUANTIZE, optional=True)
ADDRESSES: tuple[Address, ...] = (
    Address(f"{PREFIX}/set", (Arg("key", "s"), Arg("value", "*", rest=True)),
            "set a preset key (section.key) to a value; a list may come as more arguments or "
            "one 'a,b' text; a change of the classes shown lands on the surface's quantisation"),
    Address(f"{PREFIX}/preset", (Arg("name", "s"), QUANTIZE_ARG),
            "launch a scene (a built-in preset or one saved in the save folder), quantised"),
    Address(f"{PREFIX}/tap", (), "one tap of tap tempo (tap becomes the tempo source)"),
    Address(f"{PREFIX}/action", (Arg("name", "s", choices=ACTIONS), QUANTIZE_ARG),
            "an action: scene and palette steps are launches (quantised); cue = this beat is "
            "1; nudge_forward/back move the beat 10 ms; double/half the tempo"),
    Address(f"{PREFIX}/master", (Arg("name", "s", choices=tuple(MASTERS)),
                                 Arg("value", "f", MASTER_RANGE)),
            "a master fader over the scene's own values (1 = as designed)"),
    Address(f"{PREFIX}/crossfade", (Arg("seconds", "f", (0.0, MAX_CROSSFADE_S)),),
            "the scene crossfade time"),
    Address(f"{PREFIX}/quantize", (Arg("quantize", "s", choices=QUANTIZE),),
            "the surface's quantisation of launches"),
    Address(f"{PREFIX}/cycle", (Arg("bars", "i", (0, MAX_CYCLE_BARS)),
                                Arg("mode", "s", choices=CYCLE_MODES, optional=True)),
            "scene auto-cycle every N bars (0 = off), to the next or a random scene"),
    Address(f"{PREFIX}/tempo/source", (Arg("name", "s"),),
            "follow a tempo source open in this show (audio, tap, and the --tempo one)"),
    Address(f"{PREFIX}/tempo/bpm", (Arg("bpm", "f", (20.0, 400.0)),),
            "set the tempo (tap starts from it; with Link every peer follows)"),
    Address(f"{PREFIX}/tempo/beats_per_bar", (Arg("beats", "i", (1, 16)),),
            "beats per bar (Link: the quantum)"),
    Address(f"{PREFIX}/tempo/latency", (Arg("ms", "f", (0.0, 1000.0)),),
            "output latency: frames are computed this much early, to be seen on the beat"),
    Address(f"{PREFIX}/input", (Arg("name", "s", choices=tuple(LIMITS)), Arg("value", "f")),
            "input calibration: gain 0-8, low/mid/high band sensitivity 0-4, "
            "av_offset_ms -500 to 500"),
)  # fmt: skip
BY_PATH = {address.path: address for address in ADDRESSES}
# what --osc-out sends (`visualizer.live.sink_osc`), listed on the same page
OUT_ADDRESSES: tuple[Address, ...] = (
    Address(f"{PREFIX}/beat", (Arg("beat", "i", (1, 16)), Arg("bar", "i")), "on every beat"),
    Address(f"{PREFIX}/bar", (Arg("bar", "i"),), "on every downbeat (bar 1 is the first)"),
    Address(f"{PREFIX}/bpm", (Arg("bpm", "f", (20.0, 400.0)),), "when the tempo moves by 0.1"),
    Address(f"{PREFIX}/scene", (Arg("name", "s"),), "when the scene changes"),
    Address(f"{PREFIX}/pending", (Arg("name", "s"),), "a scene armed to land ('' once it has)"),
)


def check_arguments(address: Address, args: tuple[object, ...]) -> list[Any]:
    """``args`` checked against ``address``'s listing (ints taken as numbers, whole floats as
    whole numbers); a ValueError with the usage line when they do not fit."""
    required = sum(not arg.optional for arg in address.args)
    rest = any(arg.rest for arg in address.args)
    if len(args) < required or (not rest and len(args) > len(address.args)):
        raise ValueError(f"expected {address.usage()}, got {len(args)} argument(s)")
    values: list[Any] = []
    for i, value in enumerate(args):
        arg = address.args[min(i, len(address.args) - 1)]
        values.append(_check(address, arg, value))
    return values


def _check(address: Address, arg: Arg, value: object) -> Any:
    wrong = ValueError(f"{arg.name} = {value!r} does not fit: expected {address.usage()}")
    if arg.type == "s":
        if not isinstance(value, str) or (arg.choices and value not in arg.choices):
            raise wrong
        return value
    if arg.type == "*":
        if not isinstance(value, str | int | float | bool):
            raise wrong
        return value
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or number != number:  # NaN
        raise wrong
    if arg.range is not None and not arg.range[0] <= number <= arg.range[1]:
        raise wrong
    if arg.type == "i":
        if number != int(number):
            raise wrong
        return int(number)
    return float(number)


def listing() -> dict[str, list[dict[str, Any]]]:
    """The tables as JSON-ready data (``/osc.json``): what is accepted ("in") and what
    ``--osc-out`` sends ("out")."""
    return {"in": [_entry(a) for a in ADDRESSES], "out": [_entry(a) for a in OUT_ADDRESSES]}


def _entry(a: Address) -> dict[str, Any]:
    return {
        "address": a.path,
        "usage": a.usage(),
        "help": a.help,
        "args": [asdict(g) for g in a.args],
    }


def listing_page() -> str:
    """The table as a readable HTML page (``/osc``)."""
    rows, sent = _rows(ADDRESSES), _rows(OUT_ADDRESSES)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>visualizer OSC</title>"
        "<link rel='stylesheet' href='/style.css'></head><body class='doc'>"
        "<h1>OSC addresses</h1><p>UDP to the --osc-port. Types: text, number, whole number; "
        "[optional]. Also as JSON: <a href='/osc.json'>/osc.json</a>.</p>"
        f"<table><tr><th>address and arguments</th><th>what it does</th></tr>{rows}</table>"
        "<h2>Sent by --osc-out HOST:PORT</h2>"
        f"<table><tr><th>address and arguments</th><th>when</th></tr>{sent}</table>"
        "</body></html>"
    )


def _rows(addresses: tuple[Address, ...]) -> str:
    return "".join(
        f"<tr><td><code>{html.escape(a.usage())}</code></td><td>{html.escape(a.help)}</td></tr>"
        for a in addresses
    )
