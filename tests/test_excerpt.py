"""Excerpts are the same video as the same seconds of the full render, and the edges of a file or
a window are not onsets: real analysis of generated audio, real mapping, a tiny random BigGAN."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fixtures_audio import SR, chord_track, click_track, music_like, write_wav
from tests.fixtures_biggan import write_checkpoint
from visualizer.analysis.decode import Audio
from visualizer.analysis.track import analyze, analyze_file
from visualizer.cli import main
from visualizer.errors import AudioError
from visualizer.pipeline import RenderOptions, make_timeline

FPS = Fraction(30)
ROWS = ("onset_strength", "energy", "energy_rise")


def audio_of(samples: np.ndarray) -> Audio:
    return Audio(samples=np.asarray(samples, np.float32), sr=SR, path=None, start=0.0)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """40 s of music in sections of 16 s (quiet, loud, quiet): tempo, beats and sections."""
    folder = tmp_path_factory.mktemp("audio")
    return write_wav(folder / "song.wav", music_like(40.0, SR, seed=1))


@pytest.mark.parametrize("start,duration", [(13.1, 7.25), (20.0, None), (0.0, 5.0)])
def test_excerpt_features_are_the_tracks_rows(song, start, duration):
    full = analyze_file(song, fps=FPS)
    part = analyze_file(song, fps=FPS, start=start, duration=duration)
    first = round(start * FPS)
    stop = first + part.n_frames
    expected = full.n_frames - first if duration is None else round(duration * FPS)
    assert part.n_frames == expected
    for name in ROWS:
        np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[first:stop])
    np.testing.assert_array_equal(part.chroma, full.chroma[:, first:stop])
    np.testing.assert_array_equal(part.bands, full.bands[:, first:stop])
    assert part.tempo == full.tempo and part.tempo == pytest.approx(120.0, rel=0.02)
    for name in ("onsets", "beats", "downbeats", "phrases"):
        inside = getattr(full, name)
        inside = inside[(inside >= first) & (inside < stop)] - first
        assert getattr(part, name).tolist() == inside.tolist(), name
    for name in ("beat_phase", "bar_phase"):  # the track's phases, not the window's own
        np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[first:stop])
    assert part.meter == full.meter == 4 and part.downbeats.size >= 1
    assert part.sections[0] == 0
    assert set(part.sections[1:] + first) <= set(full.sections)


def test_a_window_cut_mid_music_has_the_tracks_events(song):
    # 13.1 s lies between two kicks: the window's own edges must not become onsets or beats
    full = analyze_file(song, fps=FPS)
    part = analyze_file(song, fps=FPS, start=13.1, duration=7.25)
    first = round(13.1 * FPS)
    assert first not in full.onsets and 0 not in part.onsets and 0 not in part.beats
    assert part.n_frames - 1 not in part.onsets
    assert part.onsets.size >= 10 and part.beats.size >= 12  # 14.5 beats at 120 BPM
    # with the window's own normalisation the real onsets were squashed; here they are the track's
    assert part.onset_strength.max() == full.onset_strength[first : first + part.n_frames].max()


def test_excerpt_timeline_equals_the_full_timeline(song):
    full = make_timeline(song, RenderOptions(fps=FPS, preset="pulse", seed=5))
    start, duration = 13.1, 7.25
    part = make_timeline(song, RenderOptions(fps=FPS, preset="pulse", seed=5, start=start,
                                             duration=duration))  # fmt: skip
    first = round(start * FPS)
    rows = slice(first, first + part.n_frames)
    assert part.n_frames == round(duration * FPS)
    np.testing.assert_array_equal(part.noise, full.noise[rows])
    np.testing.assert_array_equal(part.class_vectors, full.class_vectors[rows])
    np.testing.assert_array_equal(part.truncation, full.truncation[rows])


def test_excerpt_frames_equal_the_full_renders_frames(tmp_path, capsys):
    track = write_wav(tmp_path / "song.wav", music_like(3.0, SR, seed=2))
    weights = write_checkpoint(tmp_path / "weights", channel_width=8)
    frames = {}
    for name, window in (("full", ()), ("part", ("--start", "1.0", "--duration", "1.0"))):
        folder = tmp_path / name
        argv = ["render", track, "-o", tmp_path / f"{name}.mp4", "--weights", weights, "--fps",
                "10", "--quiet", "--frames-dir", folder, *window]  # fmt: skip
        assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
        frames[name] = np.stack([np.asarray(Image.open(p)) for p in sorted(folder.iterdir())])
    assert frames["part"].shape[0] == 10
    # the same rows rendered in other batches: equal up to float rounding
    diff = np.abs(frames["part"].astype(int) - frames["full"][10:20].astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.001


def test_start_beyond_the_end_names_the_file(song):
    with pytest.raises(AudioError, match=r"song\.wav: start 50 s is beyond the end"):
        analyze_file(song, fps=FPS, start=50.0)


# --- edges ------------------------------------------------------------------------------------


def test_a_file_cut_mid_note_at_both_ends_has_no_edge_onsets():
    held = 0.4 * chord_track([[0, 4, 7]], 6.0, SR)
    cut = held[int(0.77 * SR) : int(5.13 * SR)]  # starts and stops inside the chord
    features = analyze(audio_of(cut), fps=FPS)
    assert features.onsets.size == 0 and features.beats.size == 0 and features.tempo == 0.0
    assert features.onset_strength.max() < 0.1


def test_a_click_track_ending_mid_pad_has_no_onset_at_its_end():
    times = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    pad = 0.3 * chord_track([[0, 4, 7]], 6.0, SR)
    mix = (pad + click_track(times, SR, duration=6.0))[: int(4.3 * SR)]
    features = analyze(audio_of(mix), fps=FPS)
    last = features.n_frames - 1
    assert features.onsets[-1] == 120  # the click at 4.0 s; nothing at the cut (frame 128)
    assert last not in features.onsets and last not in features.beats
    assert features.onset_strength[-5:].max() < 0.05


def test_a_sound_at_t0_is_an_onset_at_frame_0():
    features = analyze(audio_of(click_track([0.0, 1.0, 2.0], SR, duration=3.0)), fps=FPS)
    assert features.onsets.tolist() == [0, 30, 60]
    music = analyze(audio_of(music_like(8.0, SR, seed=1)), fps=FPS)  # starts on a kick
    assert music.onsets[0] == 0 and music.beats[0] == 0


# --- visualizer timeline ------------------------------------------------------------------------


def test_timeline_command_writes_the_renders_timeline_without_a_generator(song, tmp_path):
    import subprocess
    import sys

    from visualizer.mapping import timeline as timeline_io

    out = tmp_path / "t.npz"
    code = (
        "import sys; from visualizer.cli import main; "
        f"code = main(['timeline', {str(song)!r}, '-o', {str(out)!r}, '--preset', 'pulse', "
        "'--seed', '5', '--start', '13.1', '--duration', '7.25', '-q']); "
        "print(code, 'torch' in sys.modules)"
    )
    env = {"VISUALIZER_CACHE": str(tmp_path / "cache"), "PATH": ""}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[1], timeout=300)  # fmt: skip
    assert run.stdout.split() == ["0", "False"], run.stderr  # written, and no torch imported
    saved = timeline_io.load(out)
    expected = make_timeline(song, RenderOptions(fps=FPS, preset="pulse", seed=5, start=13.1,
                                                 duration=7.25))  # fmt: skip
    np.testing.assert_array_equal(saved.noise, expected.noise)
    np.testing.assert_array_equal(saved.class_vectors, expected.class_vectors)
    assert saved.seed == 5 and saved.fps == FPS and saved.preset == expected.preset


def test_timeline_command_refuses_to_replace_files(song, tmp_path, capsys):
    out = tmp_path / "t.npz"
    out.write_bytes(b"precious")
    assert main(["timeline", str(song), "-o", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"precious"
    assert main(["timeline", str(song), "-o", str(song), "--overwrite"]) == 1
    assert "is one of the inputs" in capsys.readouterr().err
    assert main(["timeline", str(song), "-o", str(tmp_path / "x.npz"), "--start", "99"]) == 1
    assert "beyond the end" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


# --- --downbeat: excerpts have the anchored track's bars ----------------------------------------


def heard_one(song) -> float:
    """A time the test "hears" a bar begin: 30 ms after beat 3 of the analysis's 4th bar."""
    plain = analyze_file(song, fps=FPS)
    beat = np.searchsorted(plain.beats, plain.downbeats[3]) + 2
    return float(plain.beats[beat] / FPS) + 0.03


@pytest.mark.parametrize("start,duration", [(13.1, 7.25), (20.0, None)])
def test_an_anchored_excerpt_has_the_anchored_tracks_bars(song, start, duration):
    heard = heard_one(song)
    plain = analyze_file(song, fps=FPS)
    full = analyze_file(song, fps=FPS, downbeat=heard)
    assert round((heard - 0.03) * FPS) in full.downbeats and full.meter == plain.meter == 4
    assert not set(full.downbeats.tolist()) & set(plain.downbeats.tolist())  # two beats later
    part = analyze_file(song, fps=FPS, start=start, duration=duration, downbeat=heard)
    first = round(start * FPS)
    stop = first + part.n_frames
    for name in ("beats", "downbeats", "phrases"):
        inside = getattr(full, name)
        inside = inside[(inside >= first) & (inside < stop)] - first
        assert getattr(part, name).tolist() == inside.tolist(), name
    assert part.downbeats.size >= 3
    np.testing.assert_array_equal(part.bar_phase, full.bar_phase[first:stop])
    assert set(part.sections[1:] + first) <= set(full.sections)


def test_an_anchored_timeline_changes_on_the_new_bar_lines_and_its_excerpt_agrees(song):
    heard = heard_one(song)
    options = dict(fps=FPS, preset="minimal", seed=5)
    plain = make_timeline(song, RenderOptions(**options))
    full = make_timeline(song, RenderOptions(**options, downbeat=heard))
    part = make_timeline(song, RenderOptions(**options, downbeat=heard, start=13.1, duration=7.25))
    assert not np.array_equal(full.class_vectors, plain.class_vectors)  # keyframes every 4 bars
    rows = slice(round(13.1 * FPS), round(13.1 * FPS) + part.n_frames)
    np.testing.assert_array_equal(part.class_vectors, full.class_vectors[rows])
    np.testing.assert_array_equal(part.noise, full.noise[rows])


def test_downbeat_is_part_of_the_renders_identity(song, tmp_path):
    from visualizer.errors import FeaturesError, RenderError
    from visualizer.mapping import timeline as timeline_io
    from visualizer.pipeline.render import plan_render
    from visualizer.pipeline.workdir import ResumeMismatch, work_dir_for

    heard = heard_one(song)
    out = tmp_path / "song.mp4"
    options = dict(fps=FPS, preset="minimal", weights="random", device="cpu", duration=4.0)
    plan_render(song, out, RenderOptions(**options, downbeat=heard))  # an interrupted render
    with pytest.raises(ResumeMismatch, match=rf"downbeat was {heard!r}, now None"):
        plan_render(song, out, RenderOptions(**options, resume=True))
    with pytest.raises(ResumeMismatch, match=r"downbeat was .*, now 1\.5"):
        plan_render(song, out, RenderOptions(**options, downbeat=1.5, resume=True))
    plan = plan_render(song, out, RenderOptions(**options, downbeat=heard, resume=True))
    assert plan.pending() == list(range(len(plan.segments)))
    saved = tmp_path / "t.npz"
    timeline_io.save(make_timeline(song, RenderOptions(fps=FPS, duration=1.0)), saved)
    with pytest.raises(RenderError, match="--downbeat and --timeline: a saved Timeline"):
        plan_render(song, tmp_path / "o.mp4", RenderOptions(timeline=saved, downbeat=heard))
    with pytest.raises(FeaturesError, match="invalid --downbeat -2"):
        plan_render(song, tmp_path / "o.mp4", RenderOptions(**options, downbeat=-2))
    with pytest.raises(FeaturesError, match="invalid --downbeat 45: past the end"):
        plan_render(song, tmp_path / "o.mp4", RenderOptions(**options, downbeat=45))
    assert not (tmp_path / "o.mp4").exists() and not work_dir_for(tmp_path / "o.mp4").exists()
