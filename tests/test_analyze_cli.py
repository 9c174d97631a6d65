"""`visualizer analyze`: the real CLI on generated tracks, outputs and errors."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from tests.fixtures_audio import (
    bar_pattern,
    bar_pattern_times,
    music_like,
    write_wav,
    write_with_ffmpeg,
)
from visualizer.analysis.features import load_features
from visualizer.cli import main


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracks")
    return write_with_ffmpeg(folder / "song.ogg", music_like(5.0, seed=5), 22050)


def test_writes_features_and_plot(tmp_path, track, capsys):
    out, png = tmp_path / "f.npz", tmp_path / "plots" / "f.png"
    code = main(["analyze", str(track), "--fps", "30000/1001", "-o", str(out), "--plot", str(png)])
    assert code == 0
    features = load_features(out)
    assert features.fps == Fraction(30000, 1001)
    assert features.n_frames == 150  # 5 s * 29.97
    assert features.tempo == pytest.approx(120.0, rel=0.02)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    printed = capsys.readouterr().out
    assert "tempo:" in printed and "150 at 30000/1001 fps" in printed and str(out) in printed
    # 5 s at 120 BPM in 4/4: two or three bars, each on a downbeat the file holds
    bars = f"bars:     {features.downbeats.size} downbeats, 4 beats per bar"
    assert bars in printed and 2 <= features.downbeats.size <= 3


def test_quiet_window_and_no_output_without_o(tmp_path, track, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listing = sorted(tmp_path.iterdir())
    assert main(["analyze", str(track), "--start", "1", "--duration", "2", "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert sorted(tmp_path.iterdir()) == listing  # -o is the only way to write the arrays
    out = tmp_path / "w.npz"
    assert (
        main(["analyze", str(track), "--start", "1", "--duration", "2", "-q", "-o", str(out)]) == 0
    )
    features = load_features(out)
    assert features.n_frames == 60 and features.duration == pytest.approx(2.0, abs=1e-3)


def test_plot_after_a_plain_analyze_needs_no_overwrite(tmp_path, track, capsys, monkeypatch):
    """The same command with --plot added runs: the first wrote nothing it was not asked for."""
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(track)]) == 0
    assert "wrote:    nothing (-o FEATURES.npz saves the arrays)" in capsys.readouterr().out
    assert main(["analyze", str(track), "--plot", "song.png", "-q"]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.png"]


def test_refuses_to_overwrite(tmp_path, track, capsys):
    out = tmp_path / "f.npz"
    out.write_bytes(b"keep me")
    assert main(["analyze", str(track), "-o", str(out), "-q"]) == 1
    assert "f.npz (use --overwrite to replace it)" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(["analyze", str(track), "-o", str(out), "-q", "--overwrite", "--no-cache"]) == 0
    assert load_features(out).n_frames == 150


def test_bad_inputs(tmp_path, track, capsys):
    assert main(["analyze", str(tmp_path / "missing.mp3"), "-q"]) == 1
    assert "error: " in capsys.readouterr().err
    text = tmp_path / "lyrics.mp3"
    text.write_text("la la la\n" * 50)
    assert main(["analyze", str(text), "-q", "-o", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "lyrics.mp3" in err and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()
    assert (
        main(["analyze", str(track), "--duration", "0", "-q", "-o", str(tmp_path / "y.npz")]) == 1
    )
    assert "invalid duration 0.0: expected seconds > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", str(text), "--fps", "0"])
    assert exit_info.value.code == 2


def test_console_entry_point(tmp_path, track):
    """The installed command, in a fresh process, from the analysis cache of the tests above."""
    out = tmp_path / "f.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "visualizer", "analyze", str(track), "-o", str(out), "--fps", "25"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sections:" in proc.stdout
    features = load_features(out)
    assert features.n_frames == 125
    assert np.isfinite(features.energy).all()


# --- --downbeat: the user's "one" -------------------------------------------------------------


@pytest.fixture(scope="module")
def bars_track(tmp_path_factory):
    """16 s of 4/4 at 120 BPM: a kick, a bass note and a new chord on every bar line."""
    folder = tmp_path_factory.mktemp("bars")
    return write_wav(folder / "bars.wav", bar_pattern(4, 120.0, 16.0))


def test_downbeat_moves_the_bar_lines_to_the_beat_heard(tmp_path, bars_track, capsys):
    plain, anchored = tmp_path / "plain.npz", tmp_path / "anchored.npz"
    assert main(["analyze", str(bars_track), "-q", "-o", str(plain)]) == 0
    found = load_features(plain)
    beat_times, downbeat_times = bar_pattern_times(4, 120.0, 16.0)
    assert found.meter == 4 and np.isin(np.round(downbeat_times[1:-1] * 30), found.downbeats).all()
    # the listener hears the bar begin on the track's beat 2 (7.5 s), taps it 40 ms late
    heard = beat_times[13] + 0.04
    code = main(["analyze", str(bars_track), "--downbeat", f"{heard}", "-o", str(anchored)])
    assert code == 0, capsys.readouterr().err
    moved = load_features(anchored)
    assert round(beat_times[13] * 30) in moved.downbeats
    index = np.searchsorted(moved.beats, moved.downbeats)
    assert np.diff(index).tolist() == [4] * (index.size - 1)  # the meter's spacing, kept
    # every bar line one beat after the analysis's: on each bar's second beat
    later = np.searchsorted(found.beats, found.downbeats) + 1
    assert moved.downbeats.tolist() == found.beats[later[later < found.beats.size]].tolist()
    assert set(moved.phrases.tolist()) <= set(moved.downbeats.tolist())
    assert not moved.bar_phase[moved.downbeats].any() and moved.meter == 4
    np.testing.assert_array_equal(moved.beats, found.beats)
    assert f"bars:     {moved.downbeats.size} downbeats, 4 beats per bar" in capsys.readouterr().out


def test_downbeat_refuses_bad_times_in_one_line(tmp_path, bars_track, capsys):
    out = tmp_path / "f.npz"
    for value, words in (
        ("-1", "invalid --downbeat -1.0: expected the seconds into the track"),
        ("nan", "invalid --downbeat nan"),
        ("16.5", "invalid --downbeat 16.5: past the end of the track; expected seconds from 0 "
         "to 16.00"),
    ):  # fmt: skip
        assert main(["analyze", str(bars_track), "--downbeat", value, "-q", "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {words}") and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as exit_info:  # not a number: argparse's usage error
        main(["analyze", str(bars_track), "--downbeat", "12s"])
    assert exit_info.value.code == 2 and "invalid number '12s'" in capsys.readouterr().err
    silence = write_wav(tmp_path / "silence.wav", np.zeros(4 * 22050, np.float32))
    assert main(["analyze", str(silence), "--downbeat", "1", "-q", "-o", str(out)]) == 1
    assert "--downbeat 1: the analysis found no beats" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("value", ["dsp:300", "dsp:fast", "madmom"])
def test_a_bad_tracker_is_one_line_and_writes_nothing(tmp_path, track, capsys, value):
    out = tmp_path / "f.npz"
    with pytest.raises(SystemExit) as stop:
        main(["analyze", str(track), "--beats", value, "-o", str(out)])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"unknown beat tracker '{value}'" in error
    assert (
        "expected dsp, dsp:BPM (BPM from 55 to 215, the tempo you hear), beat-this or file:PATH "
        "(a beats file)" in error
    )
    assert not out.exists()


def test_the_tempo_you_hear_reaches_the_analysis(tmp_path, track, capsys):
    out = tmp_path / "f.npz"
    assert main(["analyze", str(track), "--beats", "dsp:60", "-o", str(out), "-q"]) == 0
    assert load_features(out).tempo == pytest.approx(60.0, rel=0.03)  # the track plays at 120


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path, track):
    """`visualizer analyze song | head -1`: once the reader has gone the summary cannot be
    printed; the command ends with status 1 and no traceback, its -o file written."""
    out = tmp_path / "f.npz"
    command = [sys.executable, "-m", "visualizer", "analyze", str(track), "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert load_features(out).n_frames > 0
