"""Tempo-synced modulation: LFOs that move any numeric preset key in time with the beat.

    [lfo]
    items = ["pulse.amount sine 1bar depth=0.3",
             "walk.speed triangle 4beats depth=0.5 offset=0.2 phase=0.25",
             "truncation.max decay 1beat depth=0.2"]

Each item is ``KEY SHAPE RATE [depth=D] [offset=O] [phase=P]``:

- KEY: a number of another section, ``section.key`` (not of ``lfo``, not ``latent.bound``);
- SHAPE: ``sine``, ``triangle``, ``saw`` (rising), ``square`` - each from -1 to 1 - or ``decay``
  (1 at each cycle's start, falling to about 0: an envelope retriggered every cycle);
- RATE: one cycle per N beats or bars: ``1/4beat``, ``1/2beat``, ``1beat``, ``2beats``,
  ``1bar``, ``4bars`` (a number 1/16 to 64 and ``beat(s)`` or ``bar(s)``);
- depth: how far the wave swings, in the key's own units (default: a tenth of the key's range);
  offset: added to the key's value (default 0); phase: 0-1, shifts the cycle (default 0).

Each frame the key is ``value + offset + depth * wave`` (clipped to the key's range, rounded for
whole-number keys). The wave's position is musical time read from the mapping rows - beats
and bars counted from their flags and phases (`visualizer.mapping.musical.Count`) - which live
mode fills from its beat state and the offline analysis from the whole track, so a preset moves
alike in both. `modulate` gives the preset of a frame; `CausalMapper` applies it before every
frame, offline and live (this technique's own step changes nothing: the modulation happens to
the other sections).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from visualizer.errors import PresetError
from visualizer.mapping.technique import Frame, Setup, Technique, opt

SHAPES = ("sine", "triangle", "saw", "square", "decay")
RATE = re.compile(r"^(\d+(?:/\d+)?)(beats?|bars?)$")
MIN_CYCLE, MAX_CYCLE = Fraction(1, 16), Fraction(64)
DECAY = 5.0  # the decay shape falls to exp(-5) = 0.7 % by the cycle's end
MAX_ITEMS = 32


class Lfo(NamedTuple):
    """One parsed LFO item."""

    section: str
    key: str
    shape: str
    cycle: float  # beats or bars per cycle
    unit: str  # "beat" or "bar"
    depth: float | None  # None: a tenth of the key's range
    offset: float
    phase: float


def parse_item(key: str, text: object) -> Lfo:
    """One ``lfo.items`` entry, or a PresetError naming ``key``, the item and the grammar."""
    grammar = "expected 'section.key shape rate [depth=D] [offset=O] [phase=P]'"
    if not isinstance(text, str):
        raise PresetError(f"{key} items must be text ({grammar}), got {text!r}")
    words = text.split()
    if len(words) < 3:
        raise PresetError(f"{key}: {text!r}: {grammar}")
    target, shape, rate, *options = words
    section, dot, name = target.partition(".")
    if not dot or not section.isidentifier() or not name.isidentifier():
        raise PresetError(f"{key}: {text!r}: {target!r} is not section.key")
    if shape not in SHAPES:
        raise PresetError(f"{key}: {text!r}: shape {shape!r} (valid: {', '.join(SHAPES)})")
    match = RATE.match(rate)
    cycle = Fraction(match.group(1)) if match and int(match.group(1).split("/")[-1]) else None
    if match is None or cycle is None or not MIN_CYCLE <= cycle <= MAX_CYCLE:
        raise PresetError(
            f"{key}: {text!r}: rate {rate!r} (valid: 1/16 to 64 beats or bars, e.g. 1/4beat, "
            "2beats, 1bar, 4bars)"
        )
    values: dict[str, float] = {}
    for option in options:
        word, equals, number = option.partition("=")
        if word not in ("depth", "offset", "phase") or not equals or word in values:
            raise PresetError(f"{key}: {text!r}: {option!r} (valid: depth=, offset=, phase=)")
        try:
            values[word] = float(number)
        except ValueError:
            values[word] = math.nan
        if not math.isfinite(values[word]) or (word == "phase" and not 0 <= values[word] <= 1):
            raise PresetError(f"{key}: {text!r}: {option!r} must be a number (phase 0-1)")
    unit = match.group(2).rstrip("s")
    return Lfo(section, name, shape, float(cycle), unit, values.get("depth"),
               values.get("offset", 0.0), values.get("phase", 0.0))  # fmt: skip


def check_item(key: str, text: object) -> str:
    """The schema's item check: ``text`` if it parses (see `parse_item`)."""
    parse_item(key, text)
    return str(text)


@dataclass(frozen=True)
class LfoOptions:
    # LFOs on numeric keys of other sections, in time with the beat: each item is "section.key
    # shape rate [depth=D] [offset=O] [phase=P]", e.g. "pulse.amount sine 1bar depth=0.3";
    # shapes sine, triangle, saw, square, decay; rates 1/16 to 64 beats or bars.
    items: tuple = opt((), kind="lfos", check=check_item)


def wave(shape: str, p: float) -> float:
    """The shape at cycle position ``p`` in [0, 1): -1 to 1 (decay: 1 down to about 0)."""
    if shape == "sine":
        return math.sin(2.0 * math.pi * p)
    if shape == "triangle":  # rises through 0 like the sine: 0 -> 1 -> -1 -> 0
        return 1.0 - abs(4.0 * ((p + 0.25) % 1.0) - 2.0)
    if shape == "saw":
        return 2.0 * p - 1.0
    if shape == "square":
        return 1.0 if p < 0.5 else -1.0
    return math.exp(-DECAY * p)


def modulate(preset: Any, items: list[Lfo], beat: float, bar: float) -> Any:
    """``preset`` with each LFO's key moved for musical time (``beat``, ``bar``); ``preset``
    itself when there are no LFOs."""
    if not items:
        return preset
    changes: dict[str, dict[str, Any]] = {}
    for lfo in items:
        section = getattr(preset, lfo.section)
        spec = next(f for f in dataclasses.fields(section) if f.name == lfo.key)
        low, high = spec.metadata.get("lo"), spec.metadata.get("hi")
        depth = lfo.depth
        if depth is None:
            depth = 0.1 * (high - low) if low is not None and high is not None else 0.1
        position = (beat if lfo.unit == "beat" else bar) / lfo.cycle + lfo.phase
        base = changes.get(lfo.section, {}).get(lfo.key, getattr(section, lfo.key))
        value = base + lfo.offset + depth * wave(lfo.shape, position % 1.0)
        value = min(value, high) if high is not None else value
        value = max(value, low) if low is not None else value
        changes.setdefault(lfo.section, {})[lfo.key] = (
            round(value) if isinstance(spec.default, int) else float(value)
        )
    sections = {
        name: dataclasses.replace(getattr(preset, name), **fields)
        for name, fields in changes.items()
    }
    return dataclasses.replace(preset, **sections)


def lfos(preset: Any) -> list[Lfo]:
    """The parsed LFOs of ``preset`` (validated by `LfoTechnique.check`)."""
    return [parse_item("lfo.items", text) for text in preset.lfo.items]


class LfoTechnique(Technique):
    """Owns the ``[lfo]`` section and checks it; the modulation itself is `modulate`."""

    name = "lfo"
    Options = LfoOptions
    stage = "truncation"

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)

    @classmethod
    def check(cls, preset: Any) -> None:
        items = lfos(preset)
        if len(items) > MAX_ITEMS:
            raise PresetError(f"lfo.items: {len(items)} LFOs, at most {MAX_ITEMS}")
        for lfo in items:
            target = f"{lfo.section}.{lfo.key}"
            section = getattr(preset, lfo.section, None)
            fields = {f.name: f for f in dataclasses.fields(section)} if section else {}
            spec = fields.get(lfo.key)
            numeric = spec is not None and type(spec.default) in (int, float)
            if lfo.section in ("lfo", "latent") or not numeric:
                raise PresetError(
                    f"lfo.items: {target!r} is not a number key an LFO can move "
                    "(a number of another section, not latent.bound)"
                )

    def step(self, frame: Frame, value: float) -> float:
        return value  # the truncation passes through: LFOs move the other sections' keys
