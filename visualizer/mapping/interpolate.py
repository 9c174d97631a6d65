"""Interpolation and segments, shared by class keyframes (b), latent poses (m) and loops (o).

The track is cut into segments at sections, every N beats, bars or phrases (counted on the
analysis's beats, downbeats and phrase starts), or given times; a quantised start waits for the
next beat, bar, phrase or section (`visualizer.mapping.musical`). Within segment s a
value moves from key s to key s+1 with exact endpoints: the segment's first frame is key s alone
and its last frame key s+1 alone. Offline the segment ends are known (`Segments.plan`); live
(causal) they are estimated, and the value holds key s+1 once the estimate runs out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visualizer.analysis.features import Features, FrameFeatures
from visualizer.errors import PresetError
from visualizer.mapping.musical import FLAGS, Quantizer, grid_frames, singular, snap


def ease(u: float) -> float:
    """Smoothstep on [0, 1]: 0 -> 0 and 1 -> 1 exactly, zero slope at both ends."""
    return u * u * (3.0 - 2.0 * u)


def mix_weights(u: float, kind: str, omega: float = math.pi / 2) -> tuple[float, float]:
    """(weight of A, weight of B) at progress ``u`` in [0, 1] for "linear" or "slerp".

    ``omega`` is the angle between A and B (pi/2 for two different one-hot classes). Both give
    exactly (1, 0) at u = 0 and (0, 1) at u = 1.
    """
    if kind == "linear" or omega < 1e-6:
        return 1.0 - u, u
    s = math.sin(omega)
    return math.sin((1.0 - u) * omega) / s, math.sin(u * omega) / s


def slerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    """Spherical interpolation between two vectors that are not opposite (exact at u = 0, 1)."""
    cos = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12)
    wa, wb = mix_weights(u, "slerp", math.acos(min(1.0, max(-1.0, cos))))
    return wa * a + wb * b


def boundaries(
    key: str,
    n_frames: int,
    *,
    sections=(),
    beats=(),
    downbeats=(),
    phrases=(),
    every: int = 1,
    times=(),
    fps: float = 30,
    min_gap: int = 1,
    grid: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted unique segment start frames in [0, n_frames), always starting with 0.

    ``key``: each section, every ``every``-th beat, bar (downbeat) or phrase counted from the
    first, or the given ``times`` (seconds). With a quantisation ``grid`` (`musical.grid_frames`)
    each start waits for the grid's next frame. A segment shorter than ``min_gap`` frames (a
    first beat two frames into the track, a last one just before its end) joins its neighbour:
    with exact endpoints it would otherwise cross a whole keyframe in a frame or two, which reads
    as a cut.
    """
    if key == "times":
        starts = np.array([round(t * fps) for t in times], dtype=np.int64)
    else:
        events = {"sections": sections, "beats": beats, "bars": downbeats, "phrases": phrases}
        starts = np.asarray(events[key], dtype=np.int64)
        starts = starts if key == "sections" else starts[::every]
    starts = snap(starts[starts > 0], grid)  # frame 0 starts the first segment: never moved
    if not n_frames:
        return np.zeros(0, np.int64)
    kept = [0]
    for start in np.unique(starts[(starts > 0) & (starts < n_frames)]).tolist():
        if start - kept[-1] >= min_gap and n_frames - start >= min_gap:
            kept.append(start)
    return np.array(kept, dtype=np.int64)


def segments_offline(starts: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(segment index (T,) int, progress (T,) float64 in [0, 1]) with exact endpoints.

    Progress is 0 on a segment's first frame and 1 on its last; a one-frame segment stays at 0.
    """
    index = np.zeros(n_frames, dtype=np.int64)
    progress = np.zeros(n_frames, dtype=np.float64)
    if not len(starts):
        return index, progress
    ends = np.append(starts[1:], n_frames)
    for s, (start, end) in enumerate(zip(starts, ends, strict=True)):
        index[start:end] = s
        if end - start > 1:
            progress[start:end] = np.arange(end - start) / (end - start - 1)
    return index, progress


class Segmenter:
    """Causal segment tracking: feed each frame, get (segment index, progress in [0, 1])."""

    def __init__(self) -> None:
        self.segment = -1
        self.start = 0
        self.seen = 0  # beats, bars or phrases counted so far (the key's unit)
        self._last_flag = -1  # the frame of the last one
        self._unit = 0.0  # frames between the last two (0 until two were seen)
        self._quantizer = Quantizer()

    def step(
        self,
        row: FrameFeatures,
        *,
        key: str,
        every: int,
        quantize: str,
        time_starts: np.ndarray,
        fps: float,
        guess: float,
    ) -> tuple[int, float]:
        index = row.index
        if key == "times":
            new = bool(np.any(time_starts == index))
        else:
            flag = bool(getattr(row, FLAGS[singular(key)]))
            new = flag and (key == "sections" or self.seen % every == 0)
            self.seen += flag
            if flag:
                self._unit = float(index - self._last_flag) if self._last_flag >= 0 else 0.0
                self._last_flag = index
        if self.segment < 0:
            self.segment, self.start = 0, index
        elif self._quantizer.step(row, quantize, int(new)) and index > self.start:
            self.segment += 1
            self.start = index
        length = guess * fps  # frames the segment is assumed to last
        if key in ("beats", "bars", "phrases"):
            unit = self._unit  # the last one's length; before two, the tempo's beat or bar
            if not unit and key != "phrases" and row.tempo > 0:
                unit = ((row.meter or 4) if key == "bars" else 1) * 60.0 / row.tempo * fps
            length = every * unit if unit else length
        elif key == "times":
            later = time_starts[time_starts > self.start]
            if later.size:
                length = float(later[0] - self.start)
        progress = (index - self.start) / max(length - 1.0, 1.0)
        return self.segment, min(1.0, progress)


class Segments:
    """Where each frame lies between keys, for one keyed section (fields key, every, quantize,
    times, guess): estimated frame by frame, or exact once `plan` has seen the whole track."""

    def __init__(self, fps: float) -> None:
        self._fps = fps
        self._segmenter = Segmenter()
        self._planned: list[tuple[int, float]] | None = None
        self._times: tuple = ()
        self._time_starts = np.zeros(1, dtype=np.int64)

    def plan(self, features: Features, options: Any, *, min_gap: int) -> None:
        """Use the exact segment ends of the whole track (offline look-ahead)."""
        starts = boundaries(
            options.key, features.n_frames, sections=features.sections, beats=features.beats,
            downbeats=features.downbeats, phrases=features.phrases, every=options.every,
            times=options.times, fps=self._fps, min_gap=min_gap,
            grid=grid_frames(features, options.quantize),
        )  # fmt: skip
        index, progress = segments_offline(starts, features.n_frames)
        self._planned = list(zip(index.tolist(), progress.tolist(), strict=True))

    def step(self, row: FrameFeatures, options: Any) -> tuple[int, float]:
        """(segment index, progress in [0, 1]) of ``row``; frames come in order."""
        if self._planned is not None:
            return self._planned[row.index]
        if options.times != self._times:
            self._times = options.times
            times = [round(t * self._fps) for t in options.times]
            self._time_starts = np.array(sorted({0, *times}), dtype=np.int64)
        return self._segmenter.step(
            row, key=options.key, every=options.every, quantize=options.quantize,
            time_starts=self._time_starts, fps=self._fps, guess=options.guess,
        )  # fmt: skip


def check_times(name: str, options: Any, used: bool) -> None:
    """PresetError when a used keyed section asks for key = "times" without listing any."""
    if used and options.key == "times" and not options.times:
        raise PresetError(f'{name}.times must list segment start seconds when key = "times"')
