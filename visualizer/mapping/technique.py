"""The technique interface: what a mapping technique owns, reads, keeps and does each frame.

A technique is one file holding its preset section (a frozen dataclass whose fields are made with
`opt`, so the schema knows each default, range and allowed word) and a `Technique` subclass,
plus one line in `visualizer.mapping.registry`. From that line alone the preset schema (TOML
loading, validation, ``--set``, ``visualizer presets show``), the live page's controls and the
mapper pick it up. Each technique draws only from its own random stream, `stream(seed, name)`,
so adding or removing one never changes what another draws.

Per frame the mapper runs the stages in this order, each technique of a stage in registry order:

- "classes": the technique whose `mode` is ``classes.mode`` gives the frame's class vector
  target (1000,) and whether it cut (a jump to crossfade over); the others wait;
- "latent": each maps standard normal values g (128,) to standard normal values (the latent
  law, DESIGN "The latent": rotations, blends and folds that keep N(0, 1)); the chain starts
  from the seed's home latent, then `to_truncated` maps g into [-latent.bound, latent.bound];
- "pose": each maps that truncated-normal latent u (128,) to another one;
- "truncation": each maps the truncation (starting at 1.0) to a value in (0, 1].
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from visualizer.analysis.features import FrameFeatures
from visualizer.content import text_sha256
from visualizer.errors import PresetError

# Per-frame signals a technique's `feature` key can name, all in [0, 1] (`mapping.signals`).
FEATURES = ("energy", "rise", "onset", "low", "mid", "high", "constant")
STAGES = ("classes", "latent", "pose", "truncation")
# The words classes.mode allows: the registry adds each class technique's `mode` here.
CLASS_MODES: list[str] = []


def opt(default: Any, lo: float | None = None, hi: float | None = None, **meta: Any) -> Any:
    """A preset field: its default and its allowed range (``lo``/``hi``), ``choices`` (words)
    or list ``kind`` ("classes", "palettes", "times", or any kind with an item ``check``),
    kept as metadata for the schema and the live page."""
    return field(default=default, metadata={"lo": lo, "hi": hi, **meta})


def check_seed(seed: object) -> int:
    """``seed`` as an int in 0 to 2**63-1, else PresetError."""
    try:
        value = operator.index(seed)  # type: ignore[arg-type]  # ints and numpy integers only
    except TypeError:
        value = None
    if isinstance(seed, bool) or value is None or not 0 <= value < 2**63:
        raise PresetError(f"seed = {seed!r} is out of range: allowed integers 0 to 2**63-1")
    return int(value)


def stable_hash(name: str) -> int:
    """The first 8 bytes of the sha256 of ``name`` as a number: the same in every process and
    version (never Python's `hash`, which changes per process)."""
    return int(text_sha256(name)[:16], 16)


def stream(seed: int, name: str) -> np.random.Generator:
    """The random stream of the technique (or part) called ``name`` for ``seed``."""
    return np.random.default_rng([seed, stable_hash(name)])


class Drive(NamedTuple):
    """A signal a technique follows: smoothed for it by the mapper, causally (an EMA) or, offline,
    with zero phase (no lag)."""

    # a name of FEATURES, or "chroma" for the (12,) pitch-class row, of the mix, or of a source
    # as SOURCE.FEATURE (`visualizer.mapping.routing`)
    feature: str
    smoothing: float  # time constant in seconds (0 = the raw signal)


class Setup(NamedTuple):
    """What a technique starts from."""

    rng: np.random.Generator  # its own stream: `stream(seed, name)`
    fps: float
    home: np.ndarray  # float64 (128,) standard normal values: the seed's latent before motion


class Classes(NamedTuple):
    """A class technique's output for one frame."""

    target: np.ndarray  # (1000,) class weights
    cut: bool  # the classes jumped here (a new palette or segment): the mapper crossfades


class Frame(NamedTuple):
    """What every technique sees of one frame."""

    row: FrameFeatures  # the mix's features (index, onsets, beats, tempo, ...): musical time
    drives: dict[str, Any]  # each technique's smoothed `Drive`, by technique name
    section: int  # the mix's sections started so far (0 in the first section)
    # each source the preset reads ("mix", and stems given or stood in for) -> its row, and
    # its sections started so far (`visualizer.mapping.routing`)
    sources: Mapping[str, FrameFeatures]
    sections: Mapping[str, int]


class Technique:
    """Base class of a mapping technique; a subclass sets the class attributes and overrides
    `step` and whichever of the other methods it needs. Its instance is its state."""

    name: ClassVar[str]  # the preset section it owns, and the name of its random stream
    Options: ClassVar[type]  # that section's frozen dataclass (fields made with `opt`)
    stage: ClassVar[str]  # one of STAGES
    mode: ClassVar[str] = ""  # class stage: the classes.mode word that selects it
    reads: ClassVar[tuple[str, ...]] = ()  # FrameFeatures fields it reads besides its drive
    # Set by `step` where the technique changes what it shows at once (a new keyframe, palette,
    # morph class or pose): what `quantize` places on the music's boundaries, and what
    # `visualizer.bench.reactivity` counts. Only the techniques stepped at a frame set it.
    changed: bool = False

    def __init__(self, setup: Setup) -> None:
        """Draw what the technique needs, from ``setup.rng`` only."""
        self.fps = setup.fps
        self.preset: Any = None
        self.options: Any = None

    @classmethod
    def check(cls, preset: Any) -> None:
        """Reject bad combinations in a validated preset (PresetError naming the key)."""

    def drive(self, options: Any) -> Drive | None:
        """The signal this technique follows under ``options``, or None."""
        return None

    def set_preset(self, preset: Any) -> None:
        """Use ``preset`` from the next frame on, keeping the state (live changes)."""
        self.preset = preset
        self.options = getattr(preset, self.name)

    def plan(self, features: Any) -> None:
        """Offline only, before the first frame: look ahead over the whole track's Features."""

    def step(self, frame: Frame, value: Any) -> Any:
        """One frame (frames come in order): the stage's value in, the new value out."""
        raise NotImplementedError
