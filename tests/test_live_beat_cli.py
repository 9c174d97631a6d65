"""The beat options of `visualizer live` on the real command line: each bad value is one line
naming it and what is valid; the options reach `LiveOptions`; a show started with --no-audio,
--tempo tap, --osc-out and --allow-host runs: a LAN name is answered, OSC out arrives."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request

import pytest

from tests.fixtures_biggan import write_checkpoint
from tests.live_fixtures import write_preset
from tests.test_live_cli import _cli
from visualizer.cli import get_parser
from visualizer.commands.live import options_from_args


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--tempo", "vinyl"], "unknown tempo source 'vinyl' (valid: audio, tap, midi, link)"),
        (["--beats-per-bar", "0"], "invalid beats per bar '0': expected 1-16"),
        (["--latency", "-5"], "invalid latency '-5': expected 0-1000"),
        (["--latency", "soon"], "invalid latency 'soon'"),
        (["--quantize", "soon"], "invalid choice: 'soon'"),
        (["--cycle", "99"], "invalid auto-cycle '99': expected 0-64"),
        (["--osc-out", "localhost"], "invalid address 'localhost': expected HOST:PORT"),
        (["--osc-out", "localhost:99999"], "invalid address 'localhost:99999'"),
        (["--cycle-mode", "shuffle"], "invalid choice: 'shuffle'"),
    ],
)
def test_bad_beat_options_are_one_line(capsys, option, words):
    with pytest.raises(SystemExit) as exit_:
        get_parser().parse_args(["live", "--audio", "x.wav", *option])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert words in error and error.startswith("visualizer live: error: argument")


def test_live_takes_no_tracker_and_no_abbreviation_of_its_beat_options(capsys):
    """Live's beats come from its --tempo source; --beats (the other commands' tracker) is
    refused rather than ignored, and not read as short for --beats-per-bar."""
    for option in (["--beats", "dsp:92"], ["--beats", "3"], ["--beats-per", "3"]):
        with pytest.raises(SystemExit) as exit_:
            get_parser().parse_args(["live", "--no-audio", *option])
        assert exit_.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"unrecognized arguments: {' '.join(option)}" in error, error


def test_beat_options_reach_the_session_options():
    args = get_parser().parse_args([
        "live", "--no-audio", "--tempo", "midi:XDJ", "--beats-per-bar", "3", "--quantize", "bar",
        "--latency", "80", "--cycle", "8", "--cycle-mode", "random", "--osc-out", "[::1]:7000",
        "--midi-out", "--midi-clock-out", "--allow-host", "studio.lan", "--allow-host", "10.0.0.2",
    ])  # fmt: skip
    options = options_from_args(args)
    assert (options.no_audio, options.tempo, options.beats_per_bar) == (True, "midi:XDJ", 3)
    assert (options.quantize, options.latency_ms, options.cycle_bars) == ("bar", 80.0, 8)
    assert options.cycle_mode == "random" and options.osc_out == ("::1", 7000)
    assert (options.midi_out, options.midi_clock_out) == ("", True)
    assert options.allowed_hosts == ("studio.lan", "10.0.0.2")
    silent = options_from_args(get_parser().parse_args(["live", "--no-audio"]))
    assert silent.tempo == "tap"  # silence has no beats to follow
    no_snap = options_from_args(get_parser().parse_args(["live", "--audio", "x", "--no-snap"]))
    assert no_snap.quantize == "now" and not no_snap.snap_classes


def test_midi_clock_out_needs_midi_out(tmp_path):
    process = _cli("--no-audio", "--midi-clock-out", "--port", "0", cwd=tmp_path)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip() == "error: --midi-clock-out sends on the --midi-out port: give --midi-out"


def test_a_clock_only_show_with_tap_osc_out_and_an_allowed_host(tmp_path):
    weights = write_checkpoint(tmp_path / "ckpt", 128, 8)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.2)
    process = _cli(
        "--no-audio", "--tempo", "tap", "--weights", str(weights), "--preset",
        str(write_preset(tmp_path)), "--fps", "24", "--port", "0", "--device", "cpu",
        "--osc-out", f"127.0.0.1:{receiver.getsockname()[1]}", "--allow-host", "studio.lan",
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("live: open http://127.0.0.1:"), process.stderr.read()
        port = int(line.split()[2].rstrip("/").rsplit(":", 1)[1])
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/state", headers={"Host": f"studio.lan:{port}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            state = json.loads(response.read())
        assert state["beat"]["source"] == "tap" and state["track"] is False
        scenes = []
        deadline = time.monotonic() + 30
        while not scenes and time.monotonic() < deadline:  # frames run on the clock alone
            try:
                data = receiver.recv(65536)
            except TimeoutError:
                continue
            if data.startswith(b"/visualizer/scene"):
                scenes.append(data)
        assert scenes, "no OSC out from the running show"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        receiver.close()
    assert process.returncode == 0, err


def test_the_readme_live_section_names_every_live_option():
    from pathlib import Path

    parser = get_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001 (argparse)
    options = [a.option_strings[-1] for a in sub.choices["live"]._actions if a.option_strings]  # noqa: SLF001
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[
        readme.index("## Live mode") : readme.index("\n## ", readme.index("## Live mode") + 5)
    ]
    missing = [o for o in options if o not in section and o != "--help"]
    assert not missing, f"live options the README's live section does not describe: {missing}"
