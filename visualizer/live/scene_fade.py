"""Scene crossfade: the generator inputs of the old scene blend into the new scene's (all of
them, where `visualizer.mapping`'s crossfades glide the class vector within a scene).

When a scene changes with a crossfade of N frames, a copy of the mapper as it was keeps
mapping the old scene while the live mapper plays the new one; frame k of the fade shows
``(1 - a) * old + a * new`` with ``a = k / N`` for the class vector, the noise and the
truncation. Both mappers start from the same state (the copy), so the latent does not jump;
BigGAN morphs smoothly along a blend of class vectors. After N frames the copy is dropped.
"""

from __future__ import annotations

import copy

import numpy as np


class SceneFade:
    """The fade in progress, if any; `blend` is called once per mapped frame."""

    def __init__(self) -> None:
        self._old = None  # the mapper of the old scene while a fade runs
        self._frames = 0
        self._done = 0

    @property
    def active(self) -> bool:
        return self._old is not None

    @property
    def progress(self) -> float:
        """How far the fade has come, 0-1 (1 on its last frame); -1 when none runs."""
        return self._done / self._frames if self._frames and (self._old or self._done) else -1.0

    def start(self, mapper, frames: int) -> None:
        """Call BEFORE ``mapper.set_preset(new)``: keeps a copy mapping the old scene."""
        if frames <= 0:
            self._old = None
            return
        self._old = copy.deepcopy(mapper)
        self._frames, self._done = int(frames), 0

    def blend(self, row, step, stems=None):
        """``step`` (classes, noise, truncation) of the new scene, faded from the old one
        (``stems``: the frame's stem rows, which the old scene's mapper reads too)."""
        if self._old is None:
            return step
        old = self._old.step(row, stems)
        self._done += 1
        a = self._done / self._frames
        if self._done >= self._frames:
            self._old, self._frames = None, 0
        classes = ((1.0 - a) * old[0] + a * step[0]).astype(np.float32)
        noise = ((1.0 - a) * old[1] + a * step[1]).astype(np.float32)
        truncation = (1.0 - a) * float(old[2]) + a * float(step[2])
        return type(step)(classes, noise, truncation)
