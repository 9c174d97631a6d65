"""Musical time: downbeats, meter, beat and bar phase, phrases and sections on bar lines, from
generated bars with known beats (`bar_pattern`), asserted across frame rates; the live clock's
rows; degenerate input."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from tests.fixtures_audio import SR, bar_pattern, bar_pattern_times, click_track, write_wav
from tests.mapping_fixtures import synthetic_features
from visualizer.analysis import bars, downbeats
from visualizer.analysis.beats import track_beats
from visualizer.analysis.causal import analyze_causal
from visualizer.analysis.decode import Audio
from visualizer.analysis.features import Features, frame_features, validate_features
from visualizer.analysis.hop_rows import HopRows
from visualizer.analysis.stft import HOP, SpectrumReducer, frame_chunks
from visualizer.analysis.track import analyze, analyze_file
from visualizer.errors import FeaturesError

FPS_VALUES = [Fraction(24), Fraction(25), Fraction(30), Fraction(30000, 1001)]
PATTERNS = [(3, 100.0), (4, 120.0)]  # (meter, bpm)


def audio_of(samples: np.ndarray) -> Audio:
    return Audio(samples=np.asarray(samples, np.float32), sr=SR, path=None, start=0.0)


def analyze_envelope(samples: np.ndarray) -> np.ndarray:
    """The onset envelope (N,) the analysis tracks beats in, at SR / HOP hops per second."""
    reducer = SpectrumReducer(SR)
    with HopRows(SR, reducer.mel_of_bin, reducer.n_low) as rows:
        for frames, total in frame_chunks([np.asarray(samples, np.float32)]):
            rows.add(reducer.reduce(frames), total)
        return rows.finish()["envelope"]


def frames_of(times: np.ndarray, fps: Fraction) -> np.ndarray:
    return np.floor(times * float(fps) + 0.5).astype(np.int64)


def near(est: np.ndarray, ref: np.ndarray, tolerance: int = 1) -> np.ndarray:
    """For each of ``ref``: is an element of ``est`` within ``tolerance`` frames?"""
    if est.size == 0:
        return np.zeros(ref.size, bool)
    return np.abs(ref[:, None] - est[None, :]).min(axis=1) <= tolerance


@pytest.fixture(scope="module")
def analysed() -> dict:
    """{(meter, bpm, fps): Features} of 30 s of bars."""
    out = {}
    for meter, bpm in PATTERNS:
        audio = audio_of(bar_pattern(meter, bpm, 30.0))
        for fps in FPS_VALUES:
            out[meter, bpm, fps] = analyze(audio, fps=fps)
    return out


@pytest.mark.parametrize("fps", FPS_VALUES, ids=str)
@pytest.mark.parametrize("meter,bpm", PATTERNS, ids=["3-4 at 100", "4-4 at 120"])
def test_downbeats_and_meter_of_generated_bars(analysed, meter, bpm, fps):
    features = analysed[meter, bpm, fps]
    beat_times, downbeat_times = bar_pattern_times(meter, bpm, 30.0)
    assert features.meter == meter
    assert features.tempo == pytest.approx(bpm, rel=0.03)
    truth = frames_of(downbeat_times, fps)
    assert near(features.downbeats, truth).mean() >= 0.9  # recall
    assert near(truth, features.downbeats).mean() >= 0.9  # precision
    assert near(features.beats, frames_of(beat_times, fps)).mean() >= 0.9
    assert validate_features(features) is None


@pytest.mark.parametrize("fps", FPS_VALUES, ids=str)
@pytest.mark.parametrize("meter,bpm", PATTERNS, ids=["3-4 at 100", "4-4 at 120"])
def test_phase_invariants(analysed, meter, bpm, fps):
    features = analysed[meter, bpm, fps]
    for name in ("beat_phase", "bar_phase"):
        phase = getattr(features, name)
        assert phase.dtype == np.float32 and phase.shape == (features.n_frames,)
        assert phase.min() >= 0.0 and phase.max() < 1.0
    assert not features.beat_phase[features.beats].any()
    assert not features.bar_phase[features.downbeats].any()
    # between two beats the phases rise; they fall only onto a beat (a downbeat for the bar)
    falls = np.flatnonzero(np.diff(features.beat_phase) < 0) + 1
    assert set(falls.tolist()) <= set(features.beats.tolist())
    falls = np.flatnonzero(np.diff(features.bar_phase) < 0) + 1
    assert set(falls.tolist()) <= set(features.downbeats.tolist())
    # each beat of a bar adds 1 / meter to the bar phase
    inside = features.beats[(features.beats > features.downbeats[0])]
    inside = inside[inside < features.downbeats[-1]]
    steps = np.round(features.bar_phase[inside] * meter, 3)
    assert np.allclose(steps, np.round(steps)), steps
    # downbeats are beats, phrases downbeats; sections start on downbeats
    assert set(features.downbeats.tolist()) <= set(features.beats.tolist())
    assert set(features.phrases.tolist()) <= set(features.downbeats.tolist())
    assert set(features.sections[1:].tolist()) <= set(features.downbeats.tolist())


def test_frame_features_rows_carry_musical_time(analysed):
    features = analysed[4, 120.0, Fraction(30)]
    down = int(features.downbeats[2])
    row = frame_features(features, down)
    assert row.is_downbeat and row.is_beat and row.bar_phase == 0.0 and row.meter == 4
    after = frame_features(features, down + 1)
    assert not after.is_downbeat and 0.0 < after.beat_phase < 1.0
    assert after.bar_phase == features.bar_phase[down + 1]
    phrase = frame_features(features, int(features.phrases[0]))
    assert phrase.is_phrase_start


@pytest.mark.parametrize(
    "samples",
    [np.zeros(SR * 4, np.float32), click_track([1.0], SR, duration=4.0)],
    ids=["silence", "one click"],
)
def test_degenerate_input_has_no_bars(samples):
    features = analyze(audio_of(samples), fps=Fraction(30))
    assert features.beats.size == 0 and features.downbeats.size == 0
    assert features.meter == 0 and features.phrases.size == 0
    assert not features.beat_phase.any() and not features.bar_phase.any()
    assert features.sections.tolist() == [0]
    assert validate_features(features) is None


@pytest.mark.parametrize("n_frames", [1, 7, 100])
def test_phase_functions_on_a_grid(n_frames):
    beats = np.arange(3, n_frames, 10, dtype=np.int64)
    phase = bars.beat_phase(beats, n_frames)
    if beats.size < 2:
        assert not phase.any()
        return
    assert phase.min() >= 0 and phase.max() < 1
    np.testing.assert_allclose(phase, ((np.arange(n_frames) - 3) / 10.0) % 1.0, atol=1e-6)
    downbeats = beats[1::3]  # the pickup beat (frame 3) is the last beat of a bar
    bar = bars.bar_phase(beats, downbeats, 3, n_frames)
    np.testing.assert_allclose(bar, ((np.arange(n_frames) - 13) / 30.0) % 1.0, atol=1e-6)


def test_phrase_rule():
    assert bars.bars_per_phrase(70.0, 4) == 4  # 13.7 s
    assert bars.bars_per_phrase(120.0, 4) == 8  # 16 s
    assert bars.bars_per_phrase(174.0, 4) == 8  # 11 s
    assert bars.bars_per_phrase(180.0, 3) == 16  # 16 s
    downbeats = np.arange(0, 400, 10, dtype=np.int64)  # 40 bars
    # a section starting at bar 13 restarts the count
    phrases = bars.phrase_starts(downbeats, np.array([0, 130]), tempo=120.0, meter=4)
    assert phrases.tolist() == [0, 80, 130, 210, 290, 370]


def test_sections_snap_to_downbeats():
    downbeats = np.arange(5, 1000, 60, dtype=np.int64)
    snapped = bars.snap_sections(np.array([0, 20, 300, 333, 610]), downbeats, 30.0)
    # 20 is within a bar of the start: merged into the first section
    assert snapped.tolist() == [0, 305, 605]
    assert bars.snap_sections(np.array([0, 90]), np.zeros(0, np.int64), 30.0).tolist() == [0, 90]


def test_live_rows_count_bars():
    meter, bpm = 4, 120.0
    rows = analyze_causal(bar_pattern(meter, bpm, 30.0), SR, Fraction(30))
    downbeats = np.array([r.index for r in rows if r.is_downbeat])
    beats = np.array([r.index for r in rows if r.is_beat])
    assert downbeats.size >= 8 and set(downbeats.tolist()) <= set(beats.tolist())
    late = downbeats[downbeats > 15 * 30]  # once the clock has heard a few bars
    _, truth = bar_pattern_times(meter, bpm, 30.0)
    assert near(late, frames_of(truth, Fraction(30)), 2)[-5:].all()  # truth's last bars found
    assert near(frames_of(truth, Fraction(30))[truth > 15], late, 2).all()  # no false ones
    assert all(r.meter == meter for r in rows[-100:])
    phases = np.array([(r.beat_phase, r.bar_phase) for r in rows])
    assert phases.min() >= 0.0 and phases.max() < 1.0
    assert all(r.bar_phase < 0.2 for r in rows if r.is_downbeat)
    assert any(r.is_phrase_start for r in rows)


@pytest.mark.parametrize("meter,bpm,after", [(4, 90.0, 120.0), (3, 132.0, 100.0)])
def test_beats_and_bars_follow_a_tempo_change(meter, bpm, after):
    fps = Fraction(30)
    samples = bar_pattern(meter, bpm, 40.0, bpm_after=after, change_at=20.0)
    features = analyze(audio_of(samples), fps=fps)
    beat_times, downbeat_times = bar_pattern_times(
        meter, bpm, 40.0, bpm_after=after, change_at=20.0
    )
    truth = frames_of(beat_times, fps)
    assert near(features.beats, truth).mean() >= 0.95  # both tempos: no drift after the change
    assert near(truth, features.beats).mean() >= 0.95
    assert features.meter == meter
    assert near(features.downbeats, frames_of(downbeat_times, fps)).mean() >= 0.9
    # the bar phase keeps counting whole beats on both sides of the change
    late = features.beats[features.beats > 25 * 30]
    assert np.allclose(np.round(features.bar_phase[late] * meter, 3) % 1, 0)


def test_a_fast_bar_is_counted_at_its_own_level():
    # at 180 BPM the beat tracker's tempo prior (centred on 120) locks onto every other beat;
    # the level whose bars are plain (one clear downbeat per 4 beats) is the real one
    meter, bpm, fps = 4, 180.0, Fraction(30)
    samples = bar_pattern(meter, bpm, 40.0)
    features = analyze(audio_of(samples), fps=fps)
    beat_times, downbeat_times = bar_pattern_times(meter, bpm, 40.0)
    assert features.tempo == pytest.approx(bpm, rel=0.03)
    assert features.meter == meter
    truth = frames_of(downbeat_times, fps)
    assert near(features.downbeats, truth).mean() >= 0.9
    assert near(truth, features.downbeats).mean() >= 0.9
    assert near(features.beats, frames_of(beat_times, fps)).mean() >= 0.9
    # what the rule corrects: the tracker alone, on the same envelope, finds half the tempo
    envelope = analyze_envelope(samples)
    _, tracked = track_beats(envelope, rate=SR / HOP)
    assert tracked == pytest.approx(bpm / 2, rel=0.03)


def test_the_tempo_you_hear_keeps_the_beats_there(tmp_path):
    # at 180 BPM the analysis counts every beat; a listener who feels 90 says --beats dsp:90
    # and gets every other beat, on the music's beats, whatever the level chooser prefers
    song = write_wav(tmp_path / "fast.wav", bar_pattern(4, 180.0, 30.0))
    truth = frames_of(bar_pattern_times(4, 180.0, 30.0)[0], Fraction(30))
    own = analyze_file(song, fps=30)
    assert own.tempo == pytest.approx(180.0, rel=0.03)
    first: list = []
    held = analyze_file(song, fps=30, tracker="dsp:90", progress=first.append)
    assert held.tempo == pytest.approx(90.0, rel=0.03)
    assert near(truth, held.beats).all()  # each of ours on one of the music's
    assert held.beats.size == pytest.approx(own.beats.size / 2, abs=2)
    assert held.meter in (3, 4) and set(held.downbeats.tolist()) <= set(held.beats.tolist())
    # the hint has its own cache entry, one for each way of writing the same tempo
    again: list = []
    same = analyze_file(song, fps=30, tracker="dsp:90.0", progress=again.append)
    assert not any("cached" in event.label for event in first)
    assert any("cached" in event.label for event in again)
    assert np.array_equal(same.beats, held.beats)


@pytest.mark.parametrize("odd_at", [15.5, 17.0], ids=["3-beat bar", "2-beat bar"])
def test_an_odd_bar_in_steady_music_moves_the_count(odd_at):
    # 4/4 at 120 with one bar cut short: the beats run on steadily, the bars restart
    fps = Fraction(30)
    first, second = bar_pattern(4, 120.0, odd_at), bar_pattern(4, 120.0, 20.0)
    features = analyze(audio_of(np.concatenate([first, second])), fps=fps)
    _, before = bar_pattern_times(4, 120.0, odd_at)
    _, after = bar_pattern_times(4, 120.0, 20.0)
    truth = frames_of(np.concatenate([before, after + odd_at]), fps)
    assert features.meter == 4
    assert near(features.downbeats, truth).mean() >= 0.9
    assert near(truth, features.downbeats).mean() >= 0.9
    assert near(features.downbeats, truth[truth > odd_at * 30]).all()


def test_bar_cuts_are_dear_where_the_beats_run_steadily():
    steady = np.arange(65) * 50
    assert (downbeats.reset_costs(steady) == downbeats.STEADY_RESET).all()
    # the tracker added a beat (index 32) half-way between two: the beats around it wander
    wandering = np.sort(np.append(np.arange(64) * 50, 31 * 50 + 25))
    costs = downbeats.reset_costs(wandering)
    loose = np.flatnonzero(costs == downbeats.LOOSE_RESET)
    assert loose.min() >= 28 and loose.max() <= 37 and 32 in loose
    # bars of 4 before the added beat, shifted by it after; a section starts on the first new
    # downbeat (33). Where the beats wander the count follows (one bar a beat longer); held to
    # the steady cost, 8 bars and a section start do not change a bar's length: one count
    salience = np.where(np.arange(65) % 4 == 0, 1.0, -1.0 / 3)
    salience[32:] = np.where((np.arange(32, 65) - 33) % 4 == 0, 1.0, -1.0 / 3)
    salience[33] += downbeats.SECTION_BONUS
    moved, _ = downbeats.track_downbeats(salience, costs)
    assert moved.tolist() == list(range(0, 32, 4)) + list(range(33, 65, 4))
    held, _ = downbeats.track_downbeats(salience, np.full(65, downbeats.STEADY_RESET))
    assert set(np.diff(held).tolist()) == {4}


@pytest.mark.parametrize(
    "tempo,own_tempo,ratio,wins",
    [
        (120.0, 60.0, 2.0, True),  # doubling toward the prior: twice the evidence will do
        (152.0, 76.0, 2.0, True),  # 152 is nearer 120 (log) than 76 is
        (190.0, 95.0, 3.9, False),  # doubling away from the prior needs four times
        (190.0, 95.0, 4.0, True),
        (70.0, 140.0, 3.0, False),  # halving away from the prior, likewise
        (70.0, 140.0, 1.9, False),
    ],
)
def test_another_metrical_level_needs_more_evidence_away_from_the_prior(
    tempo, own_tempo, ratio, wins
):
    assert downbeats.level_wins(ratio * 0.5, 0.5, tempo, own_tempo) is wins


# --- the user's "one": `anchor_bars` (--downbeat) ---------------------------------------------


def gridded(marks, n_beats: int = 40, *, sections=(0,), meter: int = 4) -> Features:
    """Features of ``n_beats`` beats 10 frames apart from frame 3 (180 BPM at 30 fps), bar lines
    on the beats of index ``marks`` (any lengths), sections on the bar lines of index
    ``sections`` (0: frame 0)."""
    beats = 3 + 10 * np.arange(n_beats, dtype=np.int64)
    n = int(beats[-1]) + 7
    downbeats = beats[np.asarray(marks)]
    starts = np.unique([0, *(downbeats[i] for i in sections if i)]).astype(np.int64)
    base = synthetic_features(n, tempo=180.0)
    musical = bars.musical_time(beats, downbeats, meter, starts, n_frames=n, tempo=180.0)
    return dataclasses.replace(base, beats=beats, sections=starts, **musical)


def beat_time(features: Features, index: int, offset: float = 0.0) -> float:
    """Seconds of beat ``index`` of ``features``, ``offset`` seconds off."""
    return float(features.beats[index] / features.fps) + offset


def beat_indices(features: Features, frames: np.ndarray) -> list[int]:
    return np.searchsorted(features.beats, frames).tolist()


def assert_musical_time_holds(features: Features) -> None:
    assert validate_features(features) is None
    assert not features.bar_phase[features.downbeats].any()
    assert set(features.phrases.tolist()) <= set(features.downbeats.tolist())
    assert features.phrases[0] == features.downbeats[0]
    assert set(features.sections[1:].tolist()) <= set(features.downbeats.tolist())


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_anchor_shifts_the_whole_grid_by_whole_beats(shift):
    # a pickup beat, then 4/4: bar lines on beats 1, 5, ..., 37; sections on bars 3 and 7
    features = gridded(range(1, 40, 4), sections=(0, 3, 7))
    moved = bars.anchor_bars(features, beat_time(features, 21 + shift, offset=0.04))
    expected = [i + shift for i in range(1, 40, 4) if i + shift < 40]  # 40: past the last beat
    assert beat_indices(moved, moved.downbeats) == expected
    assert moved.meter == 4 and moved.tempo == features.tempo
    assert beat_indices(moved, moved.sections[1:]) == [13 + shift, 29 + shift]
    assert moved.sections[0] == 0
    assert_musical_time_holds(moved)
    # each beat after the first bar line adds a quarter of a bar: counted from the new one
    after = np.arange(1 + shift, 40)
    np.testing.assert_allclose(
        moved.bar_phase[moved.beats[after]], ((after - 1 - shift) % 4) / 4, atol=1e-6
    )
    for name in ("beats", "beat_phase", "onsets", "chroma", "energy"):  # nothing else moves
        np.testing.assert_array_equal(getattr(moved, name), getattr(features, name), name)
    if shift == 0:  # the anchor on a bar line already: the analysis as it was
        for name in ("downbeats", "sections", "phrases", "bar_phase"):
            np.testing.assert_array_equal(getattr(moved, name), getattr(features, name))


def test_anchor_keeps_the_analysis_bar_lengths():
    # a 3-beat bar and a 5-beat bar inside 4/4: moved, never evened out
    marks = [0, 4, 8, 11, 15, 19, 23, 28, 32, 36]
    features = gridded(marks, sections=(0, 4, 7))
    moved = bars.anchor_bars(features, beat_time(features, 13, offset=-0.03))  # bar 11's third
    assert beat_indices(moved, moved.downbeats) == [m + 2 for m in marks]
    assert np.diff(beat_indices(moved, moved.downbeats)).tolist() == np.diff(marks).tolist()
    assert beat_indices(moved, moved.sections[1:]) == [17, 30]
    assert_musical_time_holds(moved)
    # inside the 5-beat bar the 5th beat: 4 beats late, the smallest shift that reaches it
    late = bars.anchor_bars(features, beat_time(features, 27))
    assert beat_indices(late, late.downbeats) == [m + 4 for m in marks[:-1]]  # 40: past the end
    assert_musical_time_holds(late)


def test_anchor_in_a_part_without_bar_lines_counts_the_meter_to_it():
    # the analysis left the first 8 and the last 7 beats without bar lines
    features = gridded([8, 12, 16, 20, 24, 28, 32], sections=(0, 2))
    early = bars.anchor_bars(features, beat_time(features, 2))
    assert beat_indices(early, early.downbeats) == [2, 6, 10, 14, 18, 22, 26, 30, 34]
    late = bars.anchor_bars(features, beat_time(features, 38))
    assert beat_indices(late, late.downbeats) == [10, 14, 18, 22, 26, 30, 34, 38]
    for moved in (early, late):
        assert_musical_time_holds(moved)
        assert beat_indices(moved, moved.sections[1:]) == [18]
    # a section start the shift carries past the last beat goes; frame 0 stays
    end = gridded(range(0, 38, 4), 38, sections=(0, 9))  # the last bar line, beat 36
    moved = bars.anchor_bars(end, beat_time(end, 35))
    assert moved.sections.tolist() == [0] and moved.downbeats[-1] == moved.beats[35]


def test_anchor_refuses_times_and_tracks_it_cannot_use():
    features = gridded(range(0, 40, 4))
    end = features.duration
    for bad in (-1.0, float("nan"), float("inf"), "12", True, None):
        with pytest.raises(FeaturesError, match=r"invalid --downbeat .*a number >= 0"):
            bars.anchor_bars(features, bad)
    with pytest.raises(
        FeaturesError, match=rf"invalid --downbeat 99: past the end .* 0 to {end:.2f}"
    ):
        bars.anchor_bars(features, 99.0)
    assert bars.anchor_bars(features, end).downbeats[-1] == features.beats[-1]  # the last beat
    silent = synthetic_features(120, tempo=0.0)
    with pytest.raises(FeaturesError, match=r"--downbeat 1: the analysis found no beats"):
        bars.anchor_bars(silent, 1.0)
    unbarred = dataclasses.replace(
        features, downbeats=np.zeros(0, np.int64), phrases=np.zeros(0, np.int64)
    )
    with pytest.raises(FeaturesError, match="found beats but no bar lines"):
        bars.anchor_bars(unbarred, 1.0)
