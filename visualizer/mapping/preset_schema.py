"""The preset schema: one frozen dataclass per technique, their ranges, and validation.

Every field's default, range (``lo``/``hi`` metadata) and allowed words live here, so the TOML
loader (`visualizer.mapping.presets`), ``visualizer presets show`` and the live page's controls all
read one definition. `build_preset` turns parsed TOML tables into a validated `Preset`; `validate`
rejects bad values (NaN and infinities too) and combinations with a PresetError naming the key."""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from visualizer.errors import ClassNameError, PresetError
from visualizer.mapping.arithmetic import check_spec, spec_vectors

# Per-frame signals a technique can follow, all in [0, 1] (see analysis.features.Features).
FEATURES = ("energy", "rise", "onset", "low", "mid", "high", "constant")


def _opt(default: Any, lo: float | None = None, hi: float | None = None, **meta: Any) -> Any:
    """A dataclass field with its allowed range / choices / list kind kept as metadata."""
    return field(default=default, metadata={"lo": lo, "hi": hi, **meta})


@dataclass(frozen=True)
class ClassesOptions:
    # How the class mix is made: "chroma" blend over a palette (a), "keyframes" interpolation (b),
    # "breed" two classes (c), or "morph" a steady glide through a list (l).
    mode: str = _opt("chroma", choices=("chroma", "keyframes", "breed", "morph"))
    # Palette for "chroma": class names, indices 0-999, themes ("big-cats") or class arithmetic
    # ("tiger + 0.5 volcano"), any count; empty = a seeded random palette of `count` classes
    # (an explicit choice: the built-in presets all name their classes). Also the keyframes /
    # breed / morph classes when those leave names empty, so `--set classes.names=...` works
    # with every mode. A palette is a set: a class listed twice is used once.
    names: tuple = _opt((), kind="classes")
    # Size of a random palette (and of each random section palette), 1-1000.
    count: int = _opt(12, 1, 1000)
    # Exponent on the per-class chroma weights, 0-20: 0 = an even mix of the whole palette,
    # 1 = proportional to chroma, higher = the strongest pitch class dominates.
    sensitivity: float = _opt(3.0, 0.0, 20.0)
    # Time constant of the chroma smoothing in seconds, 0-10 (0 = follow every frame).
    smoothing: float = _opt(0.3, 0.0, 10.0)
    # "sections": every new section switches to the next palette (j); "none": one palette.
    switch: str = _opt("none", choices=("none", "sections"))
    # Further palettes used in turn at section starts (after `names`); empty = seeded random
    # palettes of `count` classes.
    palettes: tuple = _opt((), kind="palettes")
    # Beats over which a change of classes (a section's palette, a keyframe, a live preset
    # change) crossfades, 0-16 (0 = a hard cut); 120 BPM is assumed while the tempo is unknown.
    crossfade: float = _opt(1.0, 0.0, 16.0)


@dataclass(frozen=True)
class KeyframesOptions:
    # Keyframe classes visited in order and cycled (names or indices); empty = a seeded random
    # sequence. Used when classes.mode = "keyframes".
    names: tuple = _opt((), kind="classes")
    # What starts a new segment: "sections", every `every` "beats", or the given "times".
    key: str = _opt("sections", choices=("sections", "beats", "times"))
    # Beats per segment when key = "beats", 1-256.
    every: int = _opt(8, 1, 256)
    # Segment start times in seconds when key = "times", increasing, >= 0 (0 is implied).
    times: tuple = _opt((), kind="times")
    # "linear" or "slerp" (spherical, constant-speed) between consecutive keyframes.
    interpolation: str = _opt("slerp", choices=("linear", "slerp"))
    # Smoothstep the progress (slow in, slow out); segment endpoints stay exact.
    ease: bool = _opt(True)
    # Seconds assumed for a segment whose end is not known yet (live mode), 0.5-600.
    guess: float = _opt(16.0, 0.5, 600.0)


@dataclass(frozen=True)
class BreedOptions:
    # The two classes y1, y2 of `a*y1 + (1-a)*y2`; empty = a seeded random pair.
    names: tuple = _opt((), kind="classes")
    # Signal that drives `a`.
    feature: str = _opt("energy", choices=FEATURES)
    # `a` when the signal is 0 and when it is 1, each 0-1 (min > max inverts).
    min: float = _opt(0.0, 0.0, 1.0)
    max: float = _opt(1.0, 0.0, 1.0)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = _opt(0.5, 0.0, 10.0)


@dataclass(frozen=True)
class MorphOptions:
    # Classes the morph glides through in order and cycles (empty = classes.names, else a
    # seeded random sequence). Used when classes.mode = "morph".
    names: tuple = _opt((), kind="classes")
    # Beats from one class to the next, 0.25-256: the glide is locked to the tempo.
    beats: float = _opt(4.0, 0.25, 256.0)
    # Seconds from one class to the next while the tempo is unknown, 0.1-600.
    seconds: float = _opt(2.0, 0.1, 600.0)
    # Share of each step that rests on its class before gliding on, 0-0.9.
    hold: float = _opt(0.25, 0.0, 0.9)
    # Hold the latent still (the seed's pose) so the same pose changes species.
    still: bool = _opt(True)


@dataclass(frozen=True)
class PosesOptions:
    # Latent keyframes (m): seeds (integers) or saved latents ("pose.npy" holding 128 values
    # before truncation, or "clip.npz@120" for frame 120 of a saved Timeline); the latent glides
    # from pose to pose (slerp) while the classes do what classes.mode says. Empty = off.
    seeds: tuple = _opt((), kind="poses")
    # What starts the glide to the next pose: "sections", every `every` "beats", or "times".
    key: str = _opt("sections", choices=("sections", "beats", "times"))
    # Beats per pose when key = "beats", 1-256.
    every: int = _opt(8, 1, 256)
    # Pose start times in seconds when key = "times", increasing, >= 0 (0 is implied).
    times: tuple = _opt((), kind="times")
    # Share of the music-driven motion (walk, pulse, ...) kept around the poses, 0-1 (0 = the
    # latent follows the poses alone). Mixed so the latent keeps its statistics.
    motion: float = _opt(0.3, 0.0, 1.0)
    # Seconds assumed for a segment whose end is not known yet (live mode), 0.5-600.
    guess: float = _opt(16.0, 0.5, 600.0)


@dataclass(frozen=True)
class LoopOptions:
    # Close the clip into a seamless loop: the last frame flows back into the first (`--loop`).
    enabled: bool = _opt(False)
    # Seconds over which the end is bent back to the start, 0-30 (0 = a quarter of the clip,
    # at most 2 seconds).
    seconds: float = _opt(0.0, 0.0, 30.0)


@dataclass(frozen=True)
class LatentOptions:
    # Truncation bound a, 0.1-4: at every frame the latent before truncation follows the
    # truncated normal in [-a, a] that BigGAN-deep is sampled from (|noise| <= a * truncation).
    bound: float = _opt(2.0, 0.1, 4.0)


@dataclass(frozen=True)
class WalkOptions:
    # Latent units per second at full drive, 0-20 (each unit also gets a random factor 0.5-1);
    # the walk keeps the latent's law at any speed.
    speed: float = _opt(0.6, 0.0, 20.0)
    # Extra speed per unit of energy rise (attacks push harder), 0-20.
    rise: float = _opt(2.0, 0.0, 20.0)
    # Latent units per second even in silence, 0-5.
    idle: float = _opt(0.05, 0.0, 5.0)
    # Signal that sets the step.
    feature: str = _opt("energy", choices=FEATURES)


@dataclass(frozen=True)
class PulseOptions:
    # What kicks the latent: "onsets", "beats" or "none"; a kick is scaled by the strength of
    # the onset under it.
    trigger: str = _opt("onsets", choices=("none", "onsets", "beats"))
    # Kick size in latent units, 0-4: an angle in radians towards a seeded direction (the law is
    # kept; pi/2 and above replace the latent by that direction for a moment).
    amount: float = _opt(0.4, 0.0, 4.0)
    # Seconds for a kick to fall to 1/e, 0.01-10.
    decay: float = _opt(0.2, 0.01, 10.0)


@dataclass(frozen=True)
class TruncationOptions:
    # Truncation when the signal is 0 and when it is 1, each 0.02-1 (min <= max); lower =
    # cleaner, more typical images, higher = more varied ones.
    min: float = _opt(0.4, 0.02, 1.0)
    max: float = _opt(0.7, 0.02, 1.0)
    # Signal that moves the truncation ("constant" holds it at max).
    feature: str = _opt("energy", choices=FEATURES)
    # Loud = low truncation instead of high.
    invert: bool = _opt(False)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = _opt(0.5, 0.0, 10.0)


@dataclass(frozen=True)
class HallucinateOptions:
    # Strength of the sin(z) fold at full signal, 0-1 (0 = off): small values stay, values
    # beyond the fold point fold back (the law is kept).
    amount: float = _opt(0.0, 0.0, 1.0)
    # Frequency of the sine, 0.25-8: at full strength values fold back from where
    # sin(frequency * z) turns, pi / (2 * frequency).
    frequency: float = _opt(2.0, 0.25, 8.0)
    # Signal that sets the strength.
    feature: str = _opt("high", choices=FEATURES)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = _opt(0.5, 0.0, 10.0)


@dataclass(frozen=True)
class ZoomOptions:
    # How much the signal scales the latent's magnitude up around its 8-second mean, 0-1 (0 =
    # off): loud bass zooms in on the subject.
    amount: float = _opt(0.0, 0.0, 1.0)
    # Signal that sets the zoom.
    feature: str = _opt("low", choices=FEATURES)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = _opt(0.3, 0.0, 10.0)


@dataclass(frozen=True)
class RotaryOptions:
    # Radius of the circle in latent units per component, 0-2 (0 = off): an angle in radians,
    # blended in so the latent keeps its law.
    radius: float = _opt(0.0, 0.0, 2.0)
    # Beats per turn, 0.25-64: the period is locked to the tempo.
    beats: float = _opt(4.0, 0.25, 64.0)
    # Seconds per turn while the tempo is unknown, 0.1-600.
    seconds: float = _opt(2.0, 0.1, 600.0)


SECTIONS: dict[str, type] = {
    "classes": ClassesOptions,
    "keyframes": KeyframesOptions,
    "breed": BreedOptions,
    "latent": LatentOptions,
    "walk": WalkOptions,
    "pulse": PulseOptions,
    "truncation": TruncationOptions,
    "hallucinate": HallucinateOptions,
    "zoom": ZoomOptions,
    "rotary": RotaryOptions,
    "morph": MorphOptions,
    "poses": PosesOptions,
    "loop": LoopOptions,
}
TOP_KEYS = ("description", "seed", "base")


@dataclass(frozen=True)
class Preset:
    description: str = ""  # one line shown by `visualizer presets list`
    seed: int = 0  # default seed, 0 to 2**63-1 (--seed overrides it)
    classes: ClassesOptions = ClassesOptions()
    keyframes: KeyframesOptions = KeyframesOptions()
    breed: BreedOptions = BreedOptions()
    latent: LatentOptions = LatentOptions()
    walk: WalkOptions = WalkOptions()
    pulse: PulseOptions = PulseOptions()
    truncation: TruncationOptions = TruncationOptions()
    hallucinate: HallucinateOptions = HallucinateOptions()
    zoom: ZoomOptions = ZoomOptions()
    rotary: RotaryOptions = RotaryOptions()
    morph: MorphOptions = MorphOptions()
    poses: PosesOptions = PosesOptions()
    loop: LoopOptions = LoopOptions()

    def replace(self, **sections: Any) -> Preset:
        """A copy with whole sections or top-level values replaced (validated)."""
        preset = dataclasses.replace(self, **sections)
        validate(preset)
        return preset


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
        if choices and value not in choices:
            raise PresetError(
                f"{key} = {value!r} is not allowed: choose one of {', '.join(choices)}"
            )
        return value
    return _check_list(key, meta["kind"], value)


def _finite(value: float) -> bool:  # not NaN, not infinite, no integer beyond 2**63
    return math.isfinite(value) if isinstance(value, float) else abs(value) <= 2**63


def _check_list(key: str, kind: str, value: Any) -> tuple:
    if not isinstance(value, list | tuple):
        raise PresetError(f"{key} must be a list, got {value!r}")
    if kind == "palettes":
        return tuple(_check_list(f"{key}[{i}]", "classes", item) for i, item in enumerate(value))
    if kind == "poses":
        return tuple(_check_pose(key, item) for item in value)
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


def _check_pose(key: str, item: Any) -> int | str:
    """A seed (0 to 2**63-1) or a saved latent reference ("pose.npy", "clip.npz@FRAME")."""
    if isinstance(item, int) and not isinstance(item, bool):
        return check_seed(item)
    if isinstance(item, str) and item.endswith(".npy"):
        return item
    if isinstance(item, str) and ".npz@" in item and item.rpartition("@")[2].isdigit():
        return item
    raise PresetError(
        f"{key} must list seeds or saved latents ('pose.npy', 'clip.npz@FRAME'), got {item!r}"
    )


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
    """Check every value's type and range, then reject bad combinations (PresetError)."""
    for name in SECTIONS:
        section = getattr(preset, name)
        for spec in dataclasses.fields(section):
            _check_value(f"{name}.{spec.name}", spec, getattr(section, spec.name))
    check_seed(preset.seed)
    if not isinstance(preset.description, str):
        raise PresetError(f"description must be a string, got {preset.description!r}")
    if preset.truncation.min > preset.truncation.max:
        raise PresetError(
            f"truncation.min = {preset.truncation.min} must not exceed "
            f"truncation.max = {preset.truncation.max}"
        )
    _validate_class_lists(preset)
    for name in ("keyframes", "poses"):
        section = getattr(preset, name)
        used = name == "poses" and section.seeds or preset.classes.mode == name
        if used and section.key == "times" and not section.times:
            raise PresetError(f'{name}.times must list segment start seconds when key = "times"')
    if preset.classes.palettes and preset.classes.switch != "sections":
        raise PresetError('classes.palettes is only used with classes.switch = "sections"')


def _validate_class_lists(preset: Preset) -> None:
    """Counts of classes after themes are expanded: 2+ keyframes, a pair to breed, ..."""
    mode, names = preset.classes.mode, preset.classes.names
    for section in ("keyframes", "morph"):
        own = getattr(preset, section).names
        if mode == section and len(spec_vectors(own or names)) == 1:
            key = f"{section}.names" if own else f"classes.names (used as {section})"
            raise PresetError(f"{key} needs at least 2 classes (or none for random ones)")
    count = len(spec_vectors(preset.breed.names))
    if preset.breed.names and count != 2:
        raise PresetError(
            f"breed.names needs exactly 2 classes (or none for a random pair), got {count}"
        )
    count = len(spec_vectors(names))
    if mode == "breed" and not preset.breed.names and count not in (0, 2):
        raise PresetError(
            f"classes.names (used as breed.names) needs exactly 2 classes, got {count}"
        )
    for i, palette in enumerate(preset.classes.palettes):
        if not palette:
            raise PresetError(f"classes.palettes[{i}] is empty: list at least one class")


def check_seed(seed: object) -> int:
    """``seed`` as an int in 0 to 2**63-1, else PresetError."""
    try:
        value = operator.index(seed)  # ints and numpy integers, not floats or strings
    except TypeError:
        value = None
    if isinstance(seed, bool) or value is None or not 0 <= value < 2**63:
        raise PresetError(f"seed = {seed!r} is out of range: allowed integers 0 to 2**63-1")
    return int(value)
