"""The benchmark scripts still run against the code (each in a quick setting) and print their
figures: a refactor that breaks one shows here, not when someone next measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, script: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VISUALIZER_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{") :])


@pytest.mark.slow
def test_live_bench_reports_received_over_generator_only(tmp_path):
    result = _run(tmp_path, "live_bench.py", "--seconds", "2", "--generator-seconds", "0.5")
    assert result["generator_only_fps"] > 0 and result["received"] > 0
    assert 0 < result["received_over_generator"] < 2


@pytest.mark.slow
def test_render_bench_reports_seconds_per_audio_second(tmp_path):
    result = _run(tmp_path, "render_bench.py", "--seconds", "1", "--fps", "2", "--repeats", "1")
    assert result["frames"] == 2 and result["batch_size"] >= 1
    assert result["seconds_per_audio_second"] > 0 and result["over_peer"] > 0


@pytest.mark.slow
def test_memory_bench_names_the_processes_at_the_peak(tmp_path):
    args = ("--models", "biggan-deep-128", "--seconds", "2", "--fps", "2")
    render = _run(tmp_path, "memory_bench.py", *args)["renders"]["biggan-deep-128"]
    assert render["peak_tree_mib"] >= render["python_vmhwm_mib"] > 200
    assert render["tree_at_peak_mib"] and render["tree_at_peak_mib"][0].startswith("python")


@pytest.mark.slow
def test_long_track_bench_analyses_a_generated_minute(tmp_path):
    result = _run(tmp_path, "long_track_bench.py", "--minutes", "1")
    assert result["analysis"]["1 min"]["peak_tree_mib"] > 50


def test_upscale_bench_times_every_published_upscaler(tmp_path):
    result = _run(tmp_path, "upscale_bench.py", "--side", "16")
    assert set(result["models"]) == {
        "realesr-general-x4v3",
        "realesrgan-x4plus",
        "realesrgan-x2plus",
    }
    for model in result["models"].values():
        assert model["output_side"] == 16 * model["scale"] and model["ms_per_frame"] > 0


def test_codec_bench_encodes_every_codec(tmp_path):
    result = _run(tmp_path, "codec_bench.py", "--frames", "8", "--sizes", "512")
    assert set(result["codecs"]) == {
        "h264", "hevc", "prores", "dnxhr", "hap", "hap-q", "av1", "vp9"
    }  # fmt: skip
    assert all(row["512"]["fps"] > 0 for row in result["codecs"].values())


@pytest.mark.slow
def test_encode_bench_reports_scaling_and_preset_quality(tmp_path):
    args = ("--size", "64", "--frames", "16", "--segment-frames", "8", "--presets", "veryfast")
    scaling = _run(tmp_path, "encode_bench.py", "scaling", "--counts", "1,2", *args)["rows"]
    assert [r["encoders"] for r in scaling] == [1, 2] and scaling[0]["over_one_encoder"] == 1
    assert all(r["fps"] > 0 for r in scaling)
    quality = _run(tmp_path, "encode_bench.py", "quality", "--presets", "medium,ultrafast",
                   "--size", "64", "--frames", "8")["rows"]  # fmt: skip
    assert [r["preset"] for r in quality] == ["medium", "ultrafast"]
    assert all(30 < r["psnr_db"] < 99 and 0.5 < r["ssim"] <= 1 for r in quality)


@pytest.mark.slow
def test_live_clock_bench_reports_beat_to_frame_alignment(tmp_path):
    result = _run(tmp_path, "live_clock_bench.py", "--model", "tiny", "--seconds", "3")
    assert result["mapped_beat_frames_ms"]["n"] >= 2 and result["frames_published"] > 0
    assert 0 <= result["mapped_beat_frames_ms"]["p50"] < 1000 / result["fps"] + 50
