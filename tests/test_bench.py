"""`visualizer bench`: the precision sweep on a CPU with a tiny config, FLOP counting against
the reference figures, the matmul peak, the table and the JSON file, bad options."""

from __future__ import annotations

import dataclasses
import json

import pytest

from visualizer.bench.generator import flops_per_frame, matmul_peak_tflops, run_precision_sweep
from visualizer.cli import main
from visualizer.errors import VisualizerError
from visualizer.model.network import BigGANConfig

TINY = dataclasses.replace(BigGANConfig.for_model("biggan-deep-128"), channel_width=8)


@pytest.mark.parametrize(("model", "gflop"), [("128", 17.92), ("256", 58.80), ("512", 75.99)])
def test_flops_per_frame_match_the_reference_figures(model, gflop):
    counted = flops_per_frame(BigGANConfig.for_model(f"biggan-deep-{model}")) / 1e9
    assert abs(counted - gflop) / gflop < 0.01


def test_sweep_on_cpu_reports_every_precision_against_the_peak():
    result = run_precision_sweep(
        precisions=("fp32", "bf16"), frames=2, batch_size=1, device="cpu", config=TINY,
        matmul_size=256,
    )  # fmt: skip
    assert [r.precision for r in result.precisions] == ["fp32", "bf16"]
    assert result.frames == 2 and result.reference_s_per_frame > 0
    assert result.gflop_per_frame == pytest.approx(flops_per_frame(TINY) / 1e9)
    for row in result.precisions:
        assert row.fps > 0 and row.peak_tflops > 0 and row.finite
        # Achieved throughput is the counted FLOPs over the measured time. It is not bounded by
        # the matmul peak here: on a CPU without native bf16 matmul the 256-wide bf16 matmul
        # takes a slow path while the convolutions do not (CI measured 300 % of that "peak").
        assert row.tflops == pytest.approx(result.gflop_per_frame / 1e3 / row.s_per_frame)
        assert row.speedup == pytest.approx(result.reference_s_per_frame / row.s_per_frame)
    fp32, bf16 = result.precisions
    assert fp32.max_abs_diff < 1e-3 and 0 < bf16.max_abs_diff < 1.0
    text = "\n".join(result.lines())
    assert "visualizer bf16" in text and "reference (" in text and "GFLOP/frame" in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["precisions"][0]["fps"] == pytest.approx(fp32.fps)


def test_matmul_peak_is_positive_and_bad_precisions_are_refused():
    import torch

    assert matmul_peak_tflops(torch.device("cpu"), "fp32", size=128, repeats=2) > 0
    with pytest.raises(VisualizerError, match="unknown precision 'fp8'"):
        run_precision_sweep(precisions=("fp8",), device="cpu", config=TINY)


def test_bench_command_prints_the_table_and_writes_json(tmp_path, capsys, monkeypatch):
    import visualizer.bench.generator as bench

    # The CLI has no --config: run the real sweep on the tiny network instead of 128 channels.
    real = bench.run_precision_sweep
    monkeypatch.setattr(bench, "run_precision_sweep", lambda *a, **k: real(*a, **k, config=TINY))
    out = tmp_path / "bench.json"
    code = main(["bench", "--device", "cpu", "--precisions", "fp32", "--frames", "1",
                 "--json", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| visualizer fp32 |" in printed and "matmul peak" in printed
    data = json.loads(out.read_text())
    assert data["generator"]["precisions"][0]["precision"] == "fp32"
    assert data["generator"]["precisions"][0]["fps"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--precisions", "fp32,fp8"], "invalid precisions 'fp32,fp8'"),
        (["--precisions", ","], "invalid precisions"),
        (["--compile", "fast"], "invalid choice"),
    ],
)
def test_bench_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_bench_bad_end_to_end_values_are_one_line_errors(capsys):
    assert main(["bench", "--device", "cpu", "--seconds", "0", "--end-to-end"]) == 1
    assert "invalid --seconds 0" in capsys.readouterr().err


def test_seconds_per_audio_second_sit_beside_the_peers_recorded_figure():
    from visualizer.bench.end_to_end import PEER_SECONDS_PER_AUDIO_SECOND, audio_second_figures

    figures = audio_second_figures(46.0, 10.0)
    assert figures["seconds_per_audio_second"] == 4.6
    assert figures["peer_seconds_per_audio_second_recorded"] == PEER_SECONDS_PER_AUDIO_SECOND
    assert figures["over_peer"] == round(4.6 / PEER_SECONDS_PER_AUDIO_SECOND, 3)
