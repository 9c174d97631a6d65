"""`visualizer render` and `visualizer preview` end to end: real analysis, mapping, a tiny random
BigGAN-deep checkpoint, the real ffmpeg; output files read back and checked."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import write_checkpoint
from tests.render_fixtures import run_cli
from tests.video_fixtures import probe, read_frames
from visualizer.errors import RenderError

SR = 22050
FPS = 10


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(write_checkpoint(tmp_path_factory.mktemp("weights"), channel_width=8))


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("audio") / "song.wav", music_like(3.0, SR, seed=2), SR)


def _render_args(song, out, weights, *extra):
    return ["render", song, "-o", out, "--weights", weights, "--fps", FPS, "--quiet", *extra]


def test_render_writes_a_video_with_sound_in_sync(song, weights, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, *_render_args(song, out, weights))
    assert code == 0, err
    info = probe(out)
    assert info["frames"] == 30  # 3 s at 10 fps
    assert (info["width"], info["height"]) == (128, 128)
    assert info["audio_seconds"] is not None
    assert abs(info["video_seconds"] - info["audio_seconds"]) < 1 / FPS
    assert "seed" in out.with_suffix(".preset.toml").read_text()
    frames = read_frames(out)
    assert frames.std() > 5  # a picture, not a blank


def test_saved_timeline_reproduces_the_render_exactly(song, weights, tmp_path, capsys):
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    saved = tmp_path / "t.npz"
    args = _render_args(song, first, weights, "--timeline-out", saved, "--seed", 5)
    assert run_cli(capsys, *args)[0] == 0
    args = _render_args(song, second, weights, "--timeline", saved)
    args.remove("--fps")
    args.remove(FPS)
    assert run_cli(capsys, *args)[0] == 0
    reference = read_frames(first)
    assert np.array_equal(reference, read_frames(second))
    # Another batch size changes the arithmetic, not the picture: raw frames differ by rounding
    # (at most 1 level), which the encoder turns into small differences after compression.
    third = tmp_path / "c.mp4"
    args[args.index(second)] = third
    assert run_cli(capsys, *args, "--batch-size", 3)[0] == 0
    assert np.abs(read_frames(third).astype(int) - reference).mean() < 3.0


def test_killed_render_resumes_to_the_same_video(song, weights, tmp_path, capsys):
    whole, out = tmp_path / "whole.mp4", tmp_path / "out.mp4"
    common = ["--segment-frames", 6, "--batch-size", 2]
    assert run_cli(capsys, *_render_args(song, whole, weights, *common))[0] == 0

    argv = [
        sys.executable,
        "-m",
        "visualizer",
        *map(str, _render_args(song, out, weights, *common)),
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first_segment = tmp_path / ".out.mp4.parts" / "segment-00000.mp4"
    deadline = time.monotonic() + 120
    while not first_segment.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert first_segment.exists(), process.stderr.read().decode()
    assert not out.exists()

    code, err = run_cli(capsys, *_render_args(song, out, weights, *common))
    assert code == 1 and "--resume" in err and not out.exists()
    code, err = run_cli(capsys, *_render_args(song, out, weights, *common, "--resume"))
    assert code == 0, err
    assert np.array_equal(read_frames(out), read_frames(whole))
    code, err = run_cli(capsys, *_render_args(song, out, weights, *common, "--resume"))
    assert code == 1 and "exists" in err  # a finished video is never overwritten by --resume


@pytest.mark.parametrize(
    ("case", "expected_code", "needle"),
    [
        ("missing track", 1, "missing.wav"),
        ("corrupt track", 1, "corrupt.wav"),
        ("existing output", 1, "--overwrite"),
        ("odd size", 2, "even"),
        ("bad fps", 2, "fps"),
        ("unknown preset", 1, "no-such-preset"),
        ("unknown class", 1, "tigre"),
        ("bad weights", 1, "no-such-weights"),
        ("bad output type", 1, ".gif"),
    ],
)
def test_bad_input_exits_with_one_line_and_no_output(
    case, expected_code, needle, song, weights, tmp_path, capsys
):
    out = tmp_path / ("out.gif" if case == "bad output type" else "out.mp4")
    track: Path = song
    extra: list = []
    if case == "missing track":
        track = tmp_path / "missing.wav"
    elif case == "corrupt track":
        track = tmp_path / "corrupt.wav"
        track.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    elif case == "existing output":
        out.write_bytes(b"keep me")
    elif case == "odd size":
        extra = ["--size", "641x360"]
    elif case == "bad fps":
        extra = ["--fps", "-3"]
    elif case == "unknown preset":
        extra = ["--preset", "no-such-preset"]
    elif case == "unknown class":
        extra = ["--set", "classes.names=tigre"]
    elif case == "bad weights":
        weights = str(tmp_path / "no-such-weights")
    before = {p.name for p in tmp_path.iterdir()}
    code, err = run_cli(capsys, *_render_args(track, out, weights, *extra))
    assert code == expected_code
    assert needle in err
    lines = [line for line in err.strip().splitlines() if line]
    if expected_code == 1:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert {p.name for p in tmp_path.iterdir()} == before  # nothing new, nothing removed
    if case == "existing output":
        assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize("seconds", [2.0, 0.03])
def test_silence_and_a_track_shorter_than_one_frame(seconds, weights, tmp_path, capsys):
    track = write_wav(tmp_path / "quiet.wav", np.zeros(int(seconds * SR), np.float32), SR)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, *_render_args(track, out, weights))
    assert code == 0, err
    info = probe(out)
    assert info["frames"] >= 1
    assert abs(info["frames"] / FPS - seconds) < 1 / FPS


def test_size_fit_and_summary_line(song, weights, tmp_path, capsys):
    out = tmp_path / "wide.mp4"
    args = _render_args(song, out, weights, "--size", "256x144", "--fit", "mirror")
    args.remove("--quiet")
    args += ["--duration", "1"]
    code, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "wrote" in err and "10 frames" in err
    info = probe(out)
    assert (info["width"], info["height"], info["frames"]) == (256, 144, 10)


def test_preview_draws_a_storyboard_from_the_same_timeline(song, weights, tmp_path, capsys):
    from PIL import Image

    sheet = tmp_path / "board.png"
    argv = ["preview", song, "-o", sheet, "--weights", weights, "--fps", FPS, "--frames", 4]
    code, err = run_cli(capsys, *argv, "--quiet")
    assert code == 0, err
    image = np.asarray(Image.open(sheet).convert("RGB"))
    assert image.shape[0] > 128 and image.shape[1] > 2 * 128
    assert run_cli(capsys, *argv, "--quiet")[0] == 1  # exists: needs --overwrite


def test_ctrl_c_leaves_only_the_resumable_work_folder(song, weights, tmp_path):
    out = tmp_path / "out.mp4"
    args = _render_args(song, out, weights, "--segment-frames", 6, "--batch-size", 2)
    argv = [sys.executable, "-m", "visualizer", *map(str, args)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    work = tmp_path / ".out.mp4.parts"
    deadline = time.monotonic() + 120
    while not (work / "segment-00000.mp4").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    assert "--resume" in err.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.mp4.parts"]
    leftovers = [p.name for p in work.iterdir() if "partial" in p.name]
    assert leftovers == []
    assert (work / "segment-00000.mp4").exists()


@pytest.mark.slow
def test_compiled_render_equals_eager_render(song, weights, tmp_path, capsys, monkeypatch):
    """--compile default: same PNG frames as eager (30 frames in batches of 4: the last batch is
    padded, not recompiled), kernels cached under the visualizer cache. ~40 s: a cold compile."""
    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "")  # unset by the user: ours is used
    frames = {}
    for mode in ("off", "default"):
        out, folder = tmp_path / f"{mode}.mp4", tmp_path / f"png-{mode}"
        extra = ("--compile", mode, "--batch-size", 4, "--frames-dir", folder, "--seed", 3)
        code, err = run_cli(capsys, *_render_args(song, out, weights, *extra))
        assert code == 0, err
        frames[mode] = np.stack([np.asarray(Image.open(p)) for p in sorted(folder.iterdir())])
    assert frames["off"].shape == frames["default"].shape == (30, 128, 128, 3)
    diff = np.abs(frames["off"].astype(int) - frames["default"].astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.05  # float rounding only
    cache = tmp_path / "cache" / "inductor"
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(cache) and any(cache.iterdir())


def test_compile_option_reaches_the_generator_and_does_not_block_a_resume(
    song, weights, tmp_path, capsys
):
    from visualizer.model.inference import load_generator
    from visualizer.pipeline import plan_render
    from visualizer.pipeline.options import RenderOptions

    options = RenderOptions(weights=weights, device="cpu", fps=Fraction(FPS), compile="auto")
    assert not load_generator(options).compiled  # auto = eager on a CPU
    compiled = load_generator(dataclasses.replace(options, compile="default"))
    assert compiled.compiled and compiled.compile_mode == "default"
    assert "synthesize" not in vars(compiled.network)  # compiled beside the module, not onto it
    out = tmp_path / "out.mp4"
    plan_render(song, out, options)  # leaves the work folder an interrupted render would
    resumed = plan_render(song, out, dataclasses.replace(options, compile="default", resume=True))
    assert resumed.options.compile == "default" and len(resumed.pending()) == 1
    code, err = run_cli(
        capsys, *_render_args(song, tmp_path / "x.mp4", weights, "--compile", "fast")
    )
    assert code == 2 and not (tmp_path / "x.mp4").exists()
    with pytest.raises(RenderError, match="unknown compile mode 'fast'"):
        plan_render(song, tmp_path / "y.mp4", dataclasses.replace(options, compile="fast"))


def test_model_auto_is_128_on_a_cpu_and_explicit_names_are_kept():
    from visualizer.cli import get_parser
    from visualizer.commands.render import options_from_args

    def options(*extra):
        return options_from_args(
            get_parser().parse_args(["render", "t.wav", "-o", "o.mp4", *extra])
        )

    assert options("--device", "cpu").model == "biggan-deep-128"
    assert options("--device", "cpu", "--model", "biggan-deep-256").model == "biggan-deep-256"


def test_a_cpu_render_says_what_its_frames_will_cost_before_any_work(song, tmp_path, capsys):
    """The first render's cost is no surprise: before the analysis, the model load or a frame,
    the CPU figures of BENCHMARKS.md give the rendering time (a 3 s track at 10 fps: 30 frames
    at 128 px, 3.6 s; at 512 px, 19 s)."""
    from visualizer.commands.render import cost_estimate
    from visualizer.pipeline.options import RenderOptions

    small = cost_estimate(song, RenderOptions(device="cpu", fps=Fraction(FPS)))
    assert small is not None and small.startswith("30 frames at 128 px on the CPU: about 4 s")
    large = RenderOptions(device="cpu", fps=Fraction(FPS), model="biggan-deep-512", frame_step=2)
    assert cost_estimate(song, large).startswith("15 frames at 512 px on the CPU: about 10 s")
    assert cost_estimate(tmp_path / "missing.wav", RenderOptions(device="cpu")) is None
    out = tmp_path / "o.mp4"
    argv = ["render", song, "-o", out, "--weights", "nope", "--fps", FPS, "--device", "cpu"]
    code, err = run_cli(capsys, *argv)
    assert code == 1 and "30 frames at 128 px on the CPU: about 4 s" in err.splitlines()[0], err
