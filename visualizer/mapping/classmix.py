"""The class stage: the class technique that ``classes.mode`` names, then the crossfade (n).

Every class item (a class, a theme's classes, a class-arithmetic mix) is a row of 1000 weights
(`visualizer.mapping.arithmetic`), so each class technique mixes rows: "chroma" (`palette`),
"keyframes" (`keyframes`), "breed" (`breed`), "morph" (`morph`), and whatever else registers a
class mode. Any jump of the vector (a new palette, a live keyframe segment that starts early, a
live preset change) becomes a crossfade of `classes.crossfade` beats
(`visualizer.mapping.crossfade`); a live change of the class sections waits for the next beat,
bar, phrase or section when `classes.quantize` asks. Also the helpers those techniques share.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from visualizer.errors import PresetError
from visualizer.mapping.arithmetic import spec_vectors
from visualizer.mapping.crossfade import Crossfade, fade_frames
from visualizer.mapping.interpolate import slerp
from visualizer.mapping.musical import on_grid
from visualizer.mapping.technique import Frame, Technique
from visualizer.options import N_CLASSES

JUMP = 1e-3  # L1 change between frames that counts as a jump when the classes change


def one_hot(indices: np.ndarray) -> np.ndarray:
    """float32 (len(indices), 1000) rows with a single 1 each."""
    rows = np.zeros((len(indices), N_CLASSES), dtype=np.float32)
    rows[np.arange(len(indices)), indices] = 1.0
    return rows


def glide(a: np.ndarray, b: np.ndarray, u: float, kind: str) -> np.ndarray:
    """Row ``a`` at u = 0 to row ``b`` at u = 1 (exactly), "linear" or "slerp" in between."""
    if np.array_equal(a, b):
        return a
    return slerp(a, b, u) if kind == "slerp" else (1.0 - u) * a + u * b


def sequence(specs: Sequence, order: np.ndarray) -> np.ndarray:
    """(N, 1000) rows of the listed classes in order, or every class in the seeded ``order``."""
    rows = spec_vectors(specs)
    return rows if len(rows) else one_hot(order)


def check_sequence(preset: Any, name: str) -> None:
    """PresetError when the mode ``name`` is on and its classes (its own ``names``, else
    classes.names) are a single class: a sequence needs 2 or more, or none for random ones."""
    own = getattr(preset, name).names
    if preset.classes.mode == name and len(spec_vectors(own or preset.classes.names)) == 1:
        key = f"{name}.names" if own else f"classes.names (used as {name})"
        raise PresetError(f"{key} needs at least 2 classes (or none for random ones)")


def _discrete_change(old: Any, new: Any) -> bool:
    """Do the sections ``old`` and ``new`` differ in a key that is not a float?"""
    return any(
        getattr(old, f.name) != getattr(new, f.name) and not isinstance(f.default, float)
        for f in dataclasses.fields(old)
    )


class ClassStage:
    """Per-frame class vectors; `step` returns float32 (1000,). It hands each preset to the
    class techniques itself: a live change of their sections waits for `classes.quantize`."""

    def __init__(self, techniques: Sequence[Technique], *, fps: float) -> None:
        self._techniques = {technique.mode: technique for technique in techniques}
        self._fps = fps
        self._fade = Crossfade()
        self._changed = False
        self._waiting: Any = None  # a preset whose class change waits for the grid
        self.preset: Any = None

    def set_preset(self, preset: Any) -> None:
        """Use ``preset`` from the next frame on; a change of any class section crossfades. A
        change of which classes show (any class key but a float: names, palettes, modes, counts)
        waits for the next beat, bar, phrase or section when ``classes.quantize`` asks, while a
        float alone (a sensitivity an LFO moves, a smoothing) applies at once."""
        old = self.preset
        if old is None:
            self._apply(preset, False)
            return
        sections = [
            (getattr(old, t.name), getattr(preset, t.name)) for t in self._techniques.values()
        ]
        changed = any(a != b for a, b in sections)
        discrete = changed and any(_discrete_change(a, b) for a, b in sections)
        self._waiting = preset if discrete and preset.classes.quantize != "none" else None
        if self._waiting is None:
            self._apply(preset, changed)

    def _apply(self, preset: Any, changed: bool) -> None:
        self._changed = self._changed or changed
        self.preset = preset
        for technique in self._techniques.values():
            technique.set_preset(preset)

    def step(self, frame: Frame) -> np.ndarray:
        """The class vector of ``frame``: the mode's target, crossfaded after a jump."""
        waiting = self._waiting
        if waiting is not None and on_grid(frame.row, waiting.classes.quantize):
            self._waiting = None
            self._apply(waiting, True)
        c = self.preset.classes
        out = self._techniques[c.mode].step(frame, None)
        changed = (self._changed or out.cut) and self._fade.shown is not None
        self._changed = False
        changed = changed and np.abs(out.target - self._fade.shown).sum() > JUMP
        length = fade_frames(c.crossfade, frame.row.tempo, self._fps)
        return self._fade.step(out.target.astype(np.float32), changed=changed, length=length)
