"""The preset's keys as the page shows them: one control per key, each explained.

`parameter_specs` describes every field of every section of a preset for the page's controls
(and MIDI learn's ranges); `key_help` gives each key's explanation, taken from the comments the
preset schema writes above its fields (`visualizer.mapping.technique.opt`), so the page explains
the advanced keys with the same words as the schema, from one source.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from functools import cache
from typing import Any

FIELD = re.compile(r"^(\w+)\s*:[^#]*?(?:#\s*(.*))?$")


def format_value(value: Any) -> str:
    """``value`` as override text: true/false, "a,b" for a list, "a,b;c,d" for palettes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        if any(isinstance(v, list | tuple) for v in value):  # palettes: a,b;c,d
            return ";".join(format_value(v) for v in value)
        return ",".join(str(v) for v in value)
    return str(value)


def parameter_specs(preset) -> list[dict[str, Any]]:
    """UI description of every field of every section of a Preset dataclass.

    One dict per field: ``key`` ("section.key"), ``kind`` ("number", "integer", "bool", "text"
    or "list"), ``value``, ``help`` (the schema's words, "" where it has none) and, for numbers,
    ``min``/``max``/``step`` (from the field's metadata when the preset module declares a
    range, else a range around the current value).
    """
    helps = key_help()
    specs: list[dict[str, Any]] = []
    for section in dataclasses.fields(preset):
        block = getattr(preset, section.name)
        if not dataclasses.is_dataclass(block):
            continue
        for f in dataclasses.fields(block):
            key = f"{section.name}.{f.name}"
            specs.append(
                {**_spec(key, getattr(block, f.name), f.metadata), "help": helps.get(key, "")}
            )
    return specs


def _spec(key: str, value: Any, meta: Any) -> dict[str, Any]:
    meta = dict(meta or {})
    if meta.get("choices"):
        return {"key": key, "kind": "choice", "value": value, "choices": list(meta["choices"])}
    if isinstance(value, bool):
        return {"key": key, "kind": "bool", "value": value}
    if isinstance(value, int | float):
        # the preset module declares ranges as metadata "lo"/"hi"; open ends get a range
        # around the current value so the slider still moves
        low = meta.get("lo")
        high = meta.get("hi")
        if low is None:
            low = 0 if value >= 0 else -2 * abs(value)
        if high is None:
            high = max(1, 4 * abs(value)) if value else 1
        kind = "integer" if isinstance(value, int) else "number"
        # a round step (0.01, 0.001, ...) so slider values stay the numbers a user would type
        step = 1 if kind == "integer" else 10 ** math.floor(math.log10((high - low) / 200))
        return {"key": key, "kind": kind, "value": value, "min": low, "max": high, "step": step}
    if meta.get("kind") == "palettes":
        text = ";".join(",".join(str(v) for v in palette) for palette in value)
        return {"key": key, "kind": "text", "value": text}
    if isinstance(value, list | tuple):
        return {"key": key, "kind": "list", "value": [str(v) for v in value]}
    return {"key": key, "kind": "text", "value": "" if value is None else str(value)}


@cache
def key_help() -> dict[str, str]:
    """ "section.key" -> its explanation: the comment lines above the field in the section's
    dataclass (or the comment after it on the same line; a field right under another one
    without a comment of its own shares that one's, as ``min`` and ``max`` do)."""
    from visualizer.mapping.preset_schema import SECTIONS

    helps: dict[str, str] = {}
    for section, options in SECTIONS.items():
        try:
            lines = inspect.getsource(options).splitlines()
        except (OSError, TypeError):  # no source (a frozen build): the page goes without
            continue
        comment: list[str] = []
        shared = ""  # a field right under another without its own comment shares it (min, max)
        for line in lines:
            text = line.strip()
            if text.startswith("#"):
                comment.append(text.lstrip("#").strip())
                continue
            match = FIELD.match(text)
            words = " ".join(comment) or (match.group(2) if match else "") or ""
            if match and (words or shared):
                helps[f"{section}.{match.group(1)}"] = words or shared
            shared = helps.get(f"{section}.{match.group(1)}", "") if match else ""
            comment = []
    return helps
