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
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from visualizer.analysis.causal import CausalAnalyzer
from visualizer.analysis.features import FrameFeatures
from visualizer.live.control import LiveControl
from visualizer.live.scene_fade import SceneFade
from visualizer.live.sink import Frame
from visualizer.live.source import Source
from visualizer.mapping.timeline import Timeline

log = logging.getLogger("visualizer")

MAX_LEAD_S = 0.5  # never render further ahead of the source's clock than this


def causal_timeline(rows: list[FrameFeatures], preset, *, seed: int, fps: Fraction) -> Timeline:
    """The offline causal Timeline: `CausalMapper` stepped over ``rows`` in order."""
    from visualizer.mapping import CausalMapper

    mapper = CausalMapper(preset, seed=seed, fps=fps)
    outputs = [mapper.step(row) for row in rows]
    return _timeline(outputs, preset, seed, fps)


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
    render_fps: float = 0.0  # rendered frames per second (moving average)
    render_ms: float = 0.0  # generator + JPEG time of the last frame
    latency_ms: float = 0.0  # audio clock minus the frame's time when the frame was published
    restarts: int = 0  # seeks back in the track (analysis restarted from 0)
    beats: int = 0  # beats mapped so far (the page's beat indicator flashes on a change)
    onsets: int = 0  # onsets mapped so far


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
        self.stats = Stats()
        self.lead = 0.0  # seconds a track is mapped ahead of its clock: the expected render time
        self._subscribers: list[Callable[[Frame], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame_lock = threading.Lock()
        self._restart()

    # -- state -----------------------------------------------------------------------------
    def _restart(self) -> None:
        from visualizer.mapping import CausalMapper

        self.analyzer = CausalAnalyzer(self.source.sr, self.fps)
        self._preset = self.control.take_change(False)
        self.mapper = CausalMapper(self._preset, seed=self.seed, fps=self.fps)
        self._good_preset = self._preset  # the last preset the mapper stepped without error
        self._latest: tuple[int, np.ndarray, np.ndarray, float] | None = None
        self._rendered_index = -1
        self.outputs: list[tuple[np.ndarray, np.ndarray, float]] = []
        self.scene_fade = SceneFade()

    def subscribe(self, fn: Callable[[Frame], None]) -> None:
        self._subscribers.append(fn)

    def timeline(self) -> Timeline:
        """The mapped frames of this session as a Timeline (needs ``keep_timeline=True``).

        Safe while the render thread keeps appending: it reads a snapshot of the frames so far.
        """
        return _timeline(list(self.outputs), self._preset, self.seed, self.fps)

    # -- analysis and mapping --------------------------------------------------------------
    def feed(self, block: np.ndarray) -> int:
        """Analyse and map the frames completed by ``block``; returns how many."""
        rows = self.analyzer.push(block)
        for row in rows:
            self._map(row)
        return len(rows)

    def advance(self) -> int:
        """Bring analysis and mapping up to the source's clock; returns frames mapped."""
        block = self.source.read(self.lead)
        if block.restart:
            # a seek back: replay from the start so the state equals the uninterrupted one
            self.stats.restarts += 1
            self._restart()
        return self.feed(block.samples) if block.samples.size else 0

    def _map(self, row: FrameFeatures) -> None:
        tap = self.control.tap_tempo
        if tap.period > 0:
            t1 = row.index / self.fps
            beat = tap.beat_between(float(t1 - 1 / self.fps), float(t1))
            row = dataclasses.replace(row, is_beat=beat, tempo=tap.bpm)
        preset = self.control.take_change(row.is_beat)
        if preset is not self._preset:
            self.scene_fade.start(self.mapper, round(self.control.take_fade() * self.fps))
            self.mapper.set_preset(preset)
            self._preset = preset
        self.stats.beats += bool(row.is_beat)
        self.stats.onsets += bool(row.is_onset)
        try:
            stepped = self.mapper.step(row)
        except Exception as error:
            if self._preset is self._good_preset:
                raise
            # A value that passed validation but breaks the mapper: go back to the last preset
            # that produced frames, tell the user once, keep playing.
            self.control.reject(self._preset, self._good_preset, error)
            self.mapper.set_preset(self._good_preset)
            self._preset = self._good_preset
            stepped = self.mapper.step(row)
        self._good_preset = self._preset
        class_vector, noise, truncation = self.scene_fade.blend(row, stepped)
        if self.keep_timeline:
            self.outputs.append((class_vector, noise, truncation))
        self._latest = (row.index, class_vector, noise, float(truncation))
        self.stats.frame = row.index

    # -- rendering -------------------------------------------------------------------------
    def render_latest(self) -> bool:
        """Render the newest mapped frame if it was not rendered yet; True when one was."""
        latest = self._latest
        if latest is None or latest[0] <= self._rendered_index or self.control.frozen:
            return False  # frozen: the outputs keep the last picture
        from PIL import Image

        index, class_vector, noise, truncation = latest
        started = time.perf_counter()
        if self.control.blackout:
            side = self.generator.resolution
            pixels = np.zeros((side, side, 3), dtype=np.uint8)
        else:
            pixels = self._generate(class_vector, noise, truncation)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=self.jpeg_quality)
        elapsed = time.perf_counter() - started
        self.stats.dropped += max(0, index - self._rendered_index - 1)
        self._rendered_index = index
        s = self.stats
        s.rendered += 1
        s.render_ms = 1000.0 * elapsed
        rate = 1.0 / max(elapsed, 1e-6)
        s.render_fps = rate if s.rendered == 1 else 0.8 * s.render_fps + 0.2 * rate
        self.lead = min(MAX_LEAD_S, 0.8 * self.lead + 0.2 * elapsed)
        t = float(index / self.fps)
        now = self.source.clock()
        if now is not None:
            s.latency_ms = 1000.0 * (now.seconds - t)
        info = {**dataclasses.asdict(s), "version": self.control.version}
        frame = Frame(index=index, t=t, pixels=pixels, jpeg=buffer.getvalue(), info=info)
        for fn in list(self._subscribers):
            try:
                fn(frame)
            except Exception:  # a broken subscriber must not stop the show
                log.exception("frame subscriber failed")
        return True

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

    def _loop(self) -> None:
        last_poll = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_poll > 0.5:
                    last_poll = time.monotonic()
                    self.control.poll_file()
                self.advance()
                if not self.render_latest():
                    self._stop.wait(min(0.005, 0.25 / float(self.fps)))
            except Exception as error:  # keep playing: log and go on
                log.exception("live render loop: %s", error)
                self._stop.wait(0.1)
