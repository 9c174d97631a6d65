"""The Python API from the package root: render, analyze, make_timeline, load_preset; the
example script in examples/ run as a user runs it; and `import visualizer` staying light."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import visualizer
from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import write_checkpoint
from visualizer.errors import PresetError, VisualizerError
from visualizer.mapping import timeline as timeline_io

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("audio") / "song.wav", music_like(3.0, seed=2))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("tiny"), channel_width=8, seed=5)


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_visualizer_loads_nothing_heavy():
    out = _run(
        "import sys, visualizer; "
        "print(sorted(m for m in ('torch', 'numpy', 'librosa', 'scipy') if m in sys.modules))"
    )
    assert out == "[]"


def test_render_stays_the_function_whatever_is_imported_first():
    out = _run(
        "from visualizer.rendering import video; import visualizer.pipeline; import visualizer; "
        "from visualizer import render; "
        "print(callable(visualizer.render), render is visualizer.render, video.__name__)"
    )
    assert out == "True True visualizer.rendering.video"


def test_render_matches_its_timeline_and_reports_the_result(track, tiny_weights, tmp_path):
    overrides = {"classes.names": ["tiger", "volcano"], "truncation.max": 0.6}
    expected = visualizer.make_timeline(
        track, preset="default", overrides=overrides, seed=3, fps="24000/1001", duration=2.0
    )
    assert expected.fps == Fraction(24000, 1001) and expected.n_frames == 48
    saved = tmp_path / "used.npz"
    result = visualizer.render(
        track,
        tmp_path / "out.mp4",
        overrides=overrides,
        seed=3,
        model="biggan-deep-128",
        weights=tiny_weights,
        device="cpu",
        fps="24000/1001",
        duration=2.0,
        size="160x128",
        timeline_out=saved,
    )
    assert result.output == tmp_path / "out.mp4" and result.output.stat().st_size > 0
    assert result.n_frames == 48 and result.fps == Fraction(24000, 1001)
    assert (tmp_path / "out.preset.toml").is_file()
    used = timeline_io.load(saved)
    np.testing.assert_array_equal(used.class_vectors, expected.class_vectors)
    np.testing.assert_array_equal(used.noise, expected.noise)
    # The same overrides as "section.key=value" strings make the same Timeline.
    again = visualizer.make_timeline(
        track,
        overrides=['classes.names=["tiger", "volcano"]', "truncation.max=0.6"],
        seed=3,
        fps=Fraction(24000, 1001),
        duration=2.0,
    )
    np.testing.assert_array_equal(again.truncation, expected.truncation)


def test_analyze_and_load_preset(track, capsys):
    features = visualizer.analyze(track, fps=25, start=1.0, duration=1.0, progress=True)
    assert features.fps == 25 and features.n_frames == 25
    assert "analy" in capsys.readouterr().err  # progress=True drew a bar (text outside Jupyter)
    preset = visualizer.load_preset("default", ["truncation.max=0.7"])
    assert preset.truncation.max == 0.7
    with pytest.raises(PresetError):
        visualizer.load_preset("no-such-preset")


def test_bad_arguments_name_the_value(track, tmp_path):
    with pytest.raises(VisualizerError, match="unknown option 'qualty': expected one of"):
        visualizer.render(track, tmp_path / "o.mp4", weights="random", qualty=20)
    with pytest.raises(VisualizerError, match="invalid fps 'fast'"):
        visualizer.analyze(track, fps="fast")
    with pytest.raises(VisualizerError, match="unknown device 'gpu'"):
        visualizer.render(track, tmp_path / "o.mp4", weights="random", device="gpu")
    with pytest.raises(VisualizerError, match="unknown beat tracker 'madmom'"):
        visualizer.make_timeline(track, beats="madmom")
    with pytest.raises(
        VisualizerError, match=r"unknown beat tracker 'dsp:10': expected dsp, dsp:BPM"
    ):
        visualizer.make_timeline(track, beats="dsp:10")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.slow
def test_example_script_renders_the_demo_with_random_weights(tmp_path):
    output = tmp_path / "demo.mp4"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "render_demo.py"), str(output)]
        + ["--duration", "0.5"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "timeline: 15 frames" in result.stdout
    assert f"wrote {output}: 15 frames" in result.stdout
    assert output.stat().st_size > 0 and output.with_suffix(".preset.toml").is_file()


def test_analyze_with_a_downbeat_moves_the_mix_and_its_stems_bars_alike(tmp_path):
    from tests.fixtures_audio import bar_pattern, bar_pattern_times

    samples = bar_pattern(4, 120.0, 12.0)
    track = write_wav(tmp_path / "song.wav", samples)
    drums = write_wav(tmp_path / "drums.wav", samples)  # a stem with the mix's own bars
    beat_times, _ = bar_pattern_times(4, 120.0, 12.0)
    heard = float(beat_times[6])  # the third beat of bar 2
    found = visualizer.analyze(track, stems={"drums": drums}, downbeat=heard)
    assert found["mix"].downbeats.tolist() == found["drums"].downbeats.tolist()
    assert round(heard * 30) in found["mix"].downbeats
    assert round(heard * 30) not in visualizer.analyze(track).downbeats  # moved there
    assert found["drums"].sections.tolist() == found["mix"].sections.tolist()
    part = visualizer.analyze(track, stems={"drums": drums}, downbeat=heard, start=5.0)
    first = 150
    mix = found["mix"].downbeats
    assert part["drums"].downbeats.tolist() == (mix[mix >= first] - first).tolist()
    alone = visualizer.analyze(track, downbeat=heard)
    assert alone.downbeats.tolist() == mix.tolist()
    timeline = visualizer.make_timeline(track, preset="minimal", downbeat=heard)
    assert timeline.n_frames == 360
    with pytest.raises(VisualizerError, match=r"invalid --downbeat '6': expected the seconds"):
        visualizer.analyze(track, downbeat="6")
