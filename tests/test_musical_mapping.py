"""Mapping in musical units: keyframes, poses, palettes and morphs change exactly on the beats,
bars, phrases and sections the analysis found, counted in 3/4 as in 4/4, offline and causal (and
on the live analysis's rows); rotations stay in phase with the bar lines through a tempo change;
bad words name the key. Generated bars with accented downbeats (`bar_pattern`), analysed for real.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_audio import SR, bar_pattern, write_wav
from visualizer.analysis.bars import phrase_starts
from visualizer.analysis.causal import analyze_causal
from visualizer.analysis.decode import Audio
from visualizer.analysis.features import FrameFeatures, excerpt
from visualizer.analysis.track import analyze
from visualizer.bench.reactivity import change_frames
from visualizer.errors import PresetError
from visualizer.mapping import CausalMapper, build_timeline
from visualizer.mapping.crossfade import min_segment
from visualizer.mapping.interpolate import boundaries
from visualizer.mapping.musical import Count, Cycle, grid_frames, snap, unit_frames
from visualizer.mapping.presets import load_preset
from visualizer.mapping.presets import preset_from_toml as load_preset_text

FPS = Fraction(30)
PATTERNS = {3: 100.0, 4: 120.0}  # meter: bpm
STILL = [
    "walk.speed=0", "walk.rise=0", "walk.idle=0", "pulse.trigger='none'", "rotary.radius=0",
    "zoom.amount=0", "hallucinate.amount=0", "truncation.min=0.5", "truncation.max=0.5",
]  # fmt: skip
# (preset, section): a technique whose segments change what is shown, and its preset
SEGMENTED = [("minimal", "keyframes"), ("poses", "poses")]


def with_sections(features, sections):
    """``features`` with other section starts (and the phrases they open)."""
    sections = np.asarray(sections, np.int64)
    phrases = phrase_starts(
        features.downbeats, sections, tempo=features.tempo, meter=features.meter
    )
    return dataclasses.replace(features, sections=sections, phrases=phrases)


@pytest.fixture(scope="module")
def bars():
    """{meter: Features} of 30 s of bars (3/4 at 100 BPM, 4/4 at 120), with sections opening
    on the 5th and 11th downbeats."""
    out = {}
    for meter, bpm in PATTERNS.items():
        audio = Audio(bar_pattern(meter, bpm, 30.0), SR, None, 0.0)
        features = analyze(audio, fps=FPS)
        assert features.meter == meter and features.downbeats.size >= 12
        out[meter] = with_sections(features, [0, *features.downbeats[[5, 11]]])
    return out


def expected_offline(features, preset, section):
    """Segment starts as `Segments.plan` cuts them (edges shorter than a crossfade join)."""
    options = getattr(preset, section)
    gap = min_segment(preset.classes.crossfade, features.tempo, float(FPS))
    return boundaries(
        options.key, features.n_frames, sections=features.sections, beats=features.beats,
        downbeats=features.downbeats, phrases=features.phrases, every=options.every,
        times=options.times, fps=float(FPS), min_gap=gap,
        grid=grid_frames(features, options.quantize),
    )[1:]  # fmt: skip


@pytest.mark.parametrize("meter", [3, 4])
@pytest.mark.parametrize("name,section", SEGMENTED)
@pytest.mark.parametrize("key,every", [("beats", 3), ("bars", 1), ("bars", 2), ("phrases", 1)])
def test_segments_count_the_analysis_units(bars, meter, name, section, key, every):
    features = bars[meter]
    keyed = [f"{section}.key='{key}'", f"{section}.every={every}", f"{section}.quantize='none'"]
    preset = load_preset(name, [*keyed, *STILL])
    units = unit_frames(features, key)[::every]
    units = units[units > 0]
    causal = change_frames(features, preset, causal=True)
    assert causal.tolist() == units.tolist()  # every one of them, live as it comes
    offline = change_frames(features, preset)
    assert offline.tolist() == expected_offline(features, preset, section).tolist()
    assert set(offline.tolist()) <= set(units.tolist())
    assert offline.size >= units.size - 2  # only a unit next to the track's ends may join
    if key != "beats":
        assert set(offline.tolist()) <= set(features.downbeats.tolist())


@pytest.mark.parametrize("meter", [3, 4])
@pytest.mark.parametrize("name,section", SEGMENTED)
@pytest.mark.parametrize("quantize", ["beat", "bar", "phrase", "section"])
def test_quantised_changes_wait_for_the_next_boundary(bars, meter, name, section, quantize):
    features = bars[meter]
    times = [2.3, 7.7, 13.1, 19.9, 24.4]  # seconds, off the beat
    overrides = [f"{section}.key='times'", f"{section}.times={times}", *STILL]
    overrides += [f"{section}.quantize='none'"]
    preset = load_preset(name, [*overrides, f"{section}.quantize='{quantize}'"])
    grid = grid_frames(features, quantize)
    requested = np.array([round(t * float(FPS)) for t in times])
    due = np.unique(snap(requested, grid))
    assert set(grid.tolist()) == set(unit_frames(features, quantize).tolist())
    causal = change_frames(features, preset, causal=True)
    assert causal.tolist() == due.tolist()  # the first boundary at or after each request
    offline = change_frames(features, preset)
    assert offline.tolist() == expected_offline(features, preset, section).tolist()
    assert set(offline.tolist()) <= set(grid.tolist()) and offline.size >= 1
    plain = change_frames(features, load_preset(name, overrides), causal=True)
    assert plain.tolist() == requested.tolist()  # "none": at once


@pytest.mark.parametrize("meter", [3, 4])
@pytest.mark.parametrize("quantize", ["none", "beat", "bar", "phrase"])
def test_section_palettes_wait_for_the_next_boundary(bars, meter, quantize):
    features = bars[meter]
    downbeats = features.downbeats
    # sections found off the bar lines, as the live detector finds them
    features = with_sections(features, [0, downbeats[4] + 7, downbeats[10] + 11])
    preset = load_preset("sections", [f"classes.quantize='{quantize}'", *STILL])
    due = snap(features.sections[1:], grid_frames(features, quantize))
    for causal in (False, True):
        assert change_frames(features, preset, causal=causal).tolist() == due.tolist()
    y = build_timeline(
        features,
        load_preset("sections", [*STILL, "classes.crossfade=0", f"classes.quantize='{quantize}'"]),
    )
    for frame in due:  # the palette itself switches there (a hard cut without a crossfade)
        assert set(np.flatnonzero(y.class_vectors[frame - 1])).isdisjoint(
            np.flatnonzero(y.class_vectors[frame])
        )  # fmt: skip


@pytest.mark.parametrize("quantize", ["bar", "phrase"])
@pytest.mark.parametrize(
    "overrides",
    [["classes.mode=keyframes"], ["poses.seeds=[1, 2]"], ["classes.switch=sections"]],
    ids=["keyframes", "poses", "palette"],
)
def test_a_clip_starting_mid_bar_changes_first_at_its_first_section(bars, quantize, overrides):
    features = bars[4]
    first = int(features.downbeats[2]) + 10  # mid-bar: the clip's frame 0 is off the grid
    clip = excerpt(features, first, features.n_frames - first)
    assert clip.sections[0] == 0 and clip.downbeats[0] > 0
    section = "classes" if "switch" in overrides[0] else overrides[0].split(".")[0]
    section = "keyframes" if "keyframes" in overrides[0] else section
    asked = [*overrides, f"{section}.quantize={quantize}", *STILL]
    due = snap(clip.sections[1:], grid_frames(clip, quantize))
    for causal in (False, True):
        found = change_frames(clip, load_preset("default", asked), causal=causal)
        assert found.tolist() == due.tolist()


@pytest.mark.parametrize("meter", [3, 4])
@pytest.mark.parametrize("per_bar", [1, 2])
def test_morph_classes_arrive_on_the_bar_lines(bars, meter, per_bar):
    features = bars[meter]
    names = '["tabby cat", "Siberian Husky", "grey wolf"]'
    preset = load_preset("morph", [f"morph.names={names}", f"morph.bars={per_bar}"])
    downbeats = features.downbeats
    inside = downbeats[(downbeats > 0)]
    for causal in (False, True):
        found = change_frames(features, preset, causal=causal)
        found = found[(found >= downbeats[0]) & (found <= downbeats[-1])]
        assert set(found.tolist()) <= set(inside.tolist())
        steps = np.diff(np.searchsorted(downbeats, found))
        assert found.size >= inside.size // per_bar - 1 and (steps == per_bar).all()
        y = build_timeline(features, preset, causal=causal).class_vectors
        for frame in found:  # the new species alone, the moment it arrives
            assert y[frame].max() == pytest.approx(1.0, abs=1e-6), frame


@pytest.mark.parametrize("meter", [3, 4])
def test_rotation_stays_on_the_bar_lines_through_a_tempo_change(meter):
    audio = Audio(bar_pattern(meter, 100.0, 30.0, bpm_after=135.0, change_at=14.0), SR, None, 0)
    features = analyze(audio, fps=FPS)
    downbeats = features.downbeats
    assert features.meter == meter and downbeats.size >= 12
    preset = load_preset("default", [*STILL, "rotary.radius=0.5", "rotary.bars=1"])
    for causal in (False, True):
        noise = build_timeline(features, preset, causal=causal).noise.astype(np.float64)
        at_bars = noise[downbeats]
        assert np.allclose(at_bars, at_bars[0], atol=1e-5)  # one whole turn per bar, any tempo
        middles = (downbeats[:-1] + downbeats[1:]) // 2
        assert not np.allclose(noise[middles], at_bars[0], atol=1e-2)
    beats = load_preset("default", [*STILL, "rotary.radius=0.5", "rotary.beats=1"])
    noise = build_timeline(features, beats).noise.astype(np.float64)
    assert np.allclose(noise[features.beats], noise[features.beats[0]], atol=1e-5)


@pytest.mark.parametrize("meter", [3, 4])
def test_live_rows_change_on_their_own_downbeats(meter):
    rows = analyze_causal(bar_pattern(meter, PATTERNS[meter], 30.0), SR, FPS)
    flagged = {r.index for r in rows if r.is_downbeat}
    assert len(flagged) >= 8
    for overrides in (
        ["classes.mode='morph'", "morph.bars=1"],
        ["classes.mode='keyframes'", "keyframes.names=tiger,volcano", "keyframes.key='bars'",
         "keyframes.every=1"],
        ["classes.switch='sections'", "classes.palettes=tiger;volcano", "classes.quantize='bar'"],
    ):  # fmt: skip
        mapper = CausalMapper(load_preset("default", [*STILL, *overrides]), fps=FPS)
        found = []
        for row in rows:
            mapper.step(row)
            found += [row.index] if any(t.changed for t in mapper.techniques) else []
        late = [frame for frame in found if frame > 10 * 30]  # once the clock holds the beat
        assert late and set(late) <= flagged, overrides


def test_a_live_class_change_waits_for_the_next_bar(bars):
    features = bars[4]
    preset = load_preset("default", [*STILL, "classes.names=tiger,volcano", "classes.quantize=bar"])
    changed = preset.replace(classes=dataclasses.replace(preset.classes, names=("goldfish",)))
    downbeats = features.downbeats
    asked = int(downbeats[3]) + 9  # mid-bar
    mine, steady = CausalMapper(preset, fps=FPS), CausalMapper(preset, fps=FPS)
    rows = [frame_row(features, i) for i in range(int(downbeats[5]))]
    for row in rows:
        if row.index == asked:
            mine.set_preset(changed)
        y, *_ = mine.step(row)
        reference, *_ = steady.step(row)
        if row.index < downbeats[4]:
            assert np.array_equal(y, reference), row.index  # the old classes until the bar line
        elif row.index == downbeats[4] + 2:
            assert y[1] > 0  # goldfish fading in from the downbeat on (classes.crossfade)
    at_once = CausalMapper(preset.replace(classes=preset.classes), fps=FPS)
    for row in rows[: asked + 3]:
        if row.index == asked:
            at_once.set_preset(
                changed.replace(classes=dataclasses.replace(changed.classes, quantize="none"))
            )
        y, *_ = at_once.step(row)
    assert y[1] > 0  # without quantize the fade starts at once


def test_a_float_moved_live_applies_at_once_even_when_quantised(bars):
    """An LFO moving classes.sensitivity every frame is no class change to wait for."""
    features = bars[4]
    preset = load_preset("default", [*STILL, "classes.quantize=bar"])
    sharper = preset.replace(classes=dataclasses.replace(preset.classes, sensitivity=12.0))
    asked = int(features.downbeats[3]) + 9
    mine, steady = CausalMapper(preset, fps=FPS), CausalMapper(preset, fps=FPS)
    for i in range(asked + 2):
        if i == asked:
            mine.set_preset(sharper)
        y, *_ = mine.step(frame_row(features, i))
        reference, *_ = steady.step(frame_row(features, i))
    assert not np.allclose(y, reference)  # before the next bar line


def frame_row(features, i: int) -> FrameFeatures:
    from visualizer.analysis.features import frame_features

    return frame_features(features, i)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("keyframes.quantize='bars'", "keyframes.quantize = 'bars' is not allowed: choose one of "
         "none, beat, bar, phrase, section"),
        ("poses.quantize='measure'", "poses.quantize = 'measure' is not allowed"),
        ("classes.quantize=1", "classes.quantize must be a string, got 1"),
        ("keyframes.key='bar'", "keyframes.key = 'bar' is not allowed: choose one of sections, "
         "beats, bars, phrases, times"),
        ("poses.key='measures'", "poses.key = 'measures' is not allowed"),
        ("morph.bars=-1", r"morph.bars = -1 is out of range: allowed 0.0 to 64.0"),
        ("rotary.bars=100", r"rotary.bars = 100 is out of range: allowed 0.0 to 64.0"),
    ],
)  # fmt: skip
def test_bad_musical_words_name_the_key(override, message):
    with pytest.raises(PresetError, match=message.replace("(", r"\(")):
        load_preset("default", [override])


def test_bad_quantize_in_a_file_names_the_key():
    with pytest.raises(PresetError, match="keyframes.quantize = 'downbeat' is not allowed"):
        load_preset_text('[keyframes]\nquantize = "downbeat"\n')


def row_at(i: int, *, beat: float, bar: float, tempo: float = 120.0, **flags) -> FrameFeatures:
    return FrameFeatures(
        index=i, chroma=np.zeros(12), onset_strength=0.0, is_onset=False, energy=0.0,
        energy_rise=0.0, bands=np.zeros(3), is_beat=flags.get("is_beat", False),
        is_section_start=False, tempo=tempo, beat_phase=beat, bar_phase=bar,
        is_downbeat=flags.get("is_downbeat", False), meter=4 if tempo else 0,
    )  # fmt: skip


def test_the_count_follows_the_phase_and_counts_each_unit_once():
    count = Count()
    # extrapolated before the first flag (wraps at 0.9 -> 0.2), then flagged units
    phases = [0.5, 0.7, 0.9, 0.2, 0.6, 0.0, 0.4, 0.8, 0.05, 0.0, 0.5, 0.0]
    flags = [False] * 5 + [True, False, False, False, True, False, True]
    values = [count.step(p, f) for p, f in zip(phases, flags, strict=True)]
    # the live clock flags a downbeat a frame after its phase wrapped: counted once
    assert values == pytest.approx([0.5, 0.7, 0.9, 1.2, 1.6, 2.0, 2.4, 2.8, 3.05, 3.0, 3.5, 4.0])
    phaseless = Count()  # a source that flags beats and gives no phase: the flags count
    assert [phaseless.step(0.0, f) for f in (True, False, True, False, True)] == [0, 0, 1, 1, 2]


def test_a_live_cycle_glides_into_the_bar_phase_when_the_beat_is_found():
    cycle, fps = Cycle(30.0), 30.0
    positions = []
    for i in range(300):
        if i < 40:  # no beat yet: a bar takes `seconds`
            row = row_at(i, beat=0.0, bar=0.0, tempo=0.0)
        else:  # 120 BPM in 4/4: a bar every 60 frames, the bar phase at 0.3 when found
            bar = (i - 40) / 60.0 + 0.3
            row = row_at(i, beat=(bar * 4) % 1.0, bar=bar % 1.0, is_downbeat=(bar % 1.0) == 0)
        positions.append(cycle.step(row, "bars", 1.0, seconds=2.0))
    steps = np.diff(positions)
    assert steps[:39] == pytest.approx(1.0 / (2.0 * fps))  # seconds while no beat is known
    assert steps.min() > 0 and steps.max() < 3.0 / 60.0  # then no jump, never backwards
    bar_phase = ((np.arange(300) - 40) / 60.0 + 0.3) % 1.0
    assert math.isclose(positions[-1] % 1.0, bar_phase[-1], abs_tol=0.01)  # in phase after 8 s


def test_the_downbeat_bench_prints_every_asked_preset(tmp_path):
    track = write_wav(tmp_path / "bars.wav", bar_pattern(4, 120.0, 24.0))
    root = Path(__file__).resolve().parents[1]
    env = {"VISUALIZER_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(root), "PATH": ""}
    run = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "downbeat_bench.py"), str(track),
         "--min-seconds", "0", "--preset", "morph", "--preset", "minimal", "--preset", "default"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in run.stdout.splitlines()
            if line.startswith("| ") and " --- " not in line and "preset" not in line}  # fmt: skip
    assert set(rows) == {"morph", "minimal", "default"}
    assert rows["morph"][3] == "100 %" and rows["minimal"][3] == "100 %"
    assert (
        rows["morph"][4] == "100 %"
        and rows["default"][2] == "0"
        and "section starts on a downbeat" in run.stdout
    )
