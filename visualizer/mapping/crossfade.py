"""Class changes that breathe (technique n): a crossfade instead of a one-frame jump.

When the classes change all at once (a section switches the palette, a keyframe segment starts
before its estimate ran out in live mode, a live preset change), the class vector glides from the
last vector shown to the new one over a set number of frames, with a smoothstep so the glide
starts and ends gently. A change arriving mid-fade starts a new fade from the vector on screen,
so the output never jumps.
"""

from __future__ import annotations

import numpy as np

from visualizer.mapping.interpolate import ease

ASSUMED_TEMPO = 120.0  # BPM while the track's tempo is unknown (live mode before the first beats)


def fade_frames(beats: float, tempo: float, fps: float) -> int:
    """Frames of a crossfade of ``beats`` beats at ``tempo`` BPM (0 or less = unknown)."""
    bpm = tempo if tempo > 0 else ASSUMED_TEMPO
    return max(0, round(beats * 60.0 / bpm * fps))


def min_segment(beats: float, tempo: float, fps: float) -> int:
    """Frames a keyframe or pose segment lasts at least offline: one crossfade, at least 2."""
    return max(2, fade_frames(beats, tempo, fps))


class Crossfade:
    """State: the vector shown last, and the fade in progress (from-vector and frames left)."""

    def __init__(self) -> None:
        self.shown: np.ndarray | None = None
        self._start: np.ndarray | None = None
        self._length = 0
        self._done = 0

    def step(self, target: np.ndarray, *, changed: bool, length: int) -> np.ndarray:
        """The vector to show this frame for the classes' own ``target`` (1000,).

        ``changed``: the classes changed at this frame. The fade then covers ``length`` frames:
        the k-th frame from the change (k = 1 ... length) shows ``ease(k / length)`` of the
        target, so the change's frame already moves and frame ``length`` is the target alone.
        """
        if changed and self.shown is not None and length > 0:
            self._start, self._length, self._done = self.shown, length, 0
        if self._start is not None:
            self._done += 1
            weight = ease(min(1.0, self._done / self._length))
            target = (1.0 - weight) * self._start + weight * target
            if self._done >= self._length:
                self._start = None
        self.shown = np.asarray(target, dtype=np.float32)
        return self.shown
