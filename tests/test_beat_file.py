"""Beats from a file (`--beats file:PATH`): the reader, the analysis that uses the grid as given,
its cache entry and identity by the file's content, and the one-line errors."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.fixtures_audio import bar_pattern, bar_pattern_times, music_like, write_wav
from visualizer import options
from visualizer.analysis.beat_file import read_beat_file
from visualizer.analysis.features import load_features
from visualizer.analysis.track import analyze_file
from visualizer.cli import main
from visualizer.content import beats_identity
from visualizer.errors import FeaturesError

FPS = 30


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """8 s of generated music at 120 BPM (its own tracker finds 4/4 bars)."""
    return write_wav(tmp_path_factory.mktemp("grid") / "song.wav", music_like(8.0, seed=3))


def write(path, text: str):
    path.write_text(text, "utf-8")
    return path


def waltz_grid(path, *, numbered: bool = True):
    """A 3/4 grid at 90 BPM over 8 s, starting 0.25 s in: (path, beat times, downbeat times)."""
    beats = 0.25 + np.arange(12) * (60.0 / 90.0)
    lines = [f"{t:.3f}\t{i % 3 + 1}" if numbered else f"{t:.3f}" for i, t in enumerate(beats)]
    return write(path, "# a waltz\n" + "\n".join(lines) + "\n"), beats, beats[::3]


def assert_on_frames(frames: np.ndarray, times: np.ndarray) -> None:
    """``frames`` are ``times`` on the frame clock: one each, within a frame (the analysis holds
    times on its 11.6 ms hops before it rounds them to frames)."""
    assert frames.size == times.size, (frames, times)
    assert np.max(np.abs(frames - times * FPS)) <= 1.0, (frames, times * FPS)


# ------------------------------------------------------------------------------ the reader


def test_reads_times_and_beat_numbers_in_the_formats_trackers_write(tmp_path):
    numbered = write(tmp_path / "a.beats", "0.5\t1\n1.0\t2\n\n# a comment\n1.5\t3\n2.0 1\n")
    beats, downbeats = read_beat_file(numbered)
    np.testing.assert_allclose(beats, [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(downbeats, [0.5, 2.0])
    commas = write(tmp_path / "b.csv", "\ufeff0.25,1\n0.75 , 2\n1.25;1\n")  # a BOM, spaces
    np.testing.assert_allclose(read_beat_file(commas)[1], [0.25, 1.25])
    plain = write(tmp_path / "c.txt", "0\n0.5\n1e0\n")
    beats, downbeats = read_beat_file(plain)
    assert downbeats is None
    np.testing.assert_allclose(beats, [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "0 beat(s) found, need at least 2"),
        ("# only a comment\n1.0\n", "1 beat(s) found, need at least 2"),
        ("0.5\nhalf past\n", "line 2: 'half' is not a time"),
        ("0.5\n-1\n", "line 2: a beat at -1 s: times are finite, 0 or more"),
        ("0.5\nnan\n", "line 2: a beat at nan s"),
        ("0.5\ninf\n", "line 2: a beat at inf s"),
        ("1.0\n0.5\n", "line 2: beat at 0.5 s is not after the one before it (1 s)"),
        ("1.0\n1.0\n", "line 2: beat at 1 s is not after the one before it"),
        ("0.5 1\n1.0 0\n", "line 2: '0' is not a beat number in the bar"),
        ("0.5 1\n1.0 2.5\n", "line 2: '2.5' is not a beat number in the bar"),
        ("0.5 1\n1.0 33\n", "'33' is not a beat number in the bar (a whole number from 1 to 32"),
        ("0.5 1 x\n1.0 2\n", "line 1: 3 fields in '0.5 1 x'"),
        ("0.5 1\n1.0\n", "beat 1 has a number in the bar and beat 2 has none"),
        ("0.5\n1.0 1\n", "beat 1 has none a number"),
        ("0.5 2\n1.0 3\n", "no beat is numbered 1 (a downbeat)"),
    ],
)
def test_a_malformed_file_names_its_line_and_what_is_valid(tmp_path, text, words):
    path = write(tmp_path / "bad.beats", text)
    with pytest.raises(FeaturesError) as raised:
        read_beat_file(path)
    assert str(raised.value).startswith(str(path)) and words in str(raised.value)


def test_a_missing_binary_or_huge_file_is_refused(tmp_path, monkeypatch):
    with pytest.raises(FeaturesError, match="no such file"):
        read_beat_file(tmp_path / "missing.beats")
    with pytest.raises(FeaturesError, match="no such file"):
        read_beat_file(tmp_path)  # a folder
    binary = tmp_path / "song.wav"
    binary.write_bytes(b"RIFF\xff\xfe\x00\x00WAVE")
    with pytest.raises(FeaturesError, match=r"not text \(UTF-8\)"):
        read_beat_file(binary)
    from visualizer.analysis import beat_file

    monkeypatch.setattr(beat_file, "MAX_BYTES", 8)
    with pytest.raises(FeaturesError, match="more than a beat grid"):
        read_beat_file(write(tmp_path / "long.beats", "0.5\n1.0\n1.5\n"))


def test_the_spelling_and_identity_of_a_beats_file(tmp_path):
    assert options.split_tracker("file:grid.txt") == ("file", None)
    assert options.tracker_spec("file:my grid.txt") == "file:my grid.txt"
    assert options.beat_file_of("file:a/b.beats") == "a/b.beats"
    assert options.beat_file_of("dsp:120") is None
    with pytest.raises(ValueError, match=r"beat-this or file:PATH \(a beats file\)"):
        options.split_tracker("file:")
    one = write(tmp_path / "one.beats", "0.5\n1.0\n")
    same = write(tmp_path / "same content.beats", "0.5\n1.0\n")
    assert beats_identity(f"file:{one}") == beats_identity(f"file:{same}")
    assert beats_identity(f"file:{one}").startswith("file:")
    write(same, "0.5\n1.1\n")  # edited: another grid
    assert beats_identity(f"file:{one}") != beats_identity(f"file:{same}")
    assert beats_identity("dsp:128.0") == "dsp:128"  # the trackers keep their spelling
    with pytest.raises(FeaturesError, match="no such file"):
        beats_identity(f"file:{tmp_path / 'gone.beats'}")


# ------------------------------------------------------------------------------ the analysis


def test_the_analysis_takes_the_grid_and_its_bars_as_given(tmp_path, track):
    """Beats and bars land on the file's times (to the frame), though the music plays at another
    tempo in 4/4: the user's grid decides, as the tracker's would."""
    grid, beats, downbeats = waltz_grid(tmp_path / "waltz.beats")
    features = analyze_file(track, fps=FPS, tracker=f"file:{grid}")
    assert_on_frames(features.beats, beats)
    assert_on_frames(features.downbeats, downbeats)
    assert features.meter == 3
    assert features.tempo == pytest.approx(90.0, rel=0.02)
    own = analyze_file(track, fps=FPS)
    assert own.meter == 4 and own.tempo == pytest.approx(120.0, rel=0.05)
    # an excerpt keeps the whole grid's beats in its window, as it does the tracker's
    part = analyze_file(track, fps=FPS, tracker=f"file:{grid}", start=2.0, duration=4.0)
    inside = features.beats[(features.beats >= 2 * FPS) & (features.beats < 6 * FPS)]
    np.testing.assert_array_equal(part.beats, inside - 2 * FPS)


def test_beats_without_numbers_get_bars_found_among_them(tmp_path):
    """A grid of beats only: the bar lines are found among them, from the music's own cues (a
    kick, a bass note and a new chord on each downbeat of generated 3/4 bars)."""
    song = write_wav(tmp_path / "waltz.wav", bar_pattern(3, 100.0, 14.4))
    beats, downbeats = bar_pattern_times(3, 100.0, 14.4)
    grid = write(tmp_path / "beats.txt", "\n".join(f"{t:.4f}" for t in beats) + "\n")
    features = analyze_file(song, fps=FPS, tracker=f"file:{grid}")
    assert_on_frames(features.beats, beats)
    assert features.meter == 3
    found = features.downbeats / FPS
    hits = np.min(np.abs(found[:, None] - downbeats[None, :]), axis=1) < 1.5 / FPS
    assert hits.mean() >= 0.9, (found, downbeats)


def test_the_cache_keys_on_the_grid_content_not_its_name(tmp_path, track):
    grid, _, _ = waltz_grid(tmp_path / "waltz.beats")
    first = analyze_file(track, fps=FPS, tracker=f"file:{grid}")
    copy = write(tmp_path / "renamed.txt", grid.read_text("utf-8"))
    events = []
    again = analyze_file(track, fps=FPS, tracker=f"file:{copy}", progress=events.append)
    assert [e.label for e in events] == ["analyze (cached)"]
    np.testing.assert_array_equal(again.beats, first.beats)
    write(copy, "0.5\n1.5\n2.5\n3.5\n")  # edited: analysed again, with the new grid
    edited = analyze_file(track, fps=FPS, tracker=f"file:{copy}")
    np.testing.assert_array_equal(edited.beats, [15, 45, 75, 105])


def test_a_grid_that_misses_the_track_is_refused(tmp_path, track):
    late = write(tmp_path / "late.beats", "30.0\n30.5\n31.0\n")  # an 8 s track
    with pytest.raises(FeaturesError, match=r"fewer than 2 of its beats lie within song.wav"):
        analyze_file(track, fps=FPS, tracker=f"file:{late}")


# ------------------------------------------------------------------------------ the commands


def test_analyze_with_a_beats_file_and_its_one_line_errors(tmp_path, track, capsys):
    grid, beats, _ = waltz_grid(tmp_path / "waltz.beats")
    out = tmp_path / "f.npz"
    assert main(["analyze", str(track), "--beats", f"file:{grid}", "-o", str(out), "-q"]) == 0
    saved = load_features(out)
    assert (saved.meter, saved.beats.size) == (3, beats.size)
    for text, words in (
        (None, "no such file"),
        ("0.5\nsoon\n", "line 2: 'soon' is not a time"),
    ):
        bad = tmp_path / "bad.beats"
        if text is not None:
            write(bad, text)
        target = tmp_path / "g.npz"
        assert main(["analyze", str(track), "--beats", f"file:{bad}", "-o", str(target)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and err.count("\n") == 1, err
        assert not target.exists()


def test_a_render_checks_the_grid_before_any_frame(tmp_path, track):
    from visualizer.pipeline.checks import check_values
    from visualizer.pipeline.options import RenderOptions

    bad = write(tmp_path / "bad.beats", "1.0\n0.5\n")
    with pytest.raises(FeaturesError, match="line 2: beat at 0.5 s is not after"):
        check_values(RenderOptions(beats=f"file:{bad}", fps=Fraction(FPS)))


def test_a_batch_takes_grids_per_track_only(tmp_path, capsys):
    from visualizer.batch.album import load_album

    grid = write(tmp_path / "one.beats", "0\n1\n")
    assert main(["batch", str(tmp_path), "-o", str(tmp_path / "out"), "--beats", f"file:{grid}"])
    err = capsys.readouterr().err
    assert "--beats file:PATH is one track's beat grid: give it per track in the --album" in err
    assert not (tmp_path / "out").exists()
    (tmp_path / "albums").mkdir()
    album = write(
        tmp_path / "albums" / "album.toml",
        f"[tracks.one]\nbeats = 'file:../one.beats'\n[tracks.two]\nbeats = 'file:{grid}'\n",
    )
    one, two = load_album(album).overrides_for([tmp_path / "one.wav", tmp_path / "two.wav"])
    assert one.beats == f"file:{tmp_path / 'albums' / '..' / 'one.beats'}"  # beside the album
    assert two.beats == f"file:{grid}"  # absolute: as written
    assert read_beat_file(options.beat_file_of(one.beats))[0].size == 2


def test_a_grid_written_by_analyze_reads_back_as_the_same_bars(tmp_path, track, capsys):
    """analyze --beats-out writes the whole track's grid (its bars moved by --downbeat), which
    --beats file: gives back unchanged: the loop a user corrects a grid in."""
    grid = tmp_path / "song.beats"
    args = ["analyze", str(track), "--downbeat", "1.0", "--start", "2", "--duration", "3"]
    assert main([*args, "--beats-out", str(grid), "-q"]) == 0
    text = grid.read_text("utf-8")
    assert text.startswith("# beats of song.wav (visualizer analyze --beats dsp), on the 30 fps")
    own = analyze_file(track, fps=FPS, downbeat=1.0)
    again = analyze_file(track, fps=FPS, tracker=f"file:{grid}")
    np.testing.assert_array_equal(again.beats, own.beats)  # the whole track, not the window
    np.testing.assert_array_equal(again.downbeats, own.downbeats)
    assert again.meter == own.meter == 4
    numbers = [int(line.split("\t")[1]) for line in text.splitlines() if not line.startswith("#")]
    assert set(numbers) == {1, 2, 3, 4}
    # the output rules: not over an existing file, never over the grid it reads
    assert main([*args, "--beats-out", str(grid)]) == 1
    assert "exists" in capsys.readouterr().err
    read = ["analyze", str(track), "--beats", f"file:{grid}", "--beats-out", str(grid)]
    assert main([*read, "--overwrite"]) == 1
    assert "--beats-out" in capsys.readouterr().err
    assert grid.read_text("utf-8") == text


def test_a_grid_without_bars_is_written_as_times():
    from visualizer.analysis.beat_file import grid_text

    text = grid_text(np.array([0.5, 1.0]), np.zeros(0), 0, header="a\nb")
    assert text == "# a\n# b\n0.5000\n1.0000\n"
    pickup = grid_text(np.array([0.5, 1.0, 1.5, 2.0]), np.array([1.5]), 3, header="x")
    assert pickup.splitlines()[1:] == ["0.5000\t2", "1.0000\t3", "1.5000\t1", "2.0000\t2"]
