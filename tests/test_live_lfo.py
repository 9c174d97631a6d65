"""Tempo-synced LFOs (`visualizer.mapping.lfo`): the preset section and its one-line errors, the
shapes, the musical-time position, and a live show with LFOs mapping exactly as the offline
causal stepping of the same preset does."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.fixtures_audio import SR, music_like
from tests.live_fixtures import FPS, tiny_generator, write_preset
from visualizer.analysis.causal import analyze_causal
from visualizer.errors import PresetError
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine, causal_timeline
from visualizer.live.source_file import FileSource
from visualizer.mapping.lfo import lfos, modulate, wave
from visualizer.mapping.presets import load_preset, preset_from_toml, preset_to_toml

LFOS = "lfo.items=pulse.amount sine 1bar depth=0.3,walk.speed square 2beats depth=1 offset=0.5"


def test_lfos_load_save_and_round_trip():
    preset = load_preset("default", [LFOS])
    assert preset.lfo.items == ("pulse.amount sine 1bar depth=0.3",
                                "walk.speed square 2beats depth=1 offset=0.5")  # fmt: skip
    assert preset_from_toml(preset_to_toml(preset)) == preset
    (first, second) = lfos(preset)
    assert (first.section, first.key, first.shape, first.cycle, first.unit) == (
        "pulse", "amount", "sine", 1.0, "bar")  # fmt: skip
    assert (second.depth, second.offset, second.phase) == (1.0, 0.5, 0.0)


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("pulse.amount wobble 1bar", "shape 'wobble' (valid: sine, triangle, saw, square, decay)"),
        ("pulse.amount sine 3weeks", "rate '3weeks' (valid: 1/16 to 64 beats or bars"),
        ("pulse.amount sine 128bars", "rate '128bars'"),
        ("pulse.amount sine 1bar depth=much", "'depth=much' must be a number"),
        ("pulse.amount sine 1bar phase=2", "'phase=2' must be a number (phase 0-1)"),
        ("pulse.amount sine 1bar speed=2", "'speed=2' (valid: depth=, offset=, phase=)"),
        ("pulse.amount sine", "expected 'section.key shape rate"),
        ("nosuch.key sine 1bar", "'nosuch.key' is not a number key an LFO can move"),
        ("classes.names sine 1bar", "'classes.names' is not a number key"),
        ("latent.bound sine 1bar", "'latent.bound' is not a number key"),
    ],
)
def test_bad_lfos_are_one_clear_error(item, words):
    with pytest.raises(PresetError, match="lfo.items") as error:
        load_preset("default", [f"lfo.items={item}"])
    assert words in str(error.value) and "\n" not in str(error.value)


def test_shapes():
    assert wave("sine", 0.25) == pytest.approx(1.0) and wave("sine", 0.75) == pytest.approx(-1.0)
    assert [wave("triangle", p) for p in (0.0, 0.25, 0.5, 0.75)] == pytest.approx([0, 1, 0, -1])
    assert wave("saw", 0.0) == -1.0 and wave("saw", 0.5) == 0.0
    assert wave("square", 0.49) == 1.0 and wave("square", 0.5) == -1.0
    assert wave("decay", 0.0) == 1.0 and wave("decay", 0.99) < 0.01


def test_modulation_follows_musical_time_within_the_keys_range():
    preset = load_preset("default", [LFOS])
    items = lfos(preset)
    at_quarter_bar = modulate(preset, items, 0.5, 0.25)
    assert at_quarter_bar.pulse.amount == pytest.approx(preset.pulse.amount + 0.3)
    assert at_quarter_bar.walk.speed == pytest.approx(preset.walk.speed + 0.5 + 1.0)
    at_second_beat = modulate(preset, items, 1.0, 0.75)  # square: low half from beat 1 of 2
    assert at_second_beat.walk.speed == pytest.approx(max(preset.walk.speed + 0.5 - 1.0, 0.0))
    low = load_preset("default", ["lfo.items=pulse.amount saw 1bar depth=100"])
    assert modulate(low, lfos(low), 0.0, 0.0).pulse.amount == 0.0  # clipped to the range 0-4
    assert modulate(preset, [], 0.0, 0.0) is preset


@pytest.mark.parametrize("causal", [False, True])
def test_an_offline_render_follows_its_lfos_on_the_bar_lines(causal):
    """A square LFO of one bar on a held truncation: the Timeline's truncation is high in each
    bar's first half and low in its second, switching on the analysis's own downbeats."""
    from tests.fixtures_audio import bar_pattern
    from visualizer.analysis.decode import Audio
    from visualizer.analysis.track import analyze
    from visualizer.mapping import build_timeline

    features = analyze(Audio(bar_pattern(4, 120.0, 12.0), SR, None, 0.0), fps=FPS)
    held = ["truncation.feature='constant'", "truncation.min=0.5", "truncation.max=0.5",
            "truncation.smoothing=0"]  # fmt: skip
    plain = load_preset("default", held)
    swung = load_preset("default", [*held, "lfo.items=['truncation.max square 1bar depth=0.2']"])
    timeline = build_timeline(features, swung, seed=1, causal=causal, loop=False)
    assert np.all(build_timeline(features, plain, seed=1, loop=False).truncation == 0.5)
    first, last = int(features.downbeats[0]), int(features.downbeats[-1])
    inside = np.arange(first, last)
    expected = np.where(features.bar_phase[inside] < 0.5, 0.7, 0.3)
    assert np.allclose(timeline.truncation[inside], expected, atol=1e-6)
    assert np.all(timeline.truncation[features.downbeats] == np.float32(0.7))


def test_a_live_show_with_lfos_maps_as_the_offline_causal_stepping(tmp_path):
    music = music_like(8.0, SR, seed=2).astype(np.float32)
    path = write_preset(tmp_path)
    path.write_text(path.read_text() + "\n[lfo]\nitems = ['pulse.amount sine 1bar depth=0.3', "
                    "'truncation.max saw 2beats depth=0.2']\n")  # fmt: skip
    control = LiveControl(str(path), save_dir=tmp_path)
    source = FileSource(music, SR)
    engine = LiveEngine(generator=tiny_generator(), control=control, source=source, fps=FPS,
                        seed=3, keep_timeline=True)  # fmt: skip
    t = 0.0
    while t < len(music) / SR:
        t += 0.13
        source.report(t, playing=False)
        engine.advance()
    rows = analyze_causal(music, SR, FPS)
    offline = causal_timeline(rows, control.preset, seed=3, fps=FPS)
    live = engine.timeline()
    assert np.array_equal(live.truncation, offline.truncation)
    assert np.array_equal(live.noise, offline.noise)
    # and the LFOs moved something: the same preset without them maps otherwise
    still = causal_timeline(rows, load_preset(str(write_preset(tmp_path / "..")), []), seed=3,
                            fps=FPS)  # fmt: skip
    moved = not np.array_equal(still.noise, offline.noise)
    assert moved or not np.array_equal(still.truncation, offline.truncation)
    assert math.isfinite(float(offline.truncation.max()))
