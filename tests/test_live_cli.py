"""`visualizer live` as users run it: the real CLI in a subprocess, a tiny checkpoint, a
generated track, a WebSocket client playing the part of the page, and a recording."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from tests.fixtures_biggan import write_checkpoint
from tests.live_fixtures import write_preset, write_track
from tests.video_fixtures import probe

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "visualizer", "live", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def test_live_cli_serves_records_and_stops_cleanly(tmp_path):
    track, _ = write_track(tmp_path, seconds=4.0)
    weights = write_checkpoint(tmp_path / "ckpt", 128, 8)
    preset = write_preset(tmp_path)
    output = tmp_path / "show.mp4"
    process = _cli(
        "--audio", str(track), "--weights", str(weights), "--preset", str(preset),
        "--fps", "24", "--port", "0", "--device", "cpu", "--record", str(output),
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("live: open http://127.0.0.1:"), process.stderr.read()
        url = line.split()[2]
        frames = asyncio.run(_play(url.replace("http", "ws") + "ws", seconds=2.0))
        assert frames >= 3
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert f"recorded {output}" in out
    info = probe(output)
    assert info["video_seconds"] and info["audio_seconds"]
    assert abs(info["video_seconds"] - info["audio_seconds"]) < 0.1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (what ``systemctl stop`` signals besides it)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _plant_leftover(folder: Path) -> Path:
    """A hidden work folder as a SIGKILLed show left it: a video without sound, nobody's."""
    leftover = folder / ".live-record-k1lled00"
    leftover.mkdir()
    (leftover / "video.mp4").write_bytes(b"\0" * 4096)
    hour_ago = time.time() - 3600
    os.utime(leftover / "video.mp4", (hour_ago, hour_ago))
    os.utime(leftover, (hour_ago, hour_ago))
    return leftover


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP"])
def test_a_recording_is_finished_on_sigterm_and_sighup(tmp_path, how):
    """SIGTERM to the show and every process it started (``systemctl stop``), or SIGHUP with the
    terminal gone (an SSH drop): the recording is finished as on Ctrl-C, with its sound, and the
    work folder a killed show left beside it is removed."""
    track, _ = write_track(tmp_path, seconds=6.0)
    weights = write_checkpoint(tmp_path / "ckpt", 128, 8)
    output = tmp_path / "show.mp4"
    leftover = _plant_leftover(tmp_path)
    process = _cli(
        "--audio", str(track), "--weights", str(weights), "--preset", str(write_preset(tmp_path)),
        "--fps", "24", "--port", "0", "--device", "cpu", "--record", str(output),
    )  # fmt: skip
    line = process.stdout.readline()
    assert line.startswith("live: open http://127.0.0.1:"), process.stderr.read()
    assert asyncio.run(_play(line.split()[2].replace("http", "ws") + "ws", seconds=2.0)) >= 3
    if how == "SIGTERM":
        for pid in [process.pid, *_descendants(process.pid)]:
            os.kill(pid, signal.SIGTERM)
    else:  # the terminal is gone: nothing can be printed any more
        process.stdout.close()
        process.stderr.close()
        process.send_signal(signal.SIGHUP)
    process.wait(timeout=120)
    info = probe(output)
    assert info["video_seconds"] and info["audio_seconds"], info
    assert abs(info["video_seconds"] - info["audio_seconds"]) < 0.1
    assert not leftover.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers
    if how == "SIGTERM":
        out, err = process.communicate(timeout=10)
        assert f"recorded {output}" in out, err
    assert process.returncode == 0  # as on Ctrl-C, also with nowhere left to print


def test_a_recording_removes_only_the_work_folders_of_dead_shows(tmp_path):
    """A show's work folder holds a lock while the show lives: the next recording into the
    folder removes a dead show's, and keeps a running show's, a folder made a moment ago, a link
    and whatever the link points at."""
    from visualizer.live.sink_record import RecordSink

    first = RecordSink(tmp_path / "a.mp4", fps=Fraction(24), resolution=128)
    running = next(tmp_path.glob(".live-record-*"))
    dead = tmp_path / ".live-record-dead0000"
    dead.mkdir()
    (dead / "owner.lock").touch()  # nobody holds it: its show was killed
    (dead / "video.mp4").write_bytes(b"\0" * 4096)
    legacy = _plant_leftover(tmp_path)  # an earlier version's: no lock, an hour old
    young = tmp_path / ".live-record-young000"
    young.mkdir()  # no lock yet, made just now: a show starting
    target = tmp_path / "keep"
    target.mkdir()
    (target / "precious.txt").write_text("mine")
    (tmp_path / ".live-record-link0000").symlink_to(target)
    second = RecordSink(tmp_path / "b.mp4", fps=Fraction(24), resolution=128)
    assert running.is_dir() and young.is_dir() and (target / "precious.txt").exists()
    assert not dead.exists() and not legacy.exists()
    assert first.close() is None and second.close() is None  # no frame came: nothing written
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert left == [".live-record-link0000", ".live-record-young000"]


async def _play(url: str, seconds: float) -> int:
    """Be the page: report a playing clock, count the frames that come back."""
    from websockets.asyncio.client import connect

    frames = 0
    async with connect(url) as ws:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            t = time.monotonic() - start
            await ws.send(json.dumps({"type": "clock", "t": t, "playing": True}))
            try:
                message = await asyncio.wait_for(ws.recv(), 0.1)
                frames += isinstance(message, bytes)
            except TimeoutError:
                pass
    return frames


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audio", "missing.wav"], "missing.wav"),
        (["--audio", "x.wav", "--record", "out.txt"], "unsupported output type"),
        (["--audio", "x.wav", "--preset", "no-such-look"], "unknown preset 'no-such-look'"),
    ],
)
def test_live_cli_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "x.wav").write_bytes(b"")
    process = _cli(*args, "--port", "0", cwd=tmp_path)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--preset", "\x1b[2J\x1b]0;pwned\x07look.toml"],
        ["--host", "show\x1b[31m.invalid"],
        ["--midi-out", "--midi-map", "\x1b[2Jmap.toml"],
    ],
)
def test_escape_sequences_in_values_are_shown_not_obeyed(tmp_path, args):
    """A value holding terminal escape sequences is echoed as \\x1b..., never sent raw."""
    track, _ = write_track(tmp_path, seconds=1.0)
    if "--midi-map" in args:
        (tmp_path / args[-1]).write_text("[[note]]\nchannel = 99\n")
    process = _cli("--audio", str(track), "--port", "0", *args, cwd=tmp_path)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and "Traceback" not in err, err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b" in err, err


@pytest.mark.parametrize("where", ["busy port", "unresolvable host"])
def test_a_server_that_cannot_start_is_one_error_line(tmp_path, where):
    track, _ = write_track(tmp_path, seconds=1.0)
    weights = write_checkpoint(tmp_path / "ckpt", 128, 8)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        place = ["--port", str(port)] if where == "busy port" else ["--host", "no-such.invalid"]
        record = tmp_path / "show.mp4"
        process = _cli(
            "--audio", str(track), "--weights", str(weights), "--device", "cpu",
            "--record", str(record), *place,
        )  # fmt: skip
        _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: cannot serve on"), err
    assert "Event loop is closed" not in err and "Traceback" not in err
    assert not record.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("what", ["--port", "--osc-port", "--record", "--midi-map"])
def test_ports_and_outputs_are_checked_before_the_model_loads(tmp_path, what):
    """A busy port, an existing recording or a bad MIDI map fails before the model loads: the
    weights here are not a checkpoint, and that error never comes."""
    track, _ = write_track(tmp_path, seconds=1.0)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "show.mp4").write_bytes(b"an earlier show")
    (tmp_path / "map.toml").write_text("[[note]]\nchannel = 1\nnumber = 1\ntarget = 'x.y'\n")
    kind = socket.SOCK_DGRAM if what == "--osc-port" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as busy:
        busy.bind(("127.0.0.1", 0))
        port = str(busy.getsockname()[1])
        if kind == socket.SOCK_STREAM:
            busy.listen()
        extra = {
            "--port": ["--port", port],
            "--osc-port": ["--port", "0", "--osc-port", port],
            "--record": ["--port", "0", "--record", str(tmp_path / "show.mp4")],
            "--midi-map": ["--port", "0", "--midi-out", "--midi-map", str(tmp_path / "map.toml")],
        }[what]
        process = _cli("--audio", str(track), "--weights", str(tmp_path / "bad.pt"),
                       "--device", "cpu", *extra)  # fmt: skip
        _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and "Traceback" not in err, err
    assert "not a PyTorch checkpoint" not in err, err
    expected = {"--port": "cannot serve on 127.0.0.1:" + port,
                "--osc-port": "cannot listen for OSC on 127.0.0.1:" + port,
                "--record": "exists", "--midi-map": "a note triggers an action"}[what]  # fmt: skip
    assert expected in err, err


def test_two_shows_recording_to_one_file_the_second_fails_at_once(tmp_path):
    track, _ = write_track(tmp_path, seconds=2.0)
    weights = write_checkpoint(tmp_path / "ckpt", 128, 8)
    record = tmp_path / "show.mp4"
    args = ("--audio", str(track), "--weights", str(weights), "--device", "cpu",
            "--port", "0", "--record", str(record))  # fmt: skip
    first = _cli(*args)
    try:
        line = first.stdout.readline()
        assert line.startswith("live: open"), first.stderr.read()
        started = time.monotonic()
        second = _cli(*args)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 1 and time.monotonic() - started < 60
        assert f"is being written by pid {first.pid}" in err and "Traceback" not in err, err
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 0  # (no page played, so nothing was recorded)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the lock is gone


def test_live_cli_needs_a_source():
    process = _cli("--preset", "default")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "--audio" in err


def test_list_devices_works_or_explains_what_is_missing():
    process = _cli("--list-devices")
    out, err = process.communicate(timeout=60)
    try:
        import sounddevice  # noqa: F401

        available = True
    except (ImportError, OSError):
        available = False
    if available:
        assert process.returncode == 0 and out.strip()
    else:
        assert process.returncode == 1 and "PortAudio" in err and "Traceback" not in err


def test_a_host_other_than_localhost_is_warned_about(tmp_path):
    process = _cli("--audio", "missing.wav", "--host", "0.0.0.0", "--port", "0", cwd=tmp_path)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.startswith("warning: serving on 0.0.0.0") and "error: " in err


@pytest.mark.slow
def test_live_and_render_load_the_same_network_for_the_same_flags():
    """``--weights random`` is one fixed network whatever the seed (live used its seed)."""
    import torch

    from visualizer.live.session import LiveOptions
    from visualizer.model.inference import load_generator
    from visualizer.pipeline.options import RenderOptions

    flags = dict(model="biggan-deep-128", weights="random", device="cpu", precision="fp32")
    live = load_generator(LiveOptions(**flags, seed=7))
    render = load_generator(RenderOptions(**flags, seed=3))
    assert (live.device, live.dtype, live.resolution) == (render.device, render.dtype, 128)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(1, 128, generator=gen).clamp(-2, 2) * 0.5
    y = torch.zeros(1, 1000)
    y[0, 207] = 1.0
    t = torch.tensor([0.5])
    assert torch.equal(live.frames(z, y, t), render.frames(z, y, t))


def test_live_quality_is_jpeg_quality_and_the_old_flag_says_so():
    """--quality is render's CRF; live's JPEG quality has its own name, checked 1-100."""
    from visualizer.cli import get_parser
    from visualizer.commands.live import options_from_args

    args = get_parser().parse_args(["live", "--no-audio", "--jpeg-quality", "60"])
    assert options_from_args(args).jpeg_quality == 60
    for bad in (["--quality", "60"], ["--jpeg-quality", "101"], ["--jpeg-quality", "0"]):
        process = _cli("--no-audio", *bad)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 2 and "Traceback" not in err, err
        last = err.strip().splitlines()[-1]
        assert last.startswith("visualizer live: error: ") and "--jpeg-quality" in last, err
