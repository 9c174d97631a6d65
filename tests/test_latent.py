"""The latent stays in BigGAN's range while it moves with the music: every technique keeps the
truncated normal's statistics, and the seeds' hallucination and zoom do what the seeds describe."""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr

from tests.fixtures_audio import SR, music_like, write_wav
from tests.mapping_fixtures import synthetic_features
from visualizer.analysis.decode import Audio
from visualizer.analysis.track import analyze
from visualizer.bench.reactivity import driver_of, latent_speed, reactivity
from visualizer.mapping import build_timeline
from visualizer.mapping.presets import list_presets, load_preset
from visualizer.mapping.truncation import from_truncated, to_truncated
from visualizer.mapping.walk import LatentWalk
from visualizer.mapping.warp import blend, hallucinate

PRESETS = [name for name, _ in list_presets()]
TN_RMS = 0.8796  # rms of the standard normal truncated to [-2, 2]
TN_BEYOND_1_5 = 0.0921


@pytest.fixture(scope="module")
def song():
    """Four minutes of a realistic mix: chords, bass and drums in sections that change loudness,
    key and texture (the Features of a real track's shape, generated)."""
    audio = Audio(music_like(240.0, SR, seed=7), SR, None, 0.0)
    return analyze(audio, fps=Fraction(30))


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_keeps_the_truncated_normal_and_follows_the_music(song, name):
    preset = load_preset(name)
    timeline = build_timeline(song, preset)
    r = reactivity(timeline, song, driver_of(preset))
    assert 0.80 <= r.rms <= 0.95, r
    assert r.beyond_1_5 <= 0.11 and r.beyond_2 <= 0.005, r
    if r.driver == "still":  # a class morph holds the seed's pose: only the species moves
        assert latent_speed(timeline).max() < 1e-5
    else:
        correlation = r.onset_correlation if r.driver.endswith("onset") else r.energy_correlation
        assert correlation >= 0.6 and r.best_lag == 0, r
    assert r.meets_goals()


@pytest.mark.parametrize("name", PRESETS)
def test_causal_mapping_keeps_the_law_too(song, name):
    timeline = build_timeline(song, load_preset(name), causal=True)
    u = timeline.noise / timeline.truncation[:, None]
    assert 0.80 <= np.sqrt(np.mean(u**2)) <= 0.95
    assert np.mean(np.abs(u) > 1.5) <= 0.11 and np.abs(u).max() <= 2.0 + 1e-5


def test_truncated_normal_map_is_exact_and_invertible():
    g = np.random.default_rng(0).standard_normal(400_000)
    u = to_truncated(g, 2.0)
    assert np.abs(u).max() <= 2.0
    assert np.sqrt(np.mean(u**2)) == pytest.approx(TN_RMS, abs=0.003)
    assert np.mean(np.abs(u) > 1.5) == pytest.approx(TN_BEYOND_1_5, abs=0.002)
    small = np.linspace(-0.3, 0.3, 7)
    assert np.allclose(to_truncated(small, 2.0), 0.954 * small, atol=0.01)  # close to identity
    assert np.allclose(from_truncated(u[:1000], 2.0), g[:1000], atol=1e-6)


def test_the_walk_keeps_the_normal_law_for_ever():
    rng = np.random.default_rng(1)
    walk = LatentWalk(rng, rng.standard_normal(128), rng.uniform(0.5, 1.0, 128))
    values = np.array([walk.step(0.08).copy() for _ in range(3000)])
    # a walk that bounced between bounds drifted towards a uniform law (rms 1.15 at bound 2)
    assert values.std() == pytest.approx(1.0, abs=0.05)
    assert np.mean(np.abs(values) > 2.0) == pytest.approx(2 * ndtr(-2.0), abs=0.01)
    steps = np.sqrt(np.mean(np.diff(values, axis=0) ** 2, axis=1))
    assert steps.mean() == pytest.approx(0.08 * 0.75, rel=0.15)  # distance x mean speed factor


def test_blend_keeps_the_law_at_every_angle():
    rng = np.random.default_rng(2)
    g, other = rng.standard_normal((2, 200_000))
    for angle in (0.0, 0.3, 1.0, math.pi / 2, 3.0):
        assert blend(g, other, angle).std() == pytest.approx(1.0, abs=0.01)
    assert blend(g, other, 0.0) is g


def test_hallucination_is_a_sine_fold_that_keeps_small_values():
    """sin(z): small values stay (sin z ~ z), large ones fold back; nothing is amplified and the
    law is kept (the old a*sin(f*z) multiplied small values by up to 4)."""
    g = np.linspace(-4.0, 4.0, 8001)
    folded = hallucinate(g, 1.0, 2.0, 2.0)
    small = np.abs(g) < 0.75  # below where sin(2z) turns (pi/4)
    assert np.array_equal(folded[small], g[small])
    assert hallucinate(g, 0.0, 2.0, 2.0) is g
    assert np.array_equal(np.sign(folded), np.sign(g))
    positive = g > 0
    slope = np.diff(folded[positive])
    assert (slope > 0).any() and (slope < 0).any()  # rises, then folds back
    top = g[positive][np.argmax(folded[positive])]
    assert 0.8 < top < 2.0 and folded[-1] < 0.9  # the largest inputs come back near the fold
    samples = np.random.default_rng(3).standard_normal(200_000)
    assert hallucinate(samples, 1.0, 2.0, 2.0).std() == pytest.approx(1.0, abs=0.01)
    half = hallucinate(samples, 0.5, 2.0, 2.0)
    assert half.std() == pytest.approx(1.0, abs=0.01)
    assert np.mean(half != samples) < np.mean(hallucinate(samples, 1.0, 2.0, 2.0) != samples)


def test_zoom_scales_the_latent_up_when_the_bass_is_loud():
    features = synthetic_features(1800)  # a minute: the zoom follows the bass around its mean
    low = (0.5 + 0.5 * np.sign(np.sin(np.arange(1800) / 45.0))).astype(np.float32)
    features = features.__class__(**{**features.__dict__, "bands": np.stack([low, low, low])})
    preset = load_preset("zoom", ["pulse.trigger='none'", "truncation.min=0.5",
                                  "truncation.max=0.5"])  # fmt: skip
    u = build_timeline(features, preset).noise / 0.5
    magnitude = np.sqrt(np.mean(u**2, axis=1))
    loud, quiet = low[300:] > 0.5, low[300:] < 0.5
    assert magnitude[300:][loud].mean() > 1.1 * magnitude[300:][quiet].mean()
    assert np.corrcoef(magnitude, low)[0, 1] > 0.5
    assert np.abs(u).max() <= 2.0 + 1e-5
    off = load_preset("zoom", ["zoom.amount=0", "pulse.trigger='none'"])
    plain = build_timeline(features, off).noise / build_timeline(features, off).truncation[:, None]
    assert abs(np.corrcoef(np.sqrt(np.mean(plain**2, axis=1)), low)[0, 1]) < 0.3


def test_reactivity_bench_prints_every_preset(tmp_path):
    track = write_wav(tmp_path / "song.wav", music_like(20.0, SR, seed=2))
    root = Path(__file__).resolve().parents[1]
    env = {"VISUALIZER_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(root), "PATH": ""}
    run = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "reactivity_bench.py"), str(track)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ")][2:]
    assert sorted(row.split(" | ")[0][2:] for row in rows) == sorted(PRESETS)
