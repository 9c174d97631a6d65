"""Live stems: a multichannel input routed to stems (the sound card source's own reading path,
fed synthetic 8-channel blocks: there is no sound card here), and stem files played in sync with
the track (the real file source, followed by the page's clock). Either way the show maps every
frame as the offline causal Timeline does with each source analysed on its own."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures_audio import SR, write_wav
from tests.live_fixtures import FPS, tiny_generator
from visualizer.analysis.causal import analyze_causal
from visualizer.bench.stems import stem_song
from visualizer.errors import StemError
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine, causal_timeline
from visualizer.live.input_stems import parse_routing
from visualizer.live.session import LiveOptions, LiveSession
from visualizer.live.source_file import FileSource
from visualizer.live.source_soundcard import SoundcardSource
from visualizer.mapping.presets import load_preset

SECONDS = 4.0


@pytest.fixture(scope="module")
def song():
    return stem_song(SECONDS, SR, seed=5)


@pytest.fixture(scope="module")
def generator():
    return tiny_generator()


def _engine(generator, source) -> LiveEngine:
    control = LiveControl("band")
    return LiveEngine(
        generator=generator, control=control, source=source, fps=FPS, seed=3, keep_timeline=True
    )


def _offline(mix: np.ndarray, stems: dict[str, np.ndarray]):
    """The causal Timeline of `band` with every source analysed on its own, whole."""
    rows = analyze_causal(mix, SR, FPS)
    by_stem = {name: analyze_causal(samples, SR, FPS) for name, samples in stems.items()}
    frames = [{name: by_stem[name][i] for name in stems} for i in range(len(rows))]
    return causal_timeline(rows, load_preset("band"), seed=3, fps=FPS, stems=frames)


def _same(a, b) -> bool:
    return a.n_frames == b.n_frames and all(
        np.array_equal(getattr(a, key), getattr(b, key))
        for key in ("class_vectors", "noise", "truncation")
    )


# -- a multichannel input -----------------------------------------------------------------------


def test_routing_reads_channels_from_one_and_says_what_is_wrong():
    routing = parse_routing("drums=1-2, bass=3, other=7-8")
    assert routing.stems == (("drums", (0, 1)), ("bass", (2,)), ("other", (6, 7)))
    assert (
        routing.channels == 8 and routing.mix == () and routing.names == ("drums", "bass", "other")
    )
    assert parse_routing("mix=9-10,vocals=1").mix == (8, 9)
    for text, words in (
        ("drum=1-2", "unknown stem 'drum'"),
        ("drums=0-1", "counted from 1"),
        ("drums=3-2", "N or N-M"),
        ("drums=1,drums=2", "drums twice"),
        ("mix=1-2", "routes no stem"),
    ):
        with pytest.raises(StemError, match=words):
            parse_routing(text)


def test_an_eight_channel_input_is_split_into_the_mix_and_four_stems(song):
    source = SoundcardSource(
        None, routing=parse_routing("drums=1-2,bass=3-4,vocals=5-6,other=7-8"), stream=False
    )
    assert source.stems == ("drums", "bass", "vocals", "other")
    left, right = song.stems["drums"][:1000], song.stems["bass"][:1000]
    block = np.zeros((1000, 8), np.float32)
    block[:, 0], block[:, 1] = left, 0.5 * left  # a stereo drum stem
    block[:, 2] = block[:, 3] = right
    block[:, 6] = 0.25
    source.callback(block[:600], 600, None, None)  # PortAudio's blocks, any size
    source.callback(block[600:], 400, None, None)
    read = source.read()
    assert read.samples.size == 1000 and source.clock().seconds == pytest.approx(1000 / SR)
    assert np.allclose(read.stems["drums"], 0.75 * left) and np.allclose(read.stems["bass"], right)
    assert np.allclose(read.stems["vocals"], 0.0) and np.allclose(read.stems["other"], 0.125)
    assert np.allclose(read.samples, 0.75 * left + right + 0.125)  # the stems' sum
    empty = source.read()
    assert empty.samples.size == 0 and set(empty.stems) == set(source.stems)


def test_a_routed_input_maps_as_each_stem_analysed_on_its_own(song, generator):
    """Blocks of a real-time size: the show's frames equal the offline causal Timeline of the
    stems summed (the mix) and each stem's own analysis."""
    routing = parse_routing("drums=1-2,bass=3-4,other=5")
    source = SoundcardSource(None, routing=routing, stream=False)
    engine = _engine(generator, source)
    drums, bass, other = (song.stems[name] for name in ("drums", "bass", "other"))
    channels = np.stack([drums, drums, bass, bass, other], axis=1)
    for start in range(0, len(drums), 256):
        block = channels[start : start + 256]
        source.callback(block, len(block), None, None)
        engine.advance()
    mix = (drums + bass + other).astype(np.float32)
    assert _same(engine.timeline(), _offline(mix, {"drums": drums, "bass": bass, "other": other}))


# -- stem files in sync with the track ----------------------------------------------------------


@pytest.fixture
def files(song, tmp_path):
    mix = write_wav(tmp_path / "mix.wav", song.mix, SR)
    stems = {name: write_wav(tmp_path / f"{name}.wav", s, SR) for name, s in song.stems.items()}
    return mix, stems


def test_stem_files_play_in_sync_with_the_track(song, files, generator):
    mix, stems = files
    source = FileSource.open(str(mix))
    source.add_stems(tuple(stems.items()), FPS)
    engine = _engine(generator, source)
    rng = np.random.default_rng(1)
    t = 0.0
    while t < SECONDS:  # the page's clock in irregular steps: blocks of any size
        t += float(rng.uniform(0.01, 0.3))
        source.report(t, playing=False)
        engine.advance()
    again = FileSource.open(str(mix))
    again.add_stems(tuple(stems.items()), FPS)
    again.report(1.234, playing=False)
    block = again.read()
    assert set(block.stems) == set(stems) and block.samples.size == int(1.234 * SR)
    assert all(np.array_equal(s, again.stem_samples(0, s.size)[n]) for n, s in block.stems.items())
    decoded = {name: source.stem_samples(0, len(source.audio))[name] for name in stems}
    assert _same(engine.timeline(), _offline(source.audio, decoded))
    assert np.abs(decoded["drums"] - song.stems["drums"]).max() < 1e-3  # 16-bit wav


def test_a_stem_file_of_another_length_or_a_stem_without_a_track_is_refused(song, files, tmp_path):
    mix, _ = files
    longer = write_wav(tmp_path / "long.wav", np.zeros(int((SECONDS + 1) * SR), np.float32), SR)
    source = FileSource.open(str(mix))
    with pytest.raises(StemError, match="stem bass .* 5.000 s long and the mix .* 4.000 s"):
        source.add_stems((("bass", longer),), FPS)
    with pytest.raises(StemError, match="--stems plays stem files with --audio's track"):
        LiveSession.open(LiveOptions(input="1", stems=(("bass", longer),), preset="band"))
    piano = LiveOptions(audio=mix, preset="band", overrides=("zoom.feature=piano.energy",))
    with pytest.raises(StemError, match="piano stem .*zoom.feature"):
        LiveSession.open(piano)
