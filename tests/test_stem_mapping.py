"""Presets route each driver to the mix or to a stem: the schema's names, the routing itself,
the stand-ins derived from the mix when a stem is not given, and presets written before stems
mapping exactly as they did."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from tests.mapping_fixtures import synthetic_features
from visualizer.analysis.decode import Audio
from visualizer.analysis.track import analyze
from visualizer.bench.stems import kick_figures, stem_song
from visualizer.errors import PresetError, StemError
from visualizer.mapping import CausalMapper, build_timeline
from visualizer.mapping.mapper import Rows
from visualizer.mapping.presets import list_presets, load_preset
from visualizer.mapping.routing import missing_source, signal_keys, sources_read
from visualizer.mapping.stand_in import StandIn, stand_in_features
from visualizer.options import SOURCES

BEFORE_STEMS = [name for name, _ in list_presets() if name not in ("band", "duet")]
N = 240


@pytest.fixture(scope="module")
def mix():
    return synthetic_features(N, 30, seed=1)


def _drums(mix):
    """A drum stem whose onsets are its own: every 10th frame, none of the mix's."""
    onsets = np.setdiff1d(np.arange(5, N, 10), mix.onsets)
    strength = np.full(N, 0.05, np.float32)
    strength[onsets] = 0.9
    return dataclasses.replace(mix, onsets=onsets.astype(np.int64), onset_strength=strength)


def _same(a, b) -> bool:
    return all(
        np.array_equal(getattr(a, key), getattr(b, key))
        for key in ("class_vectors", "noise", "truncation")
    )


# -- the schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override, words",
    [
        ("walk.feature=drum.energy", ["walk.feature", "'drums'", "bass, vocals", "energy, rise"]),
        ("zoom.feature=bass.loudness", ["zoom.feature", "mix, drums", "low, mid, high"]),
        ("pulse.trigger=drums.energy", ["pulse.trigger", "onsets, beats", "'none'"]),
        ("classes.feature=other.energy", ["classes.feature", "(chroma)", "guitar, piano"]),
        ("classes.switch=vocal.sections", ["classes.switch", "'vocals'", "(sections)"]),
    ],
)
def test_a_bad_source_or_feature_is_one_line_naming_the_key_and_the_valid_names(override, words):
    with pytest.raises(PresetError) as caught:
        load_preset("default", [override])
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message


def test_every_signal_key_takes_every_source():
    preset = load_preset("default")
    keys = dict(signal_keys(preset))
    assert {"walk.feature", "pulse.trigger", "truncation.feature", "hallucinate.feature"} <= set(
        keys
    )
    assert {"zoom.feature", "breed.feature", "classes.feature", "classes.switch"} <= set(keys)
    for source in SOURCES:
        chosen = load_preset(
            "default",
            [f"walk.feature={source}.energy", f"pulse.trigger={source}.onsets",
             f"classes.feature={source}.chroma", f"classes.switch={source}.sections"],
        )  # fmt: skip
        assert sources_read(chosen).keys() == {"mix", source}


def test_band_and_duet_read_stems_and_a_stem_without_stand_in_is_named():
    assert set(sources_read(load_preset("band"))) == {"mix", "other", "drums", "bass", "vocals"}
    assert set(sources_read(load_preset("duet"))) == {"mix", "vocals", "drums", "bass"}
    piano = load_preset("band", ["walk.feature=piano.energy"])
    assert missing_source(load_preset("band"), ()) is None  # all four have stand-ins
    problem = missing_source(piano, ("drums",))
    assert problem and "piano" in problem and "walk.feature = 'piano.energy'" in problem
    assert missing_source(piano, ("piano",)) is None


# -- presets written before stems ----------------------------------------------------------------


@pytest.mark.parametrize("name", BEFORE_STEMS)
def test_a_preset_written_before_stems_maps_exactly_as_the_mix_says(mix, name):
    """A plain feature is the mix's: spelt "mix.FEATURE", or with stems given that it does not
    read, the Timeline is the same array for array (offline and causal)."""
    preset = load_preset(name)
    spelt = [
        f"{key}={'mix.' + value if value not in ('none',) else value}"
        for key, value in signal_keys(preset)
    ]
    explicit = load_preset(name, spelt)
    unused = {"drums": _drums(mix), "bass": stand_in_features(mix, "bass")}
    for causal in (False, True):
        plain = build_timeline(mix, preset, causal=causal)
        assert _same(plain, build_timeline(mix, explicit, causal=causal))
        assert _same(plain, build_timeline(mix, preset, causal=causal, stems=unused))


# -- routing ------------------------------------------------------------------------------------


def _kicks(timeline, still) -> np.ndarray:
    """Frames where the pulse's share of the latent jumps up."""
    share = np.sqrt(np.mean((timeline.noise - still.noise) ** 2, axis=1))
    return np.flatnonzero(np.diff(share, prepend=0.0) > 1e-4)


@pytest.mark.parametrize("causal", [False, True])
def test_kicks_from_the_drum_stem_land_on_its_onsets_not_the_mix(mix, causal):
    drums = _drums(mix)
    preset = load_preset("default", ["pulse.trigger=drums.onsets", "pulse.amount=1.0"])
    still = load_preset("default", ["pulse.trigger=drums.onsets", "pulse.amount=0"])
    kicked = build_timeline(mix, preset, stems={"drums": drums}, causal=causal)
    resting = build_timeline(mix, still, stems={"drums": drums}, causal=causal)
    assert np.array_equal(_kicks(kicked, resting), drums.onsets)


def test_a_signal_follows_its_source(mix):
    """Zoom from the bass stem: the mix's bands change nothing, the stem's change the latent."""
    bass = dataclasses.replace(mix, energy=np.linspace(0, 1, N, dtype=np.float32))
    preset = load_preset("default", ["zoom.amount=0.8", "zoom.feature=bass.energy"])
    quiet_mix = dataclasses.replace(mix, bands=np.zeros_like(mix.bands))
    base = build_timeline(mix, preset, stems={"bass": bass})
    assert _same(base, build_timeline(quiet_mix, preset, stems={"bass": bass}))
    flat = dataclasses.replace(bass, energy=np.full(N, 0.5, np.float32))
    assert not _same(base, build_timeline(mix, preset, stems={"bass": flat}))


def test_a_stems_sections_change_the_palette(mix):
    vocals = dataclasses.replace(mix, sections=np.array([0, 50, 170], np.int64))
    preset = load_preset(
        "default",
        ["classes.switch=vocals.sections", "classes.palettes=birds", "classes.crossfade=0"],
    )
    timeline = build_timeline(mix, preset, stems={"vocals": vocals})
    changed = np.flatnonzero(np.abs(np.diff(timeline.class_vectors, axis=0)).sum(axis=1) > 0.5)
    assert {49, 169} <= set(changed.tolist())  # frames 50 and 170 show the next palette


def test_a_preset_reading_a_stem_that_nobody_gives_is_refused(mix):
    preset = load_preset("default", ["truncation.feature=guitar.energy"])
    with pytest.raises(StemError, match="guitar stem .*truncation.feature"):
        build_timeline(mix, preset)
    with pytest.raises(StemError, match="guitar"):
        CausalMapper(preset, fps=30).step(Rows(mix).frame(0))
    build_timeline(mix, preset, stems={"guitar": mix})  # given: it maps


# -- stand-ins ----------------------------------------------------------------------------------


def test_stand_ins_are_made_of_the_mix(mix):
    drums = stand_in_features(mix, "drums")
    assert np.array_equal(drums.onsets, mix.onsets)
    assert np.array_equal(drums.onset_strength, mix.onset_strength)
    assert (drums.energy >= mix.onset_strength).all()  # the strength, held
    bass, vocals = stand_in_features(mix, "bass"), stand_in_features(mix, "vocals")
    assert np.array_equal(bass.energy, mix.bands[0]) and np.array_equal(vocals.energy, mix.bands[1])
    gaps = np.diff(bass.onsets)
    assert bass.onsets.size > 5 and (gaps >= 3).all()  # at most one per 0.1 s
    assert (bass.onset_strength[bass.onsets] >= 0.3).all()
    other = stand_in_features(mix, "other")
    assert np.array_equal(other.chroma, mix.chroma) and other.onsets.size == 0
    for stand_in in (drums, bass, vocals, other):  # the song's musical time
        assert np.array_equal(stand_in.beats, mix.beats) and stand_in.tempo == mix.tempo


def test_a_stand_in_steps_live_as_it_is_derived_offline(mix):
    rows = Rows(mix)
    for name in ("drums", "bass", "vocals", "other"):
        offline = Rows(stand_in_features(mix, name))
        live = StandIn(name, 30.0)
        for i in range(N):
            row, expected = live.step(rows.frame(i)), offline.frame(i)
            assert row.energy == expected.energy and row.energy_rise == expected.energy_rise
            assert row.onset_strength == expected.onset_strength
            assert row.is_onset == expected.is_onset


def test_without_stems_the_band_maps_the_stand_ins_as_if_given(mix):
    preset = load_preset("band")
    given = {name: stand_in_features(mix, name) for name in ("drums", "bass", "vocals", "other")}
    assert _same(build_timeline(mix, preset), build_timeline(mix, preset, stems=given))
    causal = build_timeline(mix, preset, causal=True)  # the mapper derives them frame by frame
    assert _same(causal, build_timeline(mix, preset, causal=True, stems=given))


# -- the measure --------------------------------------------------------------------------------


def test_with_stems_the_band_kicks_on_the_drums_and_not_on_the_bass():
    """`benchmarks/stems_bench.py` in small: a song of separately generated stems."""
    fps = Fraction(30)
    song = stem_song(10.0, seed=2)
    mix = analyze(Audio(song.mix, song.sr, None), fps=fps)
    stems = {name: analyze(Audio(s, song.sr, None), fps=fps) for name, s in song.stems.items()}
    preset, still = load_preset("band"), load_preset("band", ["pulse.amount=0"])
    real = kick_figures(
        song, mix, build_timeline(mix, preset, stems=stems), build_timeline(mix, still, stems=stems)
    )
    assert real.drums >= 0.7 and real.bass <= 0.2 and real.meets_goals(), real
    guessed = kick_figures(song, mix, build_timeline(mix, preset), build_timeline(mix, still))
    assert guessed.bass > real.bass + 0.2, guessed  # the mix's onsets hold the picked bass notes
