"""The class vector of each frame: the classes.mode techniques, then the crossfade.

Every class item (a class, a theme's classes, a class-arithmetic mix) is a row of 1000 weights
(`visualizer.mapping.arithmetic`), so each mode mixes rows:

- "chroma" (a, j): the chroma weights over the palette's rows; sections may switch palettes;
- "keyframes" (b): slerp / linear between consecutive rows over each segment, exact endpoints;
- "breed" (c): ``a * row1 + (1 - a) * row2`` with ``a`` following a signal;
- "morph" (l): a steady, tempo-locked glide through the rows, resting on each for `morph.hold`
  of its step, while the latent holds still (`morph.still`) so one pose changes species.

Any jump of the vector (a new palette, a live keyframe segment that starts early, a live preset
change) becomes a crossfade of `classes.crossfade` beats (`visualizer.mapping.crossfade`).
"""

from __future__ import annotations

import numpy as np

from visualizer.analysis.features import FrameFeatures
from visualizer.mapping.arithmetic import spec_vectors
from visualizer.mapping.breed import breed_weight
from visualizer.mapping.crossfade import Crossfade, fade_frames
from visualizer.mapping.interpolate import ease, slerp
from visualizer.mapping.palette import (
    chroma_matrix,
    chroma_weights,
    palette_for_section,
    random_palette,
)
from visualizer.mapping.presets import Preset
from visualizer.options import N_CLASSES

JUMP = 1e-3  # L1 change between frames that counts as a jump when the classes change
CLASS_SECTIONS = ("classes", "keyframes", "breed", "morph")  # what decides the classes


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


class ClassMixer:
    """Per-frame class vectors for one preset at a time; `step` returns float32 (1000,)."""

    def __init__(self, preset: Preset, *, order: np.ndarray, fps: float) -> None:
        self._order = order  # the seeded class permutation behind every random choice
        self._fps = fps
        self._section = 0
        self._segment = 0
        self._phase = 0.0  # morph: steps done, fractional
        self._palette_key: tuple | None = None
        self._fade = Crossfade()
        self.preset: Preset | None = None
        self.set_preset(preset)

    def set_preset(self, preset: Preset) -> None:
        """Use ``preset`` from the next frame on; a change of classes crossfades."""
        old = self.preset
        self._changed = old is not None and any(
            getattr(old, name) != getattr(preset, name) for name in CLASS_SECTIONS
        )
        self.preset = preset
        c = preset.classes
        self._names = spec_vectors(c.names, unique=True)
        self._palettes = [spec_vectors(p, unique=True) for p in c.palettes]
        self._keyframes = self._sequence(preset.keyframes.names or c.names)
        self._morph = self._sequence(preset.morph.names or c.names)
        bred = spec_vectors(preset.breed.names or c.names)
        self._bred = bred if len(bred) == 2 else one_hot(self._order[:2])
        self._palette_key = None  # recompute the palette on the next frame

    def _sequence(self, specs: tuple) -> np.ndarray:
        rows = spec_vectors(specs)
        return rows if len(rows) else one_hot(self._order)

    def step(self, frame: FrameFeatures, chroma, breed: float, segment) -> np.ndarray:
        """The class vector of ``frame``: ``chroma`` (12,) and ``breed`` in [0, 1] already
        smoothed, ``segment`` the keyframe `SegmentPosition`. Frames come in order."""
        p, tempo = self.preset, frame.tempo
        changed, self._changed = self._changed, False
        if frame.is_section_start and frame.index > 0:
            self._section += 1
        if p.classes.mode == "chroma":
            changed |= self._update_palette()
            weights = chroma_weights(chroma, self._matrix, p.classes.sensitivity)
            target = weights @ self._palette
        elif p.classes.mode == "keyframes":
            changed |= segment.index != self._segment
            self._segment = segment.index
            target = self._keyframe(segment)
        elif p.classes.mode == "morph":
            target = self._glide(tempo)
        else:
            a = breed_weight(breed, p.breed.min, p.breed.max)
            target = a * self._bred[0] + (1.0 - a) * self._bred[1]
        shown = self._fade.shown
        changed = changed and shown is not None and np.abs(target - shown).sum() > JUMP
        length = fade_frames(p.classes.crossfade, tempo, self._fps)
        return self._fade.step(target.astype(np.float32), changed=changed, length=length)

    def _update_palette(self) -> bool:
        """Pick the palette of the current section; True when it changed."""
        c = self.preset.classes
        key = (self._section, c.switch)
        if key == self._palette_key:
            return False

        def random(number: int) -> np.ndarray:
            return one_hot(random_palette(self._order, number, c.count))

        switch = c.switch == "sections"
        palette = palette_for_section(self._section, self._names, self._palettes, random, switch)
        changed = self._palette_key is not None and not np.array_equal(palette, self._palette)
        self._palette, self._palette_key = palette, key
        self._matrix = chroma_matrix(len(palette))
        return changed

    def _keyframe(self, segment) -> np.ndarray:
        keys, k = self._keyframes, self.preset.keyframes
        a, b = keys[segment.index % len(keys)], keys[(segment.index + 1) % len(keys)]
        u = ease(segment.progress) if k.ease else segment.progress
        return glide(a, b, u, k.interpolation)

    def _glide(self, tempo: float) -> np.ndarray:
        """Morph: rest on row i for `hold` of the step, then glide (slerp, eased) to row i+1."""
        m, rows = self.preset.morph, self._morph
        step = int(self._phase)
        u = self._phase - step
        u = ease(max(0.0, (u - m.hold) / (1.0 - m.hold)))
        vector = glide(rows[step % len(rows)], rows[(step + 1) % len(rows)], u, "slerp")
        seconds = m.beats * 60.0 / tempo if tempo > 0 else m.seconds
        self._phase += 1.0 / (seconds * self._fps)
        return vector
