"""What a performer plays besides single preset keys: master faders, scenes, palette steps.

Pure functions over a `Preset` (no state, no threads): `LiveControl` keeps the state and calls
them, so the page, MIDI and OSC all change a show the same way.

- Master faders are multipliers in [0, 2] over the scene's own values (1 = the scene as
  designed): ``reactivity`` scales how hard the music pushes the latent, ``motion`` how far it
  travels, ``truncation`` the truncation range. Each scaled value is clipped to its key's range.
- Scenes are the built-in presets plus the presets saved in the save folder.
- A palette step rotates a preset's palettes: ``classes.names`` takes the first of
  ``classes.palettes`` and goes to the end of that list.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from visualizer.errors import PresetError

MASTER_RANGE = (0.0, 2.0)
# which preset keys each master fader scales (keys a preset does not have are skipped)
MASTERS: dict[str, tuple[str, ...]] = {
    "reactivity": ("pulse.amount", "walk.rise", "zoom.amount", "hallucinate.amount"),
    "motion": ("walk.speed", "walk.idle", "rotary.radius"),
    "truncation": ("truncation.min", "truncation.max"),
}
SAVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_CROSSFADE_S = 60.0


def check_master(name: object, value: object) -> float:
    """``value`` as a float in MASTER_RANGE, or a PresetError naming the fader and the range."""
    if name not in MASTERS:
        raise PresetError(f"unknown master fader {name!r} (valid: {', '.join(MASTERS)})")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    low, high = MASTER_RANGE
    if not low <= number <= high:
        raise PresetError(f"master {name} must be a number {low:g}-{high:g}, got {value!r}")
    return number


def apply_masters(preset, masters: dict[str, float]):
    """``preset`` with every key of every master fader scaled by the fader (clipped to the
    key's range). Masters at 1 return ``preset`` itself."""
    changes: dict[str, dict[str, float]] = {}
    for name, factor in masters.items():
        if factor == 1.0:
            continue
        for key in MASTERS[name]:
            section, _, field_name = key.partition(".")
            block = getattr(preset, section, None)
            spec = _field(block, field_name)
            if spec is None:
                continue
            value = getattr(block, field_name) * factor
            low, high = spec.metadata.get("lo"), spec.metadata.get("hi")
            value = max(value, low) if low is not None else value
            value = min(value, high) if high is not None else value
            changes.setdefault(section, {})[field_name] = value
    if not changes:
        return preset
    sections = {
        section: dataclasses.replace(getattr(preset, section), **fields)
        for section, fields in changes.items()
    }
    return preset.replace(**sections)


def _field(block: object, name: str) -> dataclasses.Field | None:
    if block is None or not dataclasses.is_dataclass(block):
        return None
    return next((f for f in dataclasses.fields(block) if f.name == name), None)


def scene_names(save_dir: Path) -> list[str]:
    """Built-in preset names, then the names of presets saved in ``save_dir``, sorted."""
    from visualizer.mapping.presets import list_presets

    builtin = [name for name, _ in list_presets()]
    saved = sorted(
        path.stem
        for path in Path(save_dir).glob("*.toml")
        if SAVE_NAME.match(path.stem) and path.stem not in builtin
    )
    return [*builtin, *saved]


def scene_source(save_dir: Path, name: object) -> str:
    """The preset name or saved file of the scene ``name``, else a PresetError naming it."""
    from visualizer.mapping.presets import list_presets

    if not isinstance(name, str):
        raise PresetError(f"invalid preset name {name!r}")
    saved = Path(save_dir) / f"{name}.toml"
    builtin = [preset_name for preset_name, _ in list_presets()]
    if name in builtin:
        return name
    if SAVE_NAME.match(name) and saved.is_file():
        return str(saved)
    raise PresetError(
        f"unknown preset {name!r} (built-in: {', '.join(map(str, builtin))}, "
        f"or a name saved in {save_dir})"
    )


def scene_name(source: str) -> str:
    """A scene's name: a preset's, or a saved file's stem."""
    return Path(source).stem if source.endswith(".toml") else source


def check_crossfade(seconds: object) -> float:
    """``seconds`` as a crossfade time 0-60 s, else a PresetError naming it."""
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 <= value <= MAX_CROSSFADE_S:
        raise PresetError(f"crossfade must be 0-{MAX_CROSSFADE_S:g} seconds, got {seconds!r}")
    return value


def scene_after(names: list[str], current: str, step: int) -> str:
    """The scene ``step`` places after ``current`` (cycling); the first when ``current`` is not
    a scene (a preset file given on the command line)."""
    if not names:
        raise PresetError("no scenes: no built-in presets and nothing saved")
    stem = Path(current).stem if current.endswith(".toml") else current
    if stem not in names:
        return names[0] if step > 0 else names[-1]
    return names[(names.index(stem) + step) % len(names)]


def next_palette_overrides(preset) -> dict[str, str]:
    """Overrides ("section.key" -> value text) that move to the preset's next palette, or a
    PresetError when it has only one."""
    classes = preset.classes
    if not classes.palettes:
        raise PresetError(
            "this scene has one palette: list more in classes.palettes to step through them"
        )
    current = ",".join(str(name) for name in classes.names)
    palettes = [",".join(str(name) for name in palette) for palette in classes.palettes]
    rotated = [*palettes[1:], current] if current else palettes[1:]
    return {"classes.names": palettes[0], "classes.palettes": ";".join(rotated)}


def theme_list() -> list[tuple[str, str]]:
    """The curated class themes as (name, one-line description), for the theme picker."""
    from visualizer.mapping.classes import themes

    return [(theme.name, theme.description) for theme in themes()]
