"""Device and precision resolution for every kind of machine (CUDA boxes, Macs with Metal, plain
CPUs) through the pure rules, and on this machine through torch."""

from __future__ import annotations

import pytest
import torch

from visualizer.errors import VisualizerError
from visualizer.model.devices import (
    check_named_precision,
    choose_device,
    choose_precision,
    resolve_device,
)
from visualizer.pipeline import plan_render


@pytest.mark.parametrize(
    ("name", "cuda_count", "mps", "expected"),
    [
        ("auto", 2, True, ("cuda", 0)),  # CUDA first, even on a machine with both
        ("auto", 0, True, ("mps", None)),  # a Mac
        ("auto", 0, False, ("cpu", None)),
        ("cpu", 2, True, ("cpu", None)),
        ("mps", 0, True, ("mps", None)),
        (" MPS ", 0, True, ("mps", None)),
        ("cuda", 1, False, ("cuda", 0)),
        ("cuda:1", 2, False, ("cuda", 1)),
    ],
)
def test_choose_device(name, cuda_count, mps, expected):
    assert choose_device(name, cuda_count=cuda_count, mps=mps) == expected


@pytest.mark.parametrize(
    ("name", "cuda_count", "mps", "message"),
    [
        ("mps", 2, False, "Metal \\(MPS\\) is not available"),
        ("cuda", 0, True, "'cuda' requested but CUDA is not available"),
        ("cuda:2", 2, False, "'cuda:2' does not exist: 2 CUDA device"),
        ("tpu", 1, True, "unknown device 'tpu': expected auto, cpu, cuda, cuda:N or mps"),
        ("cuda:x", 1, False, "unknown device 'cuda:x'"),
    ],
)
def test_choose_device_errors_name_the_value(name, cuda_count, mps, message):
    with pytest.raises(VisualizerError, match=message) as info:
        choose_device(name, cuda_count=cuda_count, mps=mps)
    assert "\n" not in str(info.value)


def test_choose_precision_per_device():
    assert [choose_precision("auto", kind) for kind in ("cuda", "mps", "cpu")] == [
        "fp16",
        "fp32",
        "fp32",
    ]
    assert choose_precision("fp16", "mps") == "fp16"
    assert choose_precision("bf16", "cuda") == "bf16"
    with pytest.raises(
        VisualizerError, match="'bf16' is not supported on mps: expected auto, fp32"
    ):
        choose_precision("bf16", "mps")
    with pytest.raises(VisualizerError, match="unknown precision 'fp8'"):
        choose_precision("fp8", "cpu")


def test_a_precision_the_named_device_cannot_run_fails_before_loading(tmp_path, capsys):
    for device in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        check_named_precision(device, "fp16")
    check_named_precision("auto", "bf16")  # decided where the render runs
    check_named_precision("cuda:3", "bf16")
    with pytest.raises(VisualizerError, match="'bf16' is not supported on mps"):
        check_named_precision(" MPS ", "bf16")
    with pytest.raises(VisualizerError, match="unknown precision 'fp8'"):
        check_named_precision("auto", "fp8")

    from tests.fixtures_audio import SR, music_like, write_wav
    from visualizer.cli import main

    track = write_wav(tmp_path / "t.wav", music_like(2.0, SR, seed=1), SR)
    out = tmp_path / "o.mp4"
    argv = ["render", str(track), "-o", str(out), "--model", "biggan-deep-128", "--device", "mps"]
    assert main([*argv, "--precision", "bf16", "--weights", "random", "-q"]) == 1
    assert "precision 'bf16' is not supported on mps" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.wav"]


def test_resolve_device_on_this_machine():
    mps = torch.backends.mps.is_available()
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not mps:
        with pytest.raises(VisualizerError, match="MPS"):
            resolve_device("mps")


def test_a_render_on_mps_never_plans_nvenc(tmp_path):
    """The encoder follows CUDA only: a render on MPS (or the CPU) is planned with libx264.
    Planning needs no device, so this runs anywhere."""
    from tests.fixtures_audio import music_like, write_wav
    from visualizer.pipeline.options import RenderOptions

    track = write_wav(tmp_path / "t.wav", music_like(1.0))
    for device in ("mps", "cpu"):
        options = RenderOptions(device=device, weights="random", overwrite=True)
        plan = plan_render(track, tmp_path / f"{device}.mp4", options)
        assert plan.encoder == "libx264"
