"""`visualizer models list|download` in-process through `visualizer.cli.main` and once as a real
subprocess, against a real loopback HTTP server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from tests.fixtures_biggan import WeightsServer, write_checkpoint
from visualizer.cli import main
from visualizer.content import cache_dir
from visualizer.model import registry as weights
from visualizer.model.upscaler import PUBLISHED


@pytest.fixture
def served(tmp_path, monkeypatch):
    folder = write_checkpoint(tmp_path / "ckpt", channel_width=8, seed=4)
    files = {
        "biggan-deep-128-pytorch_model.bin": (folder / "pytorch_model.bin").read_bytes(),
        "biggan-deep-128-config.json": (folder / "config.json").read_bytes(),
    }
    bin_sha = hashlib.sha256(files["biggan-deep-128-pytorch_model.bin"]).hexdigest()
    size = len(files["biggan-deep-128-pytorch_model.bin"])
    info = weights.ModelInfo("biggan-deep-128", size, bin_sha)
    monkeypatch.setitem(weights.DOWNLOADS, "biggan-deep-128", info)
    with WeightsServer(files) as server:
        yield server


def test_list_shows_every_model_and_cache_state(capsys, served):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512"):
        assert name in out
    assert "234 MB" in out  # the 256 size is exact
    assert out.count(" no\n") == 3 + len(PUBLISHED)  # the generators, then the upscalers
    assert main(["models", "download", "biggan-deep-128", "--base-url", served.url, "-q"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    cached_line = next(line for line in capsys.readouterr().out.splitlines() if "-128" in line)
    assert str(cache_dir() / "biggan-deep-128") in cached_line


def test_download_progress_and_already_cached(capsys, served):
    assert main(["models", "download", "biggan-deep-128", "--base-url", served.url]) == 0
    captured = capsys.readouterr()
    assert "downloaded to" in captured.out and "sha256 where published" in captured.out
    assert "biggan-deep-128 weights" in captured.err  # the byte progress bar
    assert main(["models", "download", "biggan-deep-128", "--base-url", served.url]) == 0
    assert "already cached" in capsys.readouterr().out


def test_download_errors_are_one_line(capsys, served):
    assert main(["models", "download", "biggan-deep-1024"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'biggan-deep-1024' (available: biggan-deep-128")
    assert err.count("\n") == 1
    served.cut.add("biggan-deep-128-pytorch_model.bin")
    assert main(["models", "download", "biggan-deep-128", "--base-url", served.url, "-q"]) == 1
    assert "cut off" in capsys.readouterr().err
    assert weights.cached_model_dir("biggan-deep-128") is None


def test_models_list_as_a_real_subprocess(tmp_path):
    env = {**os.environ, "VISUALIZER_CACHE": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "visualizer", "models", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "biggan-deep-512" in result.stdout and f"cache: {tmp_path}" in result.stdout


def test_bench_runs_and_reports_the_ratio(capsys):
    import dataclasses

    from visualizer.bench.generator import run_precision_sweep
    from visualizer.model.network import BigGANConfig

    tiny = dataclasses.replace(BigGANConfig.for_model("biggan-deep-128"), channel_width=8)
    result = run_precision_sweep(
        precisions=("fp32",), frames=2, batch_size=2, device="cpu", config=tiny, matmul_size=256
    )
    (row,) = result.precisions
    assert row.s_per_frame > 0 and result.reference_s_per_frame > 0
    assert result.frames == 2 and row.max_abs_diff < 1e-3 and row.finite
    assert row.speedup == pytest.approx(result.reference_s_per_frame / row.s_per_frame)
    assert any("vs reference" in line for line in result.lines())
    with pytest.raises(SystemExit):
        main(["bench", "--precision", "fp8"])
    assert "invalid choice" in capsys.readouterr().err
