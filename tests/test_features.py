"""Features on the frame clock: sync of onsets, frame counts, chroma, bands, tempo, sections,
degenerate input, .npz files and the analysis cache. All audio is generated (seconds long)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.fixtures_audio import (
    chord_track,
    click_track,
    drum_loop,
    music_like,
    write_wav,
)
from visualizer.analysis.decode import Audio, load_audio
from visualizer.analysis.features import (
    Features,
    frame_features,
    frame_times,
    load_features,
    n_frames_for,
    save_features,
    validate_features,
)
from visualizer.analysis.track import analyze, analyze_file
from visualizer.errors import FeaturesError

SR = 22050
FPS_VALUES = [Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(60)]
# irregular spacing: no constant period the frame grid could lock onto
CLICKS = np.round(np.cumsum(np.random.default_rng(7).uniform(0.11, 0.7, 16)) + 0.3, 4)


def audio_of(samples: np.ndarray) -> Audio:
    return Audio(samples=np.asarray(samples, np.float32), sr=SR, path=None, start=0.0)


@pytest.fixture(scope="module")
def clicks() -> Audio:
    return audio_of(click_track(CLICKS, SR, duration=float(CLICKS[-1]) + 0.6))


@pytest.mark.parametrize("fps", FPS_VALUES, ids=str)
def test_onsets_land_within_one_frame_of_clicks(clicks, fps):
    features = analyze(clicks, fps=fps)
    expected = np.floor(CLICKS * float(fps) + 0.5).astype(int)
    nearest = np.array([features.onsets[np.argmin(np.abs(features.onsets - e))] for e in expected])
    assert np.abs(nearest - expected).max() <= 1, (nearest - expected).tolist()
    assert features.onsets.size == CLICKS.size  # one onset per click, none spurious
    # the max-pooled envelope peaks on (or next to) every click's frame
    for e in expected:
        assert features.onset_strength[max(0, e - 1) : e + 2].max() > 0.3


@pytest.mark.parametrize("fps", FPS_VALUES, ids=str)
def test_n_frames_matches_duration(clicks, fps):
    features = analyze(clicks, fps=fps)
    assert features.n_frames == n_frames_for(clicks.duration, fps)
    assert abs(features.n_frames / float(fps) - clicks.duration) <= 0.5 / float(fps) + 1e-9
    for name in ("onset_strength", "energy", "energy_rise"):
        assert getattr(features, name).shape == (features.n_frames,)
    assert features.chroma.shape == (12, features.n_frames)
    assert features.bands.shape == (3, features.n_frames)
    assert validate_features(features) is None


@pytest.mark.parametrize(
    "duration, fps, expected",
    [
        (10.0, Fraction(30), 300),
        (10.0, Fraction(30000, 1001), 300),  # 299.7 -> 300
        (1.0, Fraction(24), 24),
        (0.51 / 30, Fraction(30), 1),  # half a frame and a bit rounds up
        (0.0, Fraction(30), 1),  # never zero frames
        (Fraction(1001, 60000), Fraction(60), 1),
    ],
)
def test_n_frames_for(duration, fps, expected):
    assert n_frames_for(duration, fps) == expected


def test_frame_times_are_exact_multiples():
    t = frame_times(4, Fraction(30000, 1001))
    assert t.tolist() == pytest.approx([0.0, 1001 / 30000, 2002 / 30000, 3003 / 30000], abs=1e-12)


def test_chroma_finds_the_chord_pitch_classes():
    chords = [[0, 4, 7], [9, 0, 4], [2, 6, 9], [7, 11, 2]]  # C, Am, D, G
    features = analyze(audio_of(chord_track(chords, 1.0, SR)), fps=Fraction(25))
    for segment, pitch_classes in enumerate(chords):
        middle = features.chroma[:, segment * 25 + 8 : segment * 25 + 17].mean(axis=1)
        top = set(np.argsort(middle)[-3:].tolist())
        assert top == set(pitch_classes), (segment, middle.round(2).tolist())
    assert features.chroma.min() >= 0 and features.chroma.max() <= 1


def test_bands_separate_low_and_high_tones():
    t = np.arange(SR) / SR
    y = np.concatenate([0.5 * np.sin(2 * np.pi * 80 * t), 0.5 * np.sin(2 * np.pi * 5000 * t)])
    features = analyze(audio_of(y), fps=Fraction(30))
    low, mid, high = features.bands
    first, second = slice(5, 25), slice(35, 55)
    assert low[first].mean() > 0.8 and high[first].mean() < 0.05
    assert high[second].mean() > 0.8 and low[second].mean() < 0.05
    # each band is normalised on its own: the mid band only carries the switching transients
    assert mid[first].mean() < 0.1 and mid[second].mean() < 0.1


@pytest.mark.parametrize("bpm", [85.0, 96.0, 120.0, 140.0])
def test_tempo_and_beats_of_a_drum_loop(bpm):
    fps = Fraction(30)
    features = analyze(audio_of(drum_loop(bpm, 12.0, SR)), fps=fps)
    assert features.tempo == pytest.approx(bpm, rel=0.02)
    period = 60.0 / bpm * float(fps)  # frames per beat
    intervals = np.diff(features.beats)
    assert np.abs(intervals - period).max() <= 1.5
    assert features.beats.size >= int(12.0 * bpm / 60) - 3
    # beats fall on the kicks (every beat from t = 0)
    phase = (features.beats / period) % 1.0
    assert np.minimum(phase, 1 - phase).max() < 0.1


def test_sections_change_where_the_material_changes():
    # music_like changes key, texture and loudness every 8 bars = 16 s at 120 BPM
    features = analyze(audio_of(music_like(40.0, SR, seed=1)), fps=Fraction(30))
    starts = features.sections / 30.0
    assert starts[0] == 0.0
    for boundary in (16.0, 32.0):
        assert np.abs(starts - boundary).min() <= 1.0, starts.tolist()
    assert starts.size <= 4


def test_soft_section_changes_are_found_relative_to_the_track():
    """Produced music changes sections softly (novelty ~0.3, under the 0.4 bar of hard cuts):
    boundaries are then judged against the track's own strongest change."""
    from visualizer.analysis import rhythm

    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 26))
    blocks = np.concatenate([m[:, None] * 0.7 + rng.normal(size=(26, 48)) for m in means], axis=1)
    fixed_bar = rhythm.novelty_boundaries(blocks, kernel=16, threshold=0.4, relative=10, floor=0.4)
    assert fixed_bar.tolist() == [0]  # what a fixed threshold finds
    assert rhythm.novelty_boundaries(blocks, kernel=16, threshold=0.4).tolist() == [0, 48, 96]
    noise = rng.normal(size=(26, 144))  # no change at all: still one section
    assert rhythm.novelty_boundaries(noise, kernel=16, threshold=0.4).tolist() == [0]


def test_short_steady_track_has_one_section():
    features = analyze(audio_of(chord_track([[0, 4, 7]], 3.0, SR)), fps=Fraction(30))
    assert features.sections.tolist() == [0]


@pytest.mark.parametrize("n_samples", [0, 100, SR * 3])
def test_silence_gives_zeros_and_no_events(n_samples):
    features = analyze(audio_of(np.zeros(n_samples, np.float32)), fps=Fraction(30))
    assert features.n_frames >= 1
    for name in ("chroma", "onset_strength", "energy", "energy_rise", "bands"):
        array = getattr(features, name)
        assert np.isfinite(array).all() and not array.any(), name
    assert features.onsets.size == 0 and features.beats.size == 0
    assert features.tempo == 0.0
    assert features.sections.tolist() == [0]
    assert validate_features(features) is None


def test_track_shorter_than_a_frame_gives_one_frame():
    features = analyze(audio_of(click_track([0.0], SR, duration=0.01)), fps=Fraction(24))
    assert features.n_frames == 1
    assert validate_features(features) is None


@pytest.mark.parametrize("fps", [Fraction(120), Fraction(12)], ids=str)
def test_fps_above_and_below_the_analysis_rate(clicks, fps):
    features = analyze(clicks, fps=fps)
    expected = np.floor(CLICKS * float(fps) + 0.5).astype(int)
    assert validate_features(features) is None
    for e in expected:
        assert np.abs(features.onsets - e).min() <= 1


def test_frame_features_row(clicks):
    features = analyze(clicks, fps=Fraction(25))
    index = int(features.onsets[0])
    row = frame_features(features, index)
    assert row.is_onset and row.index == index
    assert row.onset_strength == features.onset_strength[index]
    assert row.chroma.shape == (12,) and row.bands.shape == (3,)


@pytest.mark.parametrize("fps", ["0", "-3", "abc", 0])
def test_bad_fps(clicks, fps):
    with pytest.raises(FeaturesError, match="invalid fps"):
        analyze(clicks, fps=fps)


# --- files ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_features() -> Features:
    return analyze(audio_of(music_like(6.0, SR, seed=2)), fps=Fraction(30000, 1001))


def test_save_load_roundtrip(tmp_path, small_features):
    path = save_features(small_features, tmp_path / "sub" / "song.npz")
    loaded = load_features(path)
    assert loaded.fps == Fraction(30000, 1001) and isinstance(loaded.fps, Fraction)
    assert loaded.n_frames == small_features.n_frames
    assert loaded.tempo == small_features.tempo
    assert loaded.duration == small_features.duration
    assert loaded.meter == small_features.meter and loaded.meter in (3, 4)
    names = ("chroma", "onset_strength", "onsets", "energy", "bands", "beats", "sections")
    names += ("downbeats", "beat_phase", "bar_phase", "phrases")
    for name in names:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(small_features, name))
        assert getattr(loaded, name).dtype == getattr(small_features, name).dtype, name
    assert sorted(p.name for p in path.parent.iterdir()) == ["song.npz"]  # no temporary left


def test_load_errors_name_the_file(tmp_path, small_features):
    with pytest.raises(FeaturesError, match=r"not found: .*absent\.npz"):
        load_features(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not numpy")
    with pytest.raises(FeaturesError, match=r"junk\.npz: not a readable features"):
        load_features(junk)
    partial = tmp_path / "partial.npz"
    np.savez(partial, chroma=small_features.chroma)
    with pytest.raises(FeaturesError, match=r"partial\.npz: not a features file .*onsets"):
        load_features(partial)
    wrong = tmp_path / "wrong.npz"
    save_features(small_features, wrong)
    with np.load(wrong) as data:
        arrays = dict(data)
    arrays["energy"] = arrays["energy"][:-1]
    np.savez(wrong, **arrays)
    with pytest.raises(FeaturesError, match=r"wrong\.npz: energy has shape"):
        load_features(wrong)


def test_cache_hit_skips_the_analysis(tmp_path, monkeypatch):
    from visualizer.analysis.cache import cache_key, cache_path
    from visualizer.content import cache_dir

    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    track = write_wav(tmp_path / "song.wav", music_like(4.0, SR, seed=3))
    first = analyze_file(track, fps=30)
    entry = cache_path(cache_key(track, fps=Fraction(30), sr=SR))
    assert entry.is_file()
    # plant a marker in the entry: only a cache hit can return it
    marked = Features(**{**first.__dict__, "tempo": 999.0})
    save_features(marked, entry)
    events = []
    assert analyze_file(track, fps=30, progress=events.append).tempo == 999.0
    assert [e.label for e in events] == ["analyze (cached)"]
    assert analyze_file(track, fps=30, cache=False).tempo == first.tempo
    # an excerpt is a window of the whole track's entry
    assert analyze_file(track, fps=30, start=1.0).tempo == 999.0
    # other parameters or other audio content are other entries
    assert analyze_file(track, fps=25).tempo != 999.0
    write_wav(track, music_like(4.0, SR, seed=4))
    assert analyze_file(track, fps=30).tempo != 999.0


def _damage(kind: str, good: bytes) -> bytes:
    """A cache entry's bytes as a crash, a full disk or bit rot leaves them."""
    if kind == "garbage":
        return b"garbage"
    if kind == "zip-header-only":  # looks like a zip archive, is not one
        return b"PK\x03\x04" + bytes(40)
    if kind == "truncated":
        return good[: len(good) // 2]
    flipped = bytearray(good)  # "bit-rot": a member's compressed bytes changed
    for i in range(len(flipped) // 3, len(flipped) // 3 + 64):
        flipped[i] ^= 0xFF
    return bytes(flipped)


@pytest.mark.parametrize("kind", ["garbage", "zip-header-only", "truncated", "bit-rot"])
def test_damaged_cache_entry_is_dropped_and_recomputed(tmp_path, monkeypatch, caplog, kind):
    from visualizer.analysis.cache import cache_key, cache_path

    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "cache"))
    track = write_wav(tmp_path / "song.wav", chord_track([[0, 4, 7]], 2.0))
    first = analyze_file(track, fps=24)
    entry = cache_path(cache_key(track, fps=Fraction(24), sr=SR))
    entry.write_bytes(_damage(kind, entry.read_bytes()))
    features = analyze_file(track, fps=24)
    assert features.n_frames == 48
    assert np.array_equal(features.chroma, first.chroma)
    assert load_features(entry).n_frames == 48  # a good entry took its place
    assert "damaged analysis cache entry" in caplog.text


def test_analyze_file_window_and_missing_file(tmp_path):
    from visualizer.errors import AudioError

    track = write_wav(tmp_path / "song.wav", click_track([0.5, 2.5], SR, duration=3.0))
    features = analyze_file(track, fps=30, start=2.0, duration=1.0)
    assert features.n_frames == 30
    assert features.onsets.tolist() == [15]  # the click at 2.5 s, 0.5 s into the window
    assert load_audio(track).duration == pytest.approx(3.0)
    with pytest.raises(AudioError, match="not found"):
        analyze_file(tmp_path / "missing.wav", fps=30)


def test_cache_hit_in_a_fresh_process_imports_no_dsp(tmp_path, monkeypatch):
    """The cached path must stay light: no librosa, no scipy (that is what makes it < 1 s)."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "cache"))
    track = write_wav(tmp_path / "song.wav", chord_track([[0, 4, 7]], 1.0))
    expected = analyze_file(track, fps=30)
    code = (
        "import sys; from visualizer.analysis.track import analyze_file; "
        f"f = analyze_file({str(track)!r}, fps=30); "
        "print(f.n_frames, 'librosa' in sys.modules, 'scipy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(expected.n_frames), "False", "False"]
