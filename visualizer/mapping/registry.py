"""The mapping techniques, in one table: the only list of them.

A technique (`visualizer.mapping.technique`) is one file and one line in `BUILT_IN`; within a
stage, techniques run in table order. The preset schema builds its sections from `sections()`:
one per technique, then the sections no technique owns, `OTHER_SECTIONS`:

- ``latent``: the law every latent technique keeps (the truncation bound), read by the mapper;
- ``loop``: a post-process of the whole clip (`visualizer.mapping.loop`), never live.

A technique from elsewhere (a plugin, a test) is added with `register` before the first preset
is built: the schema reads the table once, so the table closes then.
"""

from __future__ import annotations

from visualizer.mapping.breed import Breed
from visualizer.mapping.hallucinate import Hallucinate
from visualizer.mapping.keyframes import Keyframes
from visualizer.mapping.lfo import LfoTechnique
from visualizer.mapping.loop import LoopOptions
from visualizer.mapping.morph import Morph
from visualizer.mapping.motion import LatentOptions
from visualizer.mapping.palette import Palette
from visualizer.mapping.poses import Poses
from visualizer.mapping.pulse import Pulse
from visualizer.mapping.rotary import Rotary
from visualizer.mapping.technique import CLASS_MODES, STAGES, Technique
from visualizer.mapping.truncation import Truncation
from visualizer.mapping.walk import Walk
from visualizer.mapping.zoom import Zoom

BUILT_IN: tuple[type[Technique], ...] = (
    Palette,  # a, j: classes.mode = "chroma", palettes per section; owns [classes]
    Keyframes,  # b: classes.mode = "keyframes"
    Breed,  # c: classes.mode = "breed"
    Morph,  # l: classes.mode = "morph"
    Walk,  # d: the latent's source, moving as far as the energy asks
    Hallucinate,  # g
    Zoom,  # h
    Pulse,  # e
    Rotary,  # i
    Poses,  # m: latent keyframes (and the still latent of a class morph)
    Truncation,  # f
    LfoTechnique,  # tempo-synced LFOs on other sections' keys (`visualizer.mapping.lfo`)
)
OTHER_SECTIONS: dict[str, type] = {"latent": LatentOptions, "loop": LoopOptions}
RESERVED = ("description", "seed", "base", "replace")  # top-level keys, Preset's method

TECHNIQUES: list[type[Technique]] = []  # every registered technique, in table order
_closed = False


def register(technique: type[Technique]) -> None:
    """Add ``technique`` (last in its stage). ValueError when it clashes with another or lacks
    part of the interface; RuntimeError once the preset schema has been built."""
    if _closed:
        raise RuntimeError(
            f"technique {technique.__name__!r} registered after the preset schema was built: "
            "register techniques before the first preset is loaded"
        )
    problem = _problem(technique)
    if problem:
        raise ValueError(f"technique {technique.__name__!r}: {problem}")
    TECHNIQUES.append(technique)
    if technique.stage == "classes":
        CLASS_MODES.append(technique.mode)


def _problem(technique: type[Technique]) -> str | None:
    """What keeps ``technique`` out of the table, or None."""
    name = getattr(technique, "name", "")
    taken = [t.name for t in TECHNIQUES] + list(OTHER_SECTIONS) + list(RESERVED)
    if not name.isidentifier() or name.startswith("_") or name in taken:
        return f"name {name!r} must be a new identifier (taken: {', '.join(taken)})"
    if getattr(technique, "stage", None) not in STAGES:
        return f"stage must be one of {', '.join(STAGES)}"
    params = getattr(getattr(technique, "Options", None), "__dataclass_params__", None)
    if params is None or not params.frozen:
        return "Options must be a frozen dataclass"
    if technique.step is Technique.step:
        return "it has no step"
    if technique.stage == "classes" and (not technique.mode or technique.mode in CLASS_MODES):
        return f"a class technique needs a new mode word (taken: {', '.join(CLASS_MODES)})"
    return None


def sections() -> dict[str, type]:
    """Every preset section: name -> options dataclass, the techniques' first. Closes the table."""
    global _closed
    _closed = True
    return {**{t.name: t.Options for t in TECHNIQUES}, **OTHER_SECTIONS}


def in_stage(stage: str) -> list[type[Technique]]:
    """The registered techniques of ``stage``, in table order."""
    return [t for t in TECHNIQUES if t.stage == stage]


for _technique in BUILT_IN:
    register(_technique)
