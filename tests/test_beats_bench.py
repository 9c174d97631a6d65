"""`benchmarks/beats_bench.py`: its scores on known cases, and a whole run against a planted
reference answer (the reference tracker itself lives in an environment of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_audio import bar_pattern, bar_pattern_times, write_wav
from visualizer.content import file_sha256

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import beats_bench  # noqa: E402
from beats_reference import REFERENCE_VERSION, summarise  # noqa: E402

TRUTH = np.arange(5.0, 65.0, 0.5)  # 120 BPM


def test_f_measure_window():
    assert beats_bench.f_measure(TRUTH, TRUTH) == 1.0
    assert beats_bench.f_measure(TRUTH + 0.05, TRUTH) == 1.0  # inside 70 ms
    assert beats_bench.f_measure(TRUTH + 0.1, TRUTH) == 0.0
    half = beats_bench.f_measure(TRUTH[::2], TRUTH)  # every other beat: recall 0.5
    assert half == pytest.approx(2 * 0.5 / 1.5, abs=0.01)
    assert beats_bench.f_measure(np.zeros(0), TRUTH) == 0.0


def test_continuity_accepts_octaves_and_off_beats_only_in_aml():
    assert beats_bench.cml_aml(TRUTH, TRUTH) == (1.0, 1.0)
    double = np.sort(np.concatenate([TRUTH, TRUTH + 0.25]))
    off = TRUTH + 0.25
    for estimate in (double, off, TRUTH[::2]):
        cml, aml = beats_bench.cml_aml(TRUTH, estimate)
        assert cml < 0.1 and aml > 0.95


def test_tempo_agreement():
    assert beats_bench.tempo_agrees(124.0, 120.0) and beats_bench.tempo_agrees(60.5, 120.0)
    assert not beats_bench.tempo_agrees(80.0, 120.0)  # 2:3 is not an octave
    assert not beats_bench.tempo_agrees(126.0, 120.0)


def test_the_reference_summary():
    raw = {
        "beats": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5],
        "bar_beats": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5],
        "positions": [1, 2, 3, 1, 2, 3, 1],
    }
    answer = summarise(raw)
    assert answer["meter"] == 3 and answer["downbeats"] == [0.5, 2.0, 3.5]
    assert answer["tempo"] == pytest.approx(120.0)


def test_a_run_against_a_planted_reference(tmp_path):
    track = write_wav(tmp_path / "waltz.wav", bar_pattern(3, 100.0, 40.0))
    beats, downbeats = bar_pattern_times(3, 100.0, 40.0)
    answers = tmp_path / "answers"
    answers.mkdir()
    entry = answers / f"{file_sha256(track)[:32]}-v{REFERENCE_VERSION}.json"
    entry.write_text(
        json.dumps(
            {"beats": beats.tolist(), "downbeats": downbeats.tolist(), "meter": 3, "tempo": 100.0}
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VISUALIZER_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "rows.json"
    args = [str(track), "--reference-cache", str(answers), "--presets", "minimal,morph"]
    args += ["--beats", "dsp"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "beats_bench.py"), *args, "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert row["beat_f"] > 0.95 and row["downbeat_f"] > 0.9
    assert row["tempo_ok"] and row["meter_ok"] and row["meter"] == 3
    assert set(row["presets"]) == {"minimal", "morph"}
    for name in ("minimal", "morph"):  # bar presets: every change on a (reference) downbeat
        changes, on_reference, on_ours = row["presets"][name]
        assert changes >= 3 and on_reference >= 0.9 and on_ours == 1.0, (name, row["presets"])
    assert row["phase"][0] == 1 and row["phase"][1] > 0.9, row["phase"]
    assert "medians over 1 tracks: beat F" in done.stdout and "| morph |" in done.stdout
    assert "tracker --beats dsp" in done.stdout
    wrong = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "beats_bench.py"), str(track), "--beats", "qm"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert wrong.returncode == 2 and "expected dsp, dsp:BPM" in wrong.stderr, wrong.stderr


def test_the_phase_names_the_reference_beat_our_downbeats_fall_on():
    downbeats = TRUTH[::4]  # 4/4 bars from the first beat
    assert beats_bench.bar_phase_of(downbeats, TRUTH, downbeats) == [1, 1.0]
    late = TRUTH[2::4] + 0.03  # right bar length, every bar on the reference's beat 3
    assert beats_bench.bar_phase_of(late, TRUTH, downbeats) == [3, 1.0]
    assert beats_bench.beat_in_bar(late[:2], TRUTH, downbeats).tolist() == [3, 3]
    # off the reference's beats, or before its first downbeat: no beat of a bar
    assert beats_bench.beat_in_bar(np.array([5.25, 1.0]), TRUTH, downbeats).tolist() == [0, 0]
    phase = beats_bench.bar_phase_of(np.concatenate([late[:3], [5.25]]), TRUTH, downbeats)
    assert phase == [3, 0.75]
    assert beats_bench.bar_phase_of(np.zeros(0), TRUTH, downbeats)[0] == 0
    # reference downbeats off the reference's beats (another tracker's level) start no bar
    assert beats_bench.bar_phase_of(late, TRUTH, downbeats + 0.25)[0] == 0
