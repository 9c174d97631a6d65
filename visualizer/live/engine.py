"""The live render loop: source -> causal analysis -> causal mapping -> generator -> sinks.

The loop never queues frames. Each turn it reads the source's audio up to its clock, analyses
and maps EVERY frame up to the clock's frame (cheap, so the mapping state is the one the offline
causal Timeline has), and renders only the newest of them; frames it had no time for are counted
as dropped. Finished frames go to subscribers, the sinks (`visualizer.live.sink`), each of which
holds its own slot, so a slow browser or receiver can never hold the render loop back.

The source (`visualizer.live.source`) is asked for the audio up to ``lead`` seconds past its
clock: the recent render time, at most 0.5 s. A source that knows what comes (a track played in
the page) gives the frame that will be heard when the render finishes, so the picture is on
time instead of one render late; a live input has nothing to look ahead to and ignores it.

Every mapped frame gets its beat from the show's one beat state (`visualizer.live.beat`): the
frame's display time (its time on the source's clock, carried over to the monotonic clock) plus
the output latency. That beat fills the mapping row's beat fields, lands the launches that wait
for it, and travels with the rendered frame to the page and to OSC and MIDI out. The input
calibration (`visualizer.live.calibrate`) sits between the source and the analysis.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import logging
import threading
import time
from collections.abc import Callable, Mapping
from fractions import Fraction

import numpy as np

from visualizer.analysis.causal import CausalAnalyzer
from visualizer.analysis.features import FrameFeatures
from visualizer.errors import VisualizerError
from visualizer.live.beat import FrameBeat
from visualizer.live.calibrate import InputCalibration
from visualizer.live.control import LiveControl
from visualizer.live.scene_fade import SceneFade
from visualizer.live.sink import Frame
from visualizer.live.source import Source
from visualizer.mapping.timeline import Timeline

log = logging.getLogger("visualizer")

MAX_LEAD_S = 0.5  # never render further ahead of the source's clock than this
KEPT_S = 2.0  # mapped frames kept to render from (an A/V offset delays the picture this much)
OFFSET_SNAP_S = 0.05  # the source's clock moved against the monotonic one by more: a seek/pause
FPS_WINDOW_S = 1.0  # the fps shown counts the frames published over the last second


def causal_timeline(
    rows: list[FrameFeatures],
    preset,
    *,
    seed: int,
    fps: Fraction,
    stems: list[dict[str, FrameFeatures]] | None = None,
) -> Timeline:
    """The offline causal Timeline: `CausalMapper` stepped over ``rows`` in order (with the
    preset's LFOs, which the mapper applies as live mode steps it); ``stems``: each frame's
    stem rows, when the show has stems."""
    from visualizer.mapping import CausalMapper

    stems = stems or [{} for _ in rows]
    mapper = CausalMapper(preset, seed=seed, fps=fps, stems=stems[0] if stems else ())
    outputs = [mapper.step(row, given) for row, given in zip(rows, stems, strict=True)]
    return _timeline(outputs, preset, seed, fps)


def _fitted(samples: np.ndarray, size: int) -> np.ndarray:
    """``samples`` cut or padded with silence to ``size`` (a stem's block to the mix's)."""
    if samples.size == size:
        return samples
    return np.pad(samples[:size], (0, max(0, size - samples.size))).astype(np.float32)


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _timeline(outputs: list, preset, seed: int, fps: Fraction) -> Timeline:
    from visualizer.mapping.presets import preset_to_toml

    n = len(outputs)
    return Timeline(
        class_vectors=np.asarray([o[0] for o in outputs], dtype=np.float32).reshape(n, 1000),
        noise=np.asarray([o[1] for o in outputs], dtype=np.float32).reshape(n, 128),
        truncation=np.asarray([o[2] for o in outputs], dtype=np.float32).reshape(n),
        fps=Fraction(fps),
        seed=int(seed),
        preset=preset_to_toml(preset),
    )


@dataclasses.dataclass
class Stats:
    frame: int = -1  # newest frame mapped
    rendered: int = 0  # frames rendered
    dropped: int = 0  # frames mapped but never rendered (rendering fell behind)
    render_fps: float = 0.0  # frames published over the last second (0 while frozen)
    render_ms: float = 0.0  # generator + JPEG time of the last frame
    latency_ms: float = 0.0  # audio clock minus the frame's time when the frame was published
    restarts: int = 0  # seeks back in the track (analysis restarted from 0)
    beats: int = 0  # beats mapped so far (the page's beat indicator flashes on a change)
    onsets: int = 0  # onsets mapped so far
    fade: float = -1.0  # progress of the scene crossfade of the newest frame, 0-1 (-1: none)


class LiveEngine:
    """Render loop. ``generator`` is a `visualizer.model.inference.Generator`, ``source`` a
    `visualizer.live.source.Source`.

    ``subscribe(fn)`` registers ``fn(frame: Frame)``, called from the render thread for every
    rendered frame; it must return at once (a sink only swaps a slot).
    """

    def __init__(
        self,
        *,
        generator,
        control: LiveControl,
        source: Source,
        fps: Fraction,
        seed: int,
        jpeg_quality: int = 85,
        keep_timeline: bool = False,
    ) -> None:
        self.generator, self.control, self.source = generator, control, source
        self.fps, self.seed, self.device = Fraction(fps), int(seed), generator.device
        self.jpeg_quality = jpeg_quality
        self.keep_timeline = keep_timeline
        self.stems = tuple(source.stems)  # the stems each block of the source carries
        self.stats = Stats()
        self.beat = control.beat  # the show's beat state
        self.calibration = InputCalibration()
        self.now = time.monotonic  # the clock frames are shown on (a test may set its own)
        self.lead = 0.0  # seconds a track is mapped ahead of its clock: the expected render time
        self._offset: float | None = None  # monotonic time minus the source's clock
        self._published: collections.deque[float] = collections.deque()
        self.cue_name: str | None = None  # the scene whose thumbnail ``cue`` is (JPEG bytes)
        self.cue: bytes | None = None
        self.cue_version = 0
        self._cue_seen = -1  # the control version the cue was last checked at
        self._subscribers: list[Callable[[Frame], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame_lock = threading.Lock()
        self._restart()

    # -- state -----------------------------------------------------------------------------
    def _restart(self) -> None:
        from visualizer.mapping import CausalMapper

        self.analyzer = CausalAnalyzer(self.source.sr, self.fps)
        # each stem is analysed on its own, on the same samples' clock as the mix
        self.stem_analyzers = {n: CausalAnalyzer(self.source.sr, self.fps) for n in self.stems}
        self.beat.restart()
        self._preset = self.control.take_change()
        self.mapper = CausalMapper(self._preset, seed=self.seed, fps=self.fps, stems=self.stems)
        self._good_preset = self._preset  # the last preset the mapper stepped without error
        # mapped frames not rendered yet: (index, classes, noise, truncation, beat)
        self._recent: collections.deque[tuple] = collections.deque()
        self._rendered_index = -1
        self.outputs: list[tuple[np.ndarray, np.ndarray, float]] = []
        self.rows: collections.deque[FrameFeatures] = collections.deque(
            maxlen=max(1, round(KEPT_S * float(self.fps)))
        )  # the newest rows, which a scene's cue thumbnail is mapped from
        self.stem_rows: collections.deque[dict[str, FrameFeatures]] = collections.deque(
            maxlen=self.rows.maxlen
        )  # and their stems' rows
        self.scene_fade = SceneFade()

    @property
    def _latest(self) -> tuple | None:
        """The newest mapped frame (index, classes, noise, truncation, beat), or None."""
        return self._recent[-1] if self._recent else None

    def subscribe(self, fn: Callable[[Frame], None]) -> None:
        self._subscribers.append(fn)

    def timeline(self) -> Timeline:
        """The mapped frames of this session as a Timeline (needs ``keep_timeline=True``).

        Safe while the render thread keeps appending: it reads a snapshot of the frames so far.
        """
        return _timeline(list(self.outputs), self._preset, self.seed, self.fps)

    # -- analysis and mapping --------------------------------------------------------------
    def feed(self, block: np.ndarray, stems: Mapping[str, np.ndarray] | None = None) -> int:
        """Analyse and map the frames completed by ``block`` (the mix) and ``stems`` (each
        stem's samples over the same span); returns how many."""
        rows = self.analyzer.push(self.calibration.process(block))
        stem_rows = {
            name: analyzer.push(self.calibration.gained(_fitted((stems or {})[name], block.size)))
            for name, analyzer in self.stem_analyzers.items()
        }  # the same samples: the same frames
        for i, row in enumerate(rows):
            self._map(row, {name: frames[i] for name, frames in stem_rows.items()})
        return len(rows)

    def advance(self) -> int:
        """Bring analysis and mapping up to the source's clock; returns frames mapped."""
        block = self.source.read(self.lead + max(0.0, -self.calibration.offset_s))
        if block.restart:
            # a seek back: replay from the start so the state equals the uninterrupted one
            # (counted once done, so whoever sees the count sees the state started over)
            self._restart()
            self.stats.frame = -1  # nothing mapped since the restart yet
            self.stats.restarts += 1
        self._follow_clock()
        return self.feed(block.samples, block.stems) if block.samples.size else 0

    def _follow_clock(self) -> None:
        """Carry the source's clock over to the monotonic one: ``_offset`` is the monotonic
        time at which the source's second 0 is shown, smoothed (a track's clock comes in page
        reports, a sound card's in blocks), snapping after a seek or a pause."""
        reading = self.source.clock()
        if reading is None:
            return
        measured = self.now() - reading.seconds
        if self._offset is None or abs(measured - self._offset) > OFFSET_SNAP_S:
            self._offset = measured
        else:
            self._offset += 0.05 * (measured - self._offset)

    def shown_at(self, index: int) -> float:
        """The monotonic time at which frame ``index`` is shown (its time on the source's
        clock carried over, plus the A/V offset)."""
        offset = self.now() if self._offset is None else self._offset
        return offset + float(index / self.fps) + self.calibration.offset_s

    def _map(self, row: FrameFeatures, stems: dict[str, FrameFeatures]) -> None:
        shown = self.shown_at(row.index)
        self.beat.observe(row, shown)
        beat = self.beat.frame(shown)
        row = self.calibration.apply(self.beat.apply(row, beat))
        stems = {name: self.calibration.apply(stem) for name, stem in stems.items()}
        self.rows.append(row)
        self.stem_rows.append(stems)
        preset = self.control.take_change(beat)
        if preset is not self._preset:
            self.scene_fade.start(self.mapper, round(self.control.take_fade() * self.fps))
            self.mapper.set_preset(preset)
            self._preset = preset
        self.stats.beats += bool(row.is_beat)
        self.stats.onsets += bool(row.is_onset)
        try:
            stepped = self.mapper.step(row, stems)
        except Exception as error:
            if self._preset is self._good_preset:
                raise
            # A value that passed validation but breaks the mapper: go back to the last preset
            # that produced frames, tell the user once, keep playing.
            self.control.reject(self._preset, self._good_preset, error)
            self.mapper.set_preset(self._good_preset)
            self._preset = self._good_preset
            stepped = self.mapper.step(row, stems)
        self._good_preset = self._preset
        class_vector, noise, truncation = self.scene_fade.blend(row, stepped, stems)
        if self.keep_timeline:
            self.outputs.append((class_vector, noise, truncation))
        self._recent.append((row.index, class_vector, noise, float(truncation), beat))
        while len(self._recent) > 1 and row.index - self._recent[0][0] > KEPT_S * self.fps:
            self._recent.popleft()
        self.stats.frame = row.index
        self.stats.fade = self.scene_fade.progress

    def _due(self) -> tuple | None:
        """The newest mapped frame due on screen (all of them without an A/V delay)."""
        delay = self.calibration.offset_s
        reading = self.source.clock() if delay > 0 else None
        if reading is None:
            return self._latest
        horizon = (reading.seconds + self.lead - delay) * self.fps
        due = [frame for frame in self._recent if frame[0] <= horizon]
        return due[-1] if due else None

    # -- rendering -------------------------------------------------------------------------
    def render_latest(self) -> bool:
        """Render the newest mapped frame due if it was not rendered yet; True when one was."""
        latest = self._due()
        if latest is None or latest[0] <= self._rendered_index or self.control.frozen:
            self._count_published(None)
            return False  # frozen: the outputs keep the last picture
        index, class_vector, noise, truncation, beat = latest
        started = time.perf_counter()
        if self.control.blackout:
            side = self.generator.resolution
            pixels = np.zeros((side, side, 3), dtype=np.uint8)
        else:
            pixels = self._generate(class_vector, noise, truncation)
        jpeg = _jpeg(pixels, self.jpeg_quality)
        elapsed = time.perf_counter() - started
        self.stats.dropped += max(0, index - self._rendered_index - 1)
        self._rendered_index = index
        s = self.stats
        s.rendered += 1
        s.render_ms = 1000.0 * elapsed
        self._count_published(time.monotonic())
        self.lead = min(MAX_LEAD_S, 0.8 * self.lead + 0.2 * elapsed)
        t = float(index / self.fps)
        now = self.source.clock()
        if now is not None:
            s.latency_ms = 1000.0 * (now.seconds - t)
        scenes = self.control.scenes()
        info = self._info(beat)
        self._publish(Frame(index, t, pixels, jpeg, info, beat.state, **scenes))
        return True

    def _count_published(self, at: float | None) -> None:
        """The fps shown: frames published over the last `FPS_WINDOW_S` (never the inverse of
        one frame's render time, which a black frame makes absurd)."""
        now = time.monotonic() if at is None else at
        if at is not None:
            self._published.append(at)
        while self._published and now - self._published[0] > FPS_WINDOW_S:
            self._published.popleft()
        self.stats.render_fps = len(self._published) / FPS_WINDOW_S

    def _info(self, beat: FrameBeat) -> dict[str, float]:
        state = beat.state
        extra = {"bpm": state.bpm, "bar": state.bar, "beat_in_bar": state.beat_in_bar,
                 "beat": state.beat, "playing": float(state.playing)}  # fmt: skip
        return {**dataclasses.asdict(self.stats), "version": self.control.version, **extra}

    def _publish(self, frame: Frame) -> None:
        for fn in list(self._subscribers):
            try:
                fn(frame)
            except Exception:  # a broken subscriber must not stop the show
                log.exception("frame subscriber failed")

    def _generate(self, class_vector, noise, truncation: float) -> np.ndarray:
        """One frame, uint8 (R, R, 3), from the generator."""
        import torch

        frames = self.generator.frames(
            torch.as_tensor(np.asarray(noise, dtype=np.float32)[None], device=self.device),
            torch.as_tensor(np.asarray(class_vector, dtype=np.float32)[None], device=self.device),
            torch.tensor([truncation], dtype=torch.float32, device=self.device),
        )
        return frames[0].cpu().numpy()

    # -- the loop --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="live-render", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def render_cue(self) -> bool:
        """Render the thumbnail of the scene that comes next (the one waiting to land, else the
        next one) when that changed: its Timeline mapped over the newest rows, last frame.
        True when a new thumbnail was made."""
        version = self.control.version
        if version == self._cue_seen or not self.rows:
            return False  # nothing changed since: the next scene is the same (and saves a scan)
        self._cue_seen = version
        name = self.control.next_scene()
        if name == self.cue_name:
            return False
        self.cue_name = name
        try:
            preset = self.control.scene_preset(name)
        except VisualizerError:  # a saved scene removed since: no thumbnail
            self.cue = None
            return False
        timeline = causal_timeline(
            list(self.rows), preset, seed=self.seed, fps=self.fps, stems=list(self.stem_rows)
        )
        pixels = self._generate(
            timeline.class_vectors[-1], timeline.noise[-1], float(timeline.truncation[-1])
        )
        self.cue = _jpeg(pixels, self.jpeg_quality)
        self.cue_version += 1
        return True

    def _loop(self) -> None:
        last_poll = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_poll > 0.5:
                    last_poll = time.monotonic()
                    self.control.poll_file()
                    self.render_cue()
                self.advance()
                if not self.render_latest():
                    self._stop.wait(min(0.005, 0.25 / float(self.fps)))
            except Exception as error:  # keep playing: log and go on
                log.exception("live render loop: %s", error)
                self._stop.wait(0.1)
