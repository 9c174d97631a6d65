"""Quantised launches on real frames, scene auto-cycle, the fps counter after freeze and
blackout, and the input calibration, with the real engine and a tiny generator.

The show runs on a clock the test moves: a clock-only source (tests/dummy_source.py) and a
monotonic clock 1000 s ahead of it, so every frame's display time is exact; the beat is tapped
at 120 BPM from second 0 (bar 2 spans seconds 2-4, bar 3 starts at 4.0 s = frame 96 at 24 fps).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.dummy_source import DummySource
from tests.live_fixtures import FPS, tiny_generator, write_preset
from visualizer.analysis.features import FrameFeatures
from visualizer.errors import PresetError
from visualizer.live.beat import BeatClock
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine

T0 = 1000.0  # the monotonic time of the show's second 0


@pytest.fixture(scope="module")
def generator():
    return tiny_generator()


class Show:
    """An engine on a hand-moved clock, tapped at 120 BPM from second 0."""

    def __init__(self, folder, generator, *, latency_ms=0.0, quantize="bar") -> None:
        self.t = 0.0
        beat = BeatClock(now=lambda: T0 + self.t)
        beat.set_latency_ms(latency_ms)
        self.control = LiveControl(
            str(write_preset(folder)), save_dir=folder, quantize=quantize, beat=beat
        )
        self.source = DummySource(None)
        self.engine = LiveEngine(generator=generator, control=self.control, source=self.source,
                                 fps=FPS, seed=3, keep_timeline=True)  # fmt: skip
        self.engine.now = lambda: T0 + self.t
        for tap in (0.0, 0.5, 1.0, 1.5):
            beat.tap(T0 + tap)

    def play_to(self, seconds: float) -> None:
        while self.t < seconds - 1e-9:
            self.t = min(seconds, self.t + 0.05)
            self.source.move_to(self.t, playing=True)
            self.engine.advance()


def _first_difference(show: Show, still: Show) -> int:
    """The first frame whose generator inputs differ between the two shows (-1: none)."""
    a, b = show.engine.timeline(), still.engine.timeline()
    n = min(a.n_frames, b.n_frames)
    differs = np.zeros(n, dtype=bool)
    for name in ("class_vectors", "noise", "truncation"):
        x, y = getattr(a, name)[:n], getattr(b, name)[:n]
        differs |= (np.abs(x - y).reshape(n, -1) > 0).any(axis=1)
    changed = np.flatnonzero(differs)
    return int(changed[0]) if changed.size else -1


@pytest.mark.parametrize("latency_ms", [0.0, 100.0])
def test_a_launch_mid_bar_lands_on_the_next_bars_first_frame(tmp_path, generator, latency_ms):
    still = Show(tmp_path, generator, latency_ms=latency_ms)
    still.play_to(5.0)
    show = Show(tmp_path, generator, latency_ms=latency_ms)
    show.play_to(2.3)  # mid bar 2 (as heard)
    show.control.load("minimal")
    pending = show.control.snapshot()["pending"]
    assert pending == {"label": "minimal", "quantize": "bar", "at": "3:1", "scene": "minimal"}
    show.play_to(5.0)
    assert show.control.pending is None and show.control.source == "minimal"
    # the first changed frame: the first whose display time plus the latency reaches 4.0 s
    expected = math.ceil((4.0 - latency_ms / 1000.0) * FPS - 1e-9)
    got = _first_difference(show, still)
    assert abs(got - expected) <= 1, (got, expected)
    assert got == expected  # on a clock without jitter it is exact


@pytest.mark.parametrize(("quantize", "at"), [("beat", 2.5), ("2bars", 4.0), ("4bars", 8.0)])
def test_each_quantisation_waits_for_its_boundary(tmp_path, generator, quantize, at):
    still = Show(tmp_path, generator)
    still.play_to(at + 0.5)
    show = Show(tmp_path, generator, quantize=quantize)
    show.play_to(2.3)
    show.control.perform("next_scene")
    show.play_to(at + 0.5)
    got = _first_difference(show, still)
    assert got == round(at * FPS)


def test_now_lands_at_once_and_a_trigger_chooses_its_own_quantisation(tmp_path, generator):
    show = Show(tmp_path, generator)
    show.play_to(2.3)
    show.control.load("minimal", quantize="now")
    assert show.control.source == "minimal" and show.control.pending is None
    show.control.set("classes.names", "goldfish,daisy", quantize="beat")  # a class change
    assert show.control.snapshot()["pending"]["at"] == "2:2"
    show.play_to(2.6)
    assert show.control.base.classes.names == ("goldfish", "daisy")
    with pytest.raises(PresetError, match="quantize must be one of now, beat, bar, 2bars, 4bars"):
        show.control.load("minimal", quantize="soon")


def test_scene_auto_cycle_every_n_bars(tmp_path, generator):
    show = Show(tmp_path, generator, quantize="now")
    show.control.set_cycle(2, "next")
    first = show.control.source
    show.play_to(3.9)
    assert show.control.source == first  # bar 1 and 2 (the first downbeat counts as bar 1)
    show.play_to(4.05)
    assert show.control.source != first  # bar 3 starts: two bars played
    with pytest.raises(PresetError, match="auto-cycle must be 0-64 bars, got 65"):
        show.control.set_cycle(65)
    with pytest.raises(PresetError, match="auto-cycle mode must be next or random"):
        show.control.set_cycle(4, "shuffle")


def test_fps_counts_frames_shown_after_blackout_and_freeze(tmp_path, generator):
    show = Show(tmp_path, generator)
    engine = show.engine
    show.control.perform("blackout")
    for _ in range(10):
        show.play_to(show.t + 1 / 24)
        engine.render_latest()
    # black frames take no time to render; the counter still reads frames per second shown
    assert 0 < engine.stats.render_fps <= float(FPS) + 1
    show.control.perform("blackout")
    show.control.perform("freeze")
    show.play_to(show.t + 0.2)
    assert not engine.render_latest() and engine.stats.render_fps <= float(FPS) + 1


def test_input_calibration_gain_bands_meter_and_offset(tmp_path, generator):
    show = Show(tmp_path, generator)
    calibration = show.engine.calibration
    quiet = np.full(1000, 0.1, dtype=np.float32)
    assert calibration.process(quiet) is quiet  # x1: untouched
    assert calibration.snapshot()["peak_db"] == pytest.approx(-20.0, abs=0.1)
    calibration.set("gain", 4.0)
    assert calibration.process(quiet).max() == pytest.approx(0.4)
    calibration.set("low", 2.0)

    row = FrameFeatures(index=0, chroma=np.zeros(12), onset_strength=0.0, is_onset=False,
                        energy=0.5, energy_rise=0.0, bands=np.array([0.3, 0.5, 0.7]),
                        is_beat=False, is_section_start=False, tempo=0.0)  # fmt: skip
    assert np.allclose(calibration.apply(row).bands, [0.6, 0.5, 0.7])
    calibration.set("low", 4.0)
    assert calibration.apply(row).bands[0] == 1.0  # clipped to the band's range
    for name, value, message in [
        ("gain", 9, "gain must be a number 0 to 8, got 9"),
        ("high", float("nan"), "high must be a number 0 to 4"),
        ("av_offset_ms", "early", "av_offset_ms must be a number -500 to 500, got 'early'"),
        ("bass", 1, "unknown calibration 'bass'"),
    ]:
        with pytest.raises(PresetError, match=message):
            calibration.set(name, value)
    # an A/V offset of +100 ms: each frame is due (and rendered) 100 ms later
    calibration.set("av_offset_ms", 100.0)
    show.play_to(1.0)
    assert show.engine._due()[0] == math.floor(0.9 * FPS)  # the newest frame at or before 0.9 s
