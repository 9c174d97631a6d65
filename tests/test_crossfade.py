"""Palette changes that breathe: class changes crossfade over a set number of beats."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.mapping_fixtures import synthetic_features
from visualizer.mapping import build_timeline
from visualizer.mapping.crossfade import fade_frames
from visualizer.mapping.presets import load_preset

TIGER, VOLCANO = 292, 980
# sections off the bar lines, switched at once (the preset waits for the next downbeat)
SWITCH = ["classes.names=tiger,volcano", "classes.palettes=goldfish,tench", "classes.quantize=none"]


def mixed_frames(y: np.ndarray, old: set[int], new: set[int]) -> list[int]:
    """Frames that show both the old and the new palette."""
    return [
        i
        for i, row in enumerate(y)
        if old & set(np.flatnonzero(row)) and new & set(np.flatnonzero(row))
    ]


@pytest.mark.parametrize(
    ("beats", "tempo", "frames"), [(1.0, 120.0, 15), (2.0, 120.0, 30), (1.0, 90.0, 20)]
)
@pytest.mark.parametrize("causal", [False, True])
def test_section_palette_crossfades_for_the_set_number_of_frames(beats, tempo, frames, causal):
    assert fade_frames(beats, tempo, 30.0) == frames
    features = synthetic_features(300, tempo=tempo, sections=[0, 100, 200])
    preset = load_preset("sections", [*SWITCH, f"classes.crossfade={beats}"])
    y = build_timeline(features, preset, causal=causal).class_vectors
    assert set(np.flatnonzero(y[99])) == {TIGER, VOLCANO}  # nothing moves before the section
    # the section's own frame already moves, the fade's last frame shows the new palette alone
    assert mixed_frames(y[:200], {TIGER, VOLCANO}, {0, 1}) == list(range(100, 100 + frames - 1))
    assert set(np.flatnonzero(y[100 + frames - 1])) == {0, 1}
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)
    steps = np.abs(np.diff(y, axis=0)).sum(axis=1)
    assert steps[99] < 0.25  # the section frame is no longer a jump


def test_unknown_tempo_assumes_120_bpm():
    assert fade_frames(1.0, 0.0, 30.0) == 15


def test_zero_crossfade_is_a_hard_cut():
    features = synthetic_features(300, sections=[0, 100, 200])
    y = build_timeline(
        features, load_preset("sections", [*SWITCH, "classes.crossfade=0"])
    ).class_vectors
    assert set(np.flatnonzero(y[100])) == {0, 1}


def test_live_section_before_the_keyframe_estimate_no_longer_jumps():
    # Causal keyframes assume 16 s per segment; a section arriving after 2 s used to jump the
    # class vector from a part-way mix straight to the next keyframe in one frame.
    features = synthetic_features(300, sections=[0, 60, 200])
    base = ["classes.mode=keyframes", "keyframes.names=tiger,volcano,goldfish", "keyframes.guess=4"]
    hard = build_timeline(
        features, load_preset("default", [*base, "classes.crossfade=0"]), causal=True
    )
    soft = build_timeline(features, load_preset("default", base), causal=True)
    jump = np.abs(np.diff(hard.class_vectors, axis=0)).sum(axis=1)
    glide = np.abs(np.diff(soft.class_vectors, axis=0)).sum(axis=1)
    assert jump.max() > 1.0
    assert glide.max() < 0.25


def test_offline_keyframes_keep_exact_endpoints():
    features = synthetic_features(300, sections=[0, 100, 200])
    preset = load_preset("default", ["classes.mode=keyframes", "keyframes.names=tiger,volcano"])
    y = build_timeline(features, preset).class_vectors
    for frame, index in [(0, TIGER), (99, VOLCANO), (100, VOLCANO), (199, TIGER)]:
        assert y[frame, index] == pytest.approx(1.0), frame


def test_live_preset_change_of_classes_crossfades():
    from visualizer.analysis.features import frame_features
    from visualizer.mapping import CausalMapper

    features = synthetic_features(120, tempo=120.0)
    mapper = CausalMapper(load_preset("default", ["classes.names=tiger"]), fps=features.fps)
    shown = [mapper.step(frame_features(features, i)).classes for i in range(40)]
    mapper.set_preset(load_preset("default", ["classes.names=volcano"]))  # e.g. from the page
    shown += [mapper.step(frame_features(features, i)).classes for i in range(40, 80)]
    y = np.array(shown)
    assert y[39, TIGER] == 1.0
    assert 0.0 < y[40, VOLCANO] < 0.1 and 0.5 < y[47, VOLCANO] < 0.6  # one beat = 15 frames
    assert y[54, VOLCANO] == 1.0 and y[54, TIGER] == 0.0
    assert np.abs(np.diff(y, axis=0)).sum(axis=1).max() < 0.25


def test_a_segment_shorter_than_a_crossfade_joins_its_neighbour():
    from visualizer.mapping.interpolate import boundaries

    assert boundaries("beats", 100, beats=[2, 50, 97]).tolist() == [0, 2, 50, 97]
    assert boundaries("beats", 100, beats=[2, 50, 97], min_gap=5).tolist() == [0, 50]
    # A first beat two frames in used to cross a whole keyframe between frames 0 and 1.
    features = synthetic_features(300, tempo=120.0)
    features = dataclasses.replace(features, beats=features.beats + 2)
    preset = load_preset("minimal", ["keyframes.key=beats", "keyframes.every=4"])
    y = build_timeline(features, preset).class_vectors
    assert np.abs(np.diff(y, axis=0)).sum(axis=1).max() < 0.25
