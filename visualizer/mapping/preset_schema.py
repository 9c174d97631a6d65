"""The preset schema: its sections come from the technique registry; ranges and validation.

Every section is a frozen dataclass owned by a technique (`visualizer.mapping.registry`), or one
of the registry's other sections; every field's default, range (``lo``/``hi`` metadata) and
allowed words are declared with the field (`visualizer.mapping.technique.opt`), so the TOML loader
(`visualizer.mapping.presets`), ``visualizer presets show`` and the live page's controls all read
one definition, and a new technique needs no edit here. `build_preset` turns parsed TOML tables
into a validated `Preset`; `validate` rejects bad values (NaN and infinities too), then asks each
technique to reject bad combinations, with a PresetError naming the key."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar, cast

from visualizer.errors import ClassNameError, PresetError
from visualizer.mapping.arithmetic import check_spec
from visualizer.mapping.registry import TECHNIQUES, sections
from visualizer.mapping.routing import signal_error
from visualizer.mapping.technique import check_seed

__all__ = ["SECTIONS", "TOP_KEYS", "Preset", "build_preset", "check_seed", "validate"]

SECTIONS: dict[str, type] = sections()  # section name -> options dataclass, in TOML order
TOP_KEYS = ("description", "seed", "base")
MAX_DESCRIPTION = 500  # characters of a preset's one-line description


class PresetMethods:
    """What a `Preset` does beyond holding its sections."""

    def replace(self, **changes: Any) -> Preset:
        """A copy with whole sections or top-level values replaced (validated)."""
        preset = cast("Preset", dataclasses.replace(self, **changes))  # type: ignore[type-var]
        validate(preset)
        return preset


def _preset_class() -> type:
    """The frozen dataclass of a whole preset: description, seed, then one field per section."""
    fields: list[tuple[str, type, Any]] = [
        ("description", str, field(default="")),  # one line shown by `visualizer presets list`
        ("seed", int, field(default=0)),  # default seed, 0 to 2**63-1 (--seed overrides it)
    ]
    fields += [(name, options, field(default=options())) for name, options in SECTIONS.items()]
    doc = "A whole preset: ``description``, ``seed`` and one options dataclass per section."
    namespace = {"__doc__": doc, "__module__": __name__}  # so pickle finds it here
    return dataclasses.make_dataclass(
        "Preset", fields, bases=(PresetMethods,), frozen=True, namespace=namespace
    )


if TYPE_CHECKING:  # the sections are built from the registry: a type checker sees them as Any

    class Preset(PresetMethods):
        description: str
        seed: int
        __dataclass_fields__: ClassVar[dict[str, Any]]

        def __init__(self, *, description: str = "", seed: int = 0, **sections: Any) -> None: ...
        def __getattr__(self, section: str) -> Any: ...
else:
    Preset = _preset_class()


def _check_value(key: str, spec: dataclasses.Field, value: Any) -> Any:
    """``value`` converted to the field's type, or a PresetError naming ``key`` and the range."""
    default, meta = spec.default, spec.metadata
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise PresetError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int | float):
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or (isinstance(default, int) and not isinstance(value, int)):
            kind = "an integer" if isinstance(default, int) else "a number"
            raise PresetError(f"{key} must be {kind}, got {value!r}")
        if not _finite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise PresetError(f"{key} = {value!r} is out of range: allowed {lo} to {hi}")
        return float(value) if isinstance(default, float) else int(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise PresetError(f"{key} must be a string, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices and meta.get("signal"):
            raise PresetError(signal_error(key, value, meta))
        if choices and value not in choices:
            raise PresetError(
                f"{key} = {value!r} is not allowed: choose one of {', '.join(choices)}"
            )
        return value
    return _check_list(key, meta["kind"], value, meta.get("check"))


def _finite(value: float) -> bool:  # not NaN, not infinite, no integer beyond 2**63
    return math.isfinite(value) if isinstance(value, float) else abs(value) <= 2**63


def _check_list(key: str, kind: str, value: Any, check: Any = None) -> tuple:
    if not isinstance(value, list | tuple):
        raise PresetError(f"{key} must be a list, got {value!r}")
    if kind == "palettes":
        return tuple(_check_list(f"{key}[{i}]", "classes", item) for i, item in enumerate(value))
    if check is not None:  # a technique's own kind of item (poses: seeds or saved latents)
        return tuple(check(key, item) for item in value)
    if kind == "times":
        if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in value):
            raise PresetError(f"{key} must be a list of seconds, got {value!r}")
        times = tuple(float(t) for t in value if _finite(t))
        shown = list(times) if len(times) == len(value) else list(value)
        if shown != list(times) or min(times, default=0) < 0 or sorted(set(times)) != shown:
            raise PresetError(f"{key} = {shown} must be increasing finite seconds >= 0")
        return times
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise PresetError(f"{key} must list class names, themes or indices 0-999, got {item!r}")
        try:
            check_spec(item)
        except ClassNameError as error:
            raise PresetError(f"{key}: {error}") from None
    return tuple(value)


def unknown_key_error(key: str, valid: Sequence[str], what: str) -> PresetError:
    probe = key.rsplit(".", 1)[-1] if what == "key" else key.split(".", 1)[0]
    close = difflib.get_close_matches(probe, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return PresetError(f"unknown preset {what} '{key}'{hint}; valid: {', '.join(valid)}")


def build_preset(raw: dict[str, Any]) -> Preset:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise PresetError(f"[{key}] must be a table of keys, got {value!r}")
            values[key] = _build_section(key, value)
        elif key in ("description", "seed"):
            spec = {f.name: f for f in dataclasses.fields(Preset)}[key]
            values[key] = _check_value(key, spec, value) if key == "seed" else value
            if key == "description" and not isinstance(value, str):
                raise PresetError(f"description must be a string, got {value!r}")
            if key == "description" and len(value) > MAX_DESCRIPTION:
                raise PresetError(
                    f"description is {len(value):,} characters: at most {MAX_DESCRIPTION} "
                    "(it is one line, copied beside every video)"
                )
        else:
            raise unknown_key_error(key, [*TOP_KEYS, *SECTIONS], "section or key")
    preset = Preset(**values)
    validate(preset)
    return preset


def _build_section(name: str, table: dict[str, Any]) -> Any:
    cls = SECTIONS[name]
    specs = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in specs:
            raise unknown_key_error(f"{name}.{key}", list(specs), "key")
        values[key] = _check_value(f"{name}.{key}", specs[key], value)
    return cls(**values)


def validate(preset: Preset) -> None:
    """Check every value's type and range, then each technique's combinations (PresetError)."""
    for name in SECTIONS:
        section = getattr(preset, name)
        for spec in dataclasses.fields(section):
            _check_value(f"{name}.{spec.name}", spec, getattr(section, spec.name))
    check_seed(preset.seed)
    if not isinstance(preset.description, str):
        raise PresetError(f"description must be a string, got {preset.description!r}")
    for technique in TECHNIQUES:
        technique.check(preset)
