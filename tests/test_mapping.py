from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from tests.mapping_fixtures import synthetic_features
from visualizer.analysis.features import frame_features
from visualizer.errors import PresetError
from visualizer.mapping import CausalMapper, build_timeline
from visualizer.mapping import timeline as timeline_io
from visualizer.mapping.classes import resolve_class
from visualizer.mapping.interpolate import boundaries, mix_weights, segments_offline, slerp
from visualizer.mapping.palette import chroma_matrix, chroma_weights
from visualizer.mapping.preset_schema import Preset
from visualizer.mapping.presets import list_presets, load_preset
from visualizer.mapping.presets import preset_from_toml as load_preset_text
from visualizer.mapping.pulse import Envelope
from visualizer.mapping.signals import zero_phase
from visualizer.mapping.truncation import from_truncated, truncated_normal
from visualizer.mapping.walk import WalkOptions

PRESETS = [name for name, _ in list_presets()]
TIGER, VOLCANO = 292, 980
# Only the named technique moves the latent; everything else is held still.
STILL = [
    "walk.speed=0", "walk.rise=0", "walk.idle=0", "pulse.trigger='none'", "rotary.radius=0",
    "zoom.amount=0", "hallucinate.amount=0", "truncation.min=0.5", "truncation.max=0.5",
]  # fmt: skip


def onehot(index: int) -> np.ndarray:
    row = np.zeros(1000, dtype=np.float32)
    row[index] = 1.0
    return row


def assert_valid(tl, preset, n):
    assert tl.n_frames == n
    assert np.isfinite(tl.noise).all() and np.isfinite(tl.class_vectors).all()
    assert tl.class_vectors.min() >= 0
    assert (tl.class_vectors.sum(axis=1) > 0).all()
    t = preset.truncation
    assert tl.truncation.min() >= np.float32(t.min) and tl.truncation.max() <= np.float32(t.max)
    limit = 2 * preset.latent.bound * tl.truncation[:, None] * (1 + 1e-6)
    assert (np.abs(tl.noise) <= limit).all()


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("causal", [False, True])
def test_every_preset_builds_a_valid_timeline(name, causal):
    features = synthetic_features(240)
    preset = load_preset(name)
    tl = build_timeline(features, preset, causal=causal)
    assert_valid(tl, preset, 240)
    assert tl.seed == preset.seed and tl.fps == 30
    assert load_preset_text(tl.preset) == preset  # the resolved preset travels with it


@pytest.mark.parametrize("name", PRESETS)
def test_causal_equals_frame_by_frame_stepping(name):
    features = synthetic_features(150, seed=3)
    preset = load_preset(name)
    tl = build_timeline(features, preset, seed=11, causal=True)
    mapper = CausalMapper(preset, seed=11, fps=features.fps)
    for i in range(features.n_frames):
        y, z, t = mapper.step(frame_features(features, i))
        assert np.array_equal(y, tl.class_vectors[i])
        assert np.array_equal(z, tl.noise[i])
        assert np.float32(t) == tl.truncation[i]


def test_seed_determinism():
    features = synthetic_features(120)
    preset = load_preset("pulse", ["classes.names="])  # an explicit random draw of classes
    a = build_timeline(features, preset, seed=5)
    b = build_timeline(features, preset, seed=5)
    c = build_timeline(features, preset, seed=6)
    for key in ("class_vectors", "noise", "truncation"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
    assert not np.allclose(a.noise, c.noise)
    assert not np.array_equal(a.class_vectors, c.class_vectors)  # random palette differs too
    assert build_timeline(features, preset).seed == preset.seed == 1


def test_offline_differs_from_causal_only_through_look_ahead():
    features = synthetic_features(200)
    unsmoothed = load_preset(
        "zoom",
        [f"{s}.smoothing=0" for s in ("classes", "breed", "truncation", "hallucinate", "zoom")],
    )
    offline = build_timeline(features, unsmoothed)
    causal = build_timeline(features, unsmoothed, causal=True)
    assert np.array_equal(offline.noise, causal.noise)
    assert np.array_equal(offline.class_vectors, causal.class_vectors)
    assert np.array_equal(offline.truncation, causal.truncation)
    smoothed = load_preset("zoom", ["truncation.invert=false"])
    offline = build_timeline(features, smoothed)
    causal = build_timeline(features, smoothed, causal=True)
    assert not np.array_equal(offline.truncation, causal.truncation)
    # Causal smoothing lags the energy; zero-phase smoothing does not.
    assert best_lag(causal.truncation, features.energy) > 3
    assert best_lag(offline.truncation, features.energy) == 0


def best_lag(signal: np.ndarray, reference: np.ndarray) -> int:
    """The delay in frames (0-19) at which ``signal`` best matches ``reference``."""
    scores = [np.corrcoef(signal[k : k + 150], reference[:150])[0, 1] for k in range(20)]
    return int(np.argmax(scores))


@pytest.mark.parametrize("interpolation", ["linear", "slerp"])
@pytest.mark.parametrize("ease", ["true", "false"])
def test_keyframe_endpoints_are_exact(interpolation, ease):
    features = synthetic_features(300, sections=[0, 100, 200])
    preset = load_preset(
        "dreamy",
        [
            "keyframes.names=tiger,volcano,goldfish",
            "keyframes.quantize=none",  # the sections lie off the bar lines
            f"keyframes.interpolation={interpolation}",
            f"keyframes.ease={ease}",
        ],
    )
    y = build_timeline(features, preset).class_vectors
    goldfish = resolve_class("goldfish")
    for frame, index in [(0, TIGER), (99, VOLCANO), (100, VOLCANO), (199, goldfish),
                         (200, goldfish), (299, TIGER)]:  # fmt: skip
        assert np.array_equal(y[frame], onehot(index)), frame
    middle = y[50]
    assert middle[TIGER] > 0 and middle[VOLCANO] > 0 and np.count_nonzero(middle) == 2
    if interpolation == "slerp":
        assert np.linalg.norm(middle) == pytest.approx(1.0, abs=1e-6)
    else:
        assert middle.sum() == pytest.approx(1.0, abs=1e-6)


def test_keyframes_keyed_to_beats_and_times():
    features = synthetic_features(300, tempo=120.0)  # a beat every 15 frames
    keyed = ["keyframes.names=tiger,volcano", "keyframes.key=beats", "keyframes.every=4"]
    beats = load_preset("minimal", keyed)
    y = build_timeline(features, beats).class_vectors
    assert np.array_equal(y[60], onehot(VOLCANO)) and np.array_equal(y[59], onehot(VOLCANO))
    assert np.array_equal(y[119], onehot(TIGER)) and np.array_equal(y[120], onehot(TIGER))
    times = load_preset(
        "minimal",
        ["keyframes.names=tiger,volcano", "keyframes.key=times", "keyframes.times=[2.0, 5.0]"],
    )
    y = build_timeline(features, times).class_vectors
    assert np.array_equal(y[59], onehot(VOLCANO)) and np.array_equal(y[60], onehot(VOLCANO))
    assert np.array_equal(y[149], onehot(TIGER)) and np.array_equal(y[150], onehot(TIGER))


def test_causal_keyframes_hold_the_target_until_the_next_segment():
    features = synthetic_features(200, sections=[0, 150])
    keyed = ["keyframes.names=tiger,volcano", "keyframes.guess=2.0", "keyframes.quantize=none"]
    preset = load_preset("dreamy", keyed)
    y = build_timeline(features, preset, causal=True).class_vectors
    assert np.array_equal(y[0], onehot(TIGER))
    assert np.array_equal(y[59], onehot(VOLCANO))  # the 2 s guess ran out: holds volcano
    assert np.array_equal(y[149], onehot(VOLCANO)) and np.array_equal(y[150], onehot(VOLCANO))


def test_interpolation_building_blocks():
    assert mix_weights(0.0, "slerp") == (1.0, 0.0) and mix_weights(1.0, "slerp") == (0.0, 1.0)
    assert mix_weights(0.25, "linear") == (0.75, 0.25)
    a, b = np.array([1.0, 0.0]), np.array([0.6, 0.8])
    assert np.array_equal(slerp(a, b, 0.0), a) and np.allclose(slerp(a, b, 1.0), b)
    assert np.linalg.norm(slerp(a, b, 0.5)) == pytest.approx(1.0)
    starts = boundaries("beats", 100, beats=[0, 10, 20, 30, 40], every=2)
    assert starts.tolist() == [0, 20, 40]
    index, progress = segments_offline(starts, 100)
    assert index[19] == 0 and index[20] == 1 and progress[20] == 0 and progress[39] == 1
    assert progress[99] == 1.0 and boundaries("sections", 0).size == 0


def test_pulses_peak_at_the_onset_and_decay():
    features = synthetic_features(200, onsets=[50, 150])
    preset = load_preset("default", [*STILL, "pulse.trigger='onsets'", "pulse.decay=0.3"])
    noise = build_timeline(features, preset, causal=True).noise
    distance = np.linalg.norm(noise - noise[0], axis=1)
    assert distance[:50].max() == 0
    assert np.argmax(distance[:150]) == 50 and np.argmax(distance[150:]) == 0
    assert (np.diff(distance[50:150]) < 0).all()
    assert distance[149] < 0.01 * distance[50]  # 3.3 decay constants later
    pulse = Envelope()
    amounts = [pulse.step(k, decay=0.1, fps=30) for k in [0, 1.0, 0, 0, 0.2, 0]]
    assert amounts[:2] == [0.0, 1.0] and amounts[2] == pytest.approx(math.exp(-1 / 3))
    assert amounts[4] == amounts[3] * math.exp(-1 / 3)  # a weaker kick does not cut the pulse


def test_beat_pulses():
    features = synthetic_features(120, tempo=120.0)
    preset = load_preset("default", [*STILL, "pulse.trigger='beats'"])
    noise = build_timeline(features, preset, causal=True).noise
    distance = np.linalg.norm(noise - noise[1:15].mean(0), axis=1)
    peaks = [
        i for i in range(1, 119) if distance[i] > distance[i - 1] and distance[i] > distance[i + 1]
    ]
    assert peaks == [15, 30, 45, 60, 75, 90, 105]


@pytest.mark.parametrize(
    ("tempo", "beats", "period"), [(120.0, 4.0, 60), (90.0, 2.0, 40), (0.0, 4.0, 45)]
)
def test_rotary_period_follows_the_beat(tempo, beats, period):
    features = synthetic_features(200, tempo=tempo)
    preset = load_preset(
        "default", [*STILL, "rotary.radius=0.5", f"rotary.beats={beats}", "rotary.seconds=1.5"]
    )
    noise = build_timeline(features, preset).noise.astype(np.float64)
    assert np.allclose(noise[period:], noise[:-period], atol=1e-5)
    assert not np.allclose(noise[period // 2 :], noise[: -(period // 2)], atol=1e-2)
    # a circle in the normal domain, blended in at the radius' angle: the law is kept
    g = from_truncated(noise / 0.5, 2.0)
    radius = np.linalg.norm(g - g[:period].mean(0), axis=1)
    assert np.allclose(radius, math.sin(0.5) * math.sqrt(128), rtol=1e-3)


HARD_CUT = ["classes.names=", "classes.palettes=", "classes.crossfade=0", "classes.quantize=none"]


def test_section_switch_changes_the_palette_at_the_section_frame():
    features = synthetic_features(300, sections=[0, 100, 200])
    preset = load_preset(
        "sections",
        [*HARD_CUT[2:], "classes.names=tiger,volcano", "classes.palettes=goldfish,tench"],
    )
    for causal in (False, True):
        y = build_timeline(features, preset, causal=causal).class_vectors
        assert set(np.flatnonzero(y[99])) == {TIGER, VOLCANO}
        assert set(np.flatnonzero(y[100])) == {0, 1}
        assert set(np.flatnonzero(y[199])) == {0, 1}
        assert set(np.flatnonzero(y[200])) == {TIGER, VOLCANO}
    random = build_timeline(features, load_preset("sections", HARD_CUT)).class_vectors
    before, after = set(np.flatnonzero(random[99])), set(np.flatnonzero(random[100]))
    assert len(before) == len(after) == 8 and not before & after
    still = load_preset("sections", ["classes.switch=none", *HARD_CUT])
    y = build_timeline(features, still).class_vectors
    assert set(np.flatnonzero(y[99])) == set(np.flatnonzero(y[100]))


def test_chroma_palette_blend():
    assert np.array_equal(chroma_matrix(12), np.eye(12))
    assert chroma_matrix(5).shape == (12, 5) and (chroma_matrix(30).sum(axis=0) > 0).all()
    chroma = np.zeros(12)
    chroma[4] = 1.0  # E
    weights = chroma_weights(chroma, chroma_matrix(12), 3.0)
    assert weights.sum() == pytest.approx(1.0) and np.argmax(weights) == 4 and weights[4] > 0.99
    assert np.allclose(chroma_weights(chroma, chroma_matrix(12), 0.0), 1 / 12)
    assert np.allclose(chroma_weights(np.zeros(12), chroma_matrix(3), 3.0), 1 / 3)  # silence


@pytest.mark.parametrize("names", ["tiger,volcano,goldfish", "1,2,3,4,5,6,7,8,9,10,11,12,13"])
def test_chroma_mode_uses_the_named_palette(names):
    features = synthetic_features(60)
    preset = load_preset("default", [f"classes.names={names}"])
    y = build_timeline(features, preset).class_vectors
    wanted = {resolve_class(n) for n in names.split(",")}
    assert set(np.flatnonzero(y.sum(axis=0))) == wanted
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)


def test_breeding_follows_the_feature():
    features = synthetic_features(200)
    preset = load_preset("breed", ["breed.smoothing=0", "breed.min=0.2", "breed.max=0.8"])
    y = build_timeline(features, preset).class_vectors
    assert set(np.flatnonzero(y.sum(axis=0))) == {TIGER, VOLCANO}
    expected = 0.2 + 0.6 * features.energy
    assert np.allclose(y[:, TIGER], expected, atol=1e-6)
    assert np.allclose(y[:, VOLCANO], 1 - expected, atol=1e-6)


def test_walk_follows_energy():
    features = synthetic_features(300)
    preset = load_preset("default", [*STILL, "walk.speed=1.0"])
    noise = build_timeline(features, preset).noise
    step = np.abs(np.diff(noise, axis=0)).mean(axis=1)
    loud, quiet = features.energy[1:] > 0.8, features.energy[1:] < 0.2
    assert step[loud].mean() > 3 * step[quiet].mean()


def test_truncated_normal_and_truncation_curve():
    rng = np.random.default_rng(0)
    for bound in (0.3, 1.0, 2.0):
        values = truncated_normal(rng, 10_000, bound)
        assert np.abs(values).max() <= bound and values.std() > 0.2 * bound
    features = synthetic_features(200)
    preset = load_preset("default", ["truncation.smoothing=0", "truncation.min=0.2"])
    t = build_timeline(features, preset).truncation
    assert np.allclose(t, 0.2 + 0.5 * features.energy, atol=1e-6)
    inverted = load_preset("default", ["truncation.smoothing=0", "truncation.invert=true"])
    t = build_timeline(features, inverted).truncation
    assert np.allclose(t, 0.7 - 0.3 * features.energy, atol=1e-6)


def test_set_preset_keeps_state_and_applies_next_frame():
    features = synthetic_features(120)
    first = load_preset("pulse")
    second = load_preset("pulse", ["truncation.min=0.9", "truncation.max=0.9", "walk.speed=5"])
    mapper = CausalMapper(first, fps=features.fps)
    fresh = CausalMapper(second, fps=features.fps)
    out = [mapper.step(frame_features(features, i)) for i in range(60)]
    for i in range(60):
        fresh.step(frame_features(features, i))
    mapper.set_preset(second)
    y, z, t = mapper.step(frame_features(features, 60))
    _, z_fresh, _ = fresh.step(frame_features(features, 60))
    assert t == pytest.approx(0.9)
    assert not np.allclose(z, z_fresh)  # the walk continued from its own position
    latent_before, latent_now = out[-1][1] / out[-1][2], z / t
    assert np.abs(latent_now - latent_before).max() < 0.5  # no jump back to the start


def test_fractional_fps_empty_features_and_save_load(tmp_path):
    features = synthetic_features(90, fps=Fraction(30000, 1001))
    tl = build_timeline(features, load_preset("dreamy"))
    assert tl.fps == Fraction(30000, 1001)
    path = timeline_io.save(tl, tmp_path / "t.npz")
    back = timeline_io.load(path)
    assert np.array_equal(back.noise, tl.noise) and np.array_equal(back.truncation, tl.truncation)
    assert back.preset == tl.preset and back.seed == tl.seed and back.fps == tl.fps
    assert back.preset.startswith("description")
    empty = build_timeline(
        synthetic_features(0, tempo=0.0, onsets=[], sections=[]), load_preset("default")
    )
    assert empty.n_frames == 0


def test_zero_phase_has_no_lag():
    x = np.zeros(200)
    x[100] = 1.0
    y = zero_phase(x, 0.2)
    assert np.argmax(y) == 100 and y[95] == pytest.approx(y[105])
    assert np.array_equal(zero_phase(x, 1.0), x)


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "3"])
def test_bad_seed_is_a_preset_error(seed):
    with pytest.raises(PresetError, match="seed"):
        CausalMapper(load_preset("default"), seed=seed, fps=30)


def test_saved_preset_records_the_seed_used():
    tl = build_timeline(synthetic_features(10), load_preset("default"), seed=np.int64(77))
    assert tl.seed == 77 and load_preset_text(tl.preset).seed == 77


def test_directly_built_presets_are_validated():
    with pytest.raises(PresetError, match=r"walk.speed = -1.0 is out of range"):
        Preset(walk=WalkOptions(speed=-1.0)).replace()


@pytest.mark.parametrize("name", ["dreamy", "breed", "default"])
def test_classes_names_works_with_every_mode(name):
    preset = load_preset(name, ["classes.names=tiger,volcano", "breed.names="])
    y = build_timeline(synthetic_features(120), preset).class_vectors
    assert set(np.flatnonzero(y.sum(axis=0))) == {TIGER, VOLCANO}


def test_classes_names_fallback_is_checked():
    with pytest.raises(PresetError, match=r"classes.names \(used as breed.names\) needs exactly 2"):
        load_preset("breed", ["breed.names=", "classes.names=tiger,volcano,goldfish"])
    with pytest.raises(PresetError, match=r"classes.names \(used as keyframes\) needs at least 2"):
        load_preset("dreamy", ["classes.names=tiger"])
