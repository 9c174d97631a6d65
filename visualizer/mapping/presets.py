"""Presets: the look of a video as TOML data, loaded into frozen dataclasses.

A preset file holds a one-line ``description``, a default ``seed``, optionally ``base = "NAME"``
(start from another preset and change only some keys), and one table per technique of
`visualizer.mapping`. Every key is optional; missing keys take the defaults below. Presets are
data only: nothing in them is executed.

    description = "Slow dreamy drift between section keyframes"
    base = "default"

    [classes]
    mode = "keyframes"

    [hallucinate]
    amount = 0.4

`load_preset` rejects unknown sections and keys, wrong types and out-of-range values with a
`PresetError` naming the key and what is allowed; `validate` rejects bad combinations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from visualizer.errors import PresetError
from visualizer.inputs import (
    MAX_TOML_BYTES,
    check_input_file,
    load_toml,
    parse_toml,
    path_text_problem,
    shown_path,
)
from visualizer.mapping.preset_schema import (
    SECTIONS,
    TOP_KEYS,
    Preset,
    build_preset,
    check_seed,
    unknown_key_error,
    validate,
)

__all__ = [
    "Preset",
    "check_seed",
    "validate",
    "load_preset",
    "preset_files",
    "preset_from_toml",
    "preset_to_toml",
]

MAX_NAME = 4096  # bytes in a preset name or path (PATH_MAX)
MAX_BASES = 16  # presets in one `base` chain

# ---------------------------------------------------------------------------------- finding


def _builtin_dirs() -> list[Any]:
    """Where built-in presets live: the installed data package, else the repository folder."""
    places: list[Any] = []
    with contextlib.suppress(ModuleNotFoundError):
        places.append(resources.files("visualizer.builtin_presets"))
    places.append(Path(__file__).resolve().parents[2] / "presets")
    return places


@cache
def _builtin_files() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for place in _builtin_dirs():
        try:
            entries = sorted(place.iterdir(), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.endswith(".toml") and entry.is_file():
                found.setdefault(entry.name[: -len(".toml")], entry)
    return found


def list_presets() -> list[tuple[str, str]]:
    """Built-in presets as (name, one-line description), sorted by name."""
    return [
        (name, _read_toml(entry).get("description", ""))
        for name, entry in sorted(_builtin_files().items())
    ]


def _read_toml(source: Any) -> dict[str, Any]:
    """The tables of a preset file (a Path: checked and bounded as every input is) or of a
    built-in preset (a package resource)."""
    if isinstance(source, Path):
        return load_toml(source, "preset file", PresetError)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PresetError(f"cannot read preset file {source}: {error}") from None
    return parse_toml(text, f"preset file {source}", PresetError)


def _locate(name_or_path: str | Path) -> Any:
    text = str(name_or_path)
    size = len(os.fsencode(text))  # the bytes of a name given as non-UTF-8 bytes too
    if size > MAX_NAME:
        raise PresetError(f"preset name too long ({size} bytes): {text[:60]}...")
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text
    if looks_like_path or _is_file(Path(text)):
        path = Path(text).expanduser()
        check_input_file(path, "preset file", limit=MAX_TOML_BYTES, error=PresetError)
        return path
    builtins = _builtin_files()
    if text in builtins:
        return builtins[text]
    close = difflib.get_close_matches(text, builtins, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise PresetError(
        f"unknown preset '{text}'{hint}; built-in presets: {', '.join(builtins) or 'none'}, "
        "or give a path to a .toml file"
    )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name the file system refuses (a part over 255 bytes): no such file
        return False


def _raw_with_bases(
    name_or_path: str | Path, seen: tuple[str, ...] = (), files: list[Path] | None = None
) -> dict[str, Any]:
    """The preset's TOML tables, with `base` presets merged underneath (key by key).

    ``seen`` holds the chain so far, files by their resolved path: a loop spelled through
    ``..``, ``./`` or a link is still the same file. ``files`` collects the chain's files."""
    source = _locate(name_or_path)
    if files is not None and isinstance(source, Path):
        files.append(source)
    key = str(source.resolve()) if isinstance(source, Path) else str(source)
    if key in seen:
        raise PresetError(f"preset 'base' loop: {' -> '.join([*seen, key])}")
    if len(seen) >= MAX_BASES:
        raise PresetError(f"{source}: more than {MAX_BASES} presets deep in 'base'")
    raw = _read_toml(source)
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise PresetError(f"{source}: base must be a preset name or path, got {base!r}")
    if isinstance(source, Path) and base not in _builtin_files():
        candidate = source.parent / base  # a relative path is relative to the preset file
        if _is_file(candidate):
            base = str(candidate)
    return _merge(_raw_with_bases(base, (*seen, key), files), raw)


def _merge(under: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``under``, table by table and key by key."""
    merged = {
        key: dict(value) if isinstance(value, dict) else value for key, value in under.items()
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------------------------- building


# ---------------------------------------------------------------------------------- overrides


def _parse_override(text: str) -> tuple[str, str | None, Any]:
    """'section.key=value' -> (section, key, parsed value); 'seed=3' -> ('seed', None, 3)."""
    if "=" not in text:
        raise PresetError(f"invalid override {text!r}: expected SECTION.KEY=VALUE")
    if path_text_problem(text):  # it would end in the preset record, a UTF-8 file
        raise PresetError(f"invalid override {shown_path(text)}: it holds bytes that are not UTF-8")
    path, _, value_text = text.partition("=")
    path = path.strip()
    section, _, key = path.partition(".")
    if section in SECTIONS:
        specs = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
        if key not in specs:
            raise unknown_key_error(path, list(specs), "key")
        kind = specs[key].metadata.get("kind")
    elif section in ("description", "seed") and not key:
        kind = None
    else:
        raise unknown_key_error(path, [*TOP_KEYS[:2], *SECTIONS], "section or key")
    return section, key or None, _parse_value(value_text.strip(), kind)


def _parse_value(text: str, kind: str | None) -> Any:
    """A TOML value when ``text`` parses as one, else the bare text (lists: comma-separated)."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except (ValueError, RecursionError):  # not TOML (or an integer over 4,300 digits)
        value = None if kind else text
    if kind is None or isinstance(value, list):
        return value
    if value is not None and not isinstance(value, str):
        return [value]  # a single index: classes.names=292
    if kind == "palettes":
        return [_split(part) for part in text.split(";") if part.strip()]
    return _split(text)


def _split(text: str) -> list[Any]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    return [int(item) if item.isdigit() else _float_or_text(item) for item in items]


def _float_or_text(item: str) -> Any:
    try:
        return float(item)
    except ValueError:
        return item


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of the TOML tables ``raw`` with each "section.key=value" override applied."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    for text in overrides:
        section, key, value = _parse_override(text)
        if key is None:
            merged[section] = value
        else:
            merged.setdefault(section, {})[key] = value
    return merged


# ---------------------------------------------------------------------------------- public


def load_preset(name_or_path: str | Path, overrides: Sequence[str] = ()) -> Preset:
    """Load a built-in preset by name or a TOML file by path, then apply ``overrides``.

    ``overrides`` are "section.key=value" strings; values parse as TOML when they can
    ("0.5", "true", '["tiger", 3]'), list keys also take "tiger,volcano". Raises PresetError.
    """
    return build_preset(apply_overrides(_raw_with_bases(name_or_path), overrides))


def preset_files(name_or_path: str | Path) -> list[Path]:
    """The files a preset is read from: its own, then its `base` chain's (built-ins are not
    files of the user's). A render never writes over one of them."""
    files: list[Path] = []
    _raw_with_bases(name_or_path, files=files)
    return files


def preset_from_toml(text: str, overrides: Sequence[str] = ()) -> Preset:
    """A Preset from TOML text (no `base`), e.g. the preset saved in a Timeline."""
    raw = parse_toml(text, "preset text", PresetError)
    if "base" in raw:
        raw = _merge(_raw_with_bases(raw.pop("base")), raw)
    return build_preset(apply_overrides(raw, overrides))


def _toml_string(text: str) -> str:
    """A TOML basic string for any ``text``: quotes, backslashes and every control character
    (U+0000-U+001F, U+007F) escaped, so what is saved always loads back."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    return "[" + ", ".join(_toml_value(item) for item in value) + "]"


def preset_to_toml(preset: Preset) -> str:
    """The fully resolved preset as TOML text (every key, no `base`); loads back equal."""
    lines = [
        f"description = {_toml_value(preset.description)}",
        f"seed = {preset.seed}",
    ]
    for name in SECTIONS:
        lines += ["", f"[{name}]"]
        section = getattr(preset, name)
        for spec in dataclasses.fields(section):
            lines.append(f"{spec.name} = {_toml_value(getattr(section, spec.name))}")
    return "\n".join(lines) + "\n"
