"""Streaming analysis: blocks in, the same Features out, memory that does not grow with the track.

The analysis decodes and analyses block by block (`stream_audio` -> `analyze_stream`); these
tests hold it to the whole-array computation bit for bit, whatever the block sizes, through both
decoders and the resampler, and measure that its memory does not follow the track's length.
"""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from tests.fixtures_audio import SR, music_like, write_wav, write_with_ffmpeg
from visualizer.analysis.decode import load_audio, stream_audio
from visualizer.analysis.features import Features
from visualizer.analysis.spectral import analyze_samples, analyze_stream
from visualizer.analysis.stft import CHUNK, HOP
from visualizer.analysis.track import analyze_file

FIELDS = ("chroma", "onset_strength", "onsets", "energy", "energy_rise", "bands", "beats")
MUSICAL = ("downbeats", "beat_phase", "bar_phase", "phrases")


def assert_same(a: Features, b: Features) -> None:
    for name in (*FIELDS, "sections", *MUSICAL):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.n_frames, a.duration, a.tempo, a.meter) == (b.n_frames, b.duration, b.tempo, b.meter)


def uneven_blocks(samples: np.ndarray, seed: int = 0):
    """``samples`` cut at random places, from 1 sample to several STFT chunks long."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < samples.shape[0]:
        size = int(rng.choice([1, 255, 257, 4096, CHUNK * HOP + 3, 3 * CHUNK * HOP]))
        yield samples[start : start + size]
        start += size


@pytest.mark.parametrize("seconds", [0.05, 23.8, 2 * CHUNK * HOP / SR, 61.3])
def test_any_blocks_give_the_whole_arrays_features(seconds):
    # 2 chunks exactly, a sliver, and lengths whose last chunk holds the held end hops
    samples = music_like(seconds, seed=3)
    whole = analyze_samples(samples, SR, fps=Fraction(30))
    streamed = analyze_stream(uneven_blocks(samples), SR, fps=Fraction(30))
    assert_same(streamed, whole)
    assert whole.onsets.size > 0 or seconds < 1


@pytest.mark.parametrize("suffix", ["flac", "m4a"])
def test_streamed_decoding_equals_the_whole_file_resampled(tmp_path, suffix):
    # 44.1 kHz: both decoders average channels (stereo flac) and resample per block
    mono = music_like(12.0, sr=44100, seed=1)
    if suffix == "flac":
        path = tmp_path / "t.flac"
        sf.write(path, np.stack([mono, 0.5 * np.roll(mono, 333)], axis=1), 44100)
    else:
        path = write_with_ffmpeg(tmp_path / "t.m4a", mono, 44100)
    blocks = list(stream_audio(path, block=1000))
    assert len(blocks) > 100  # really streamed
    joined = np.concatenate(blocks)
    whole = load_audio(path)
    np.testing.assert_array_equal(joined, whole.samples)
    if suffix == "flac":
        import soxr

        data, _ = sf.read(path, dtype="float32", always_2d=True)
        expected = soxr.resample(data.mean(axis=1, dtype=np.float32), 44100, SR, quality="HQ")
        np.testing.assert_array_equal(joined, expected[: round(data.shape[0] * SR / 44100)])
    assert_same(analyze_file(path, fps=24, cache=False), analyze_samples(joined, SR, fps=24))


def peak_bytes(seconds: float) -> int:
    """Peak traced allocation while analysing ``seconds`` of generated blocks (none held here)."""

    def blocks():
        pattern = music_like(4.0, seed=2)
        for start in range(0, int(seconds * SR), pattern.shape[0]):
            yield pattern[: int(seconds * SR) - start]

    tracemalloc.start()
    try:
        analyze_stream(blocks(), SR, fps=Fraction(1))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_only_by_per_hop_rows():
    # 4 extra minutes would hold 21 MB of samples and 10 MB of mel rows (and HPSS copies of
    # them) in a whole-array analysis; streamed, only the per-hop rows grow (rms, bands, 14
    # timbre values, the envelope, and the tempo and section steps' temporaries): < 5 MB.
    short, long = peak_bytes(30.0), peak_bytes(270.0)
    hops = (270.0 - 30.0) * SR / HOP
    assert long - short < 240 * hops, (short, long)


def test_a_wav_truncated_in_its_data_fails_while_streaming(tmp_path):
    path = write_wav(tmp_path / "t.wav", music_like(3.0))
    data = path.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    from visualizer.errors import AudioError

    with pytest.raises(AudioError, match="truncated"):
        list(stream_audio(cut))


def test_section_novelty_never_builds_the_whole_self_similarity_matrix():
    # an hour at 120 BPM is 7200 beat blocks: the (N, N) matrix alone would be 415 MB
    from visualizer.analysis.rhythm import novelty_boundaries

    rng = np.random.default_rng(0)
    features = np.repeat(rng.standard_normal((26, 8)), 500, axis=1)  # 8 sections of 500 blocks
    features += 0.05 * rng.standard_normal(features.shape)
    tracemalloc.start()
    try:
        starts = novelty_boundaries(features, kernel=16, threshold=0.4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(starts, np.arange(8) * 500)
    assert peak < 10e6, peak  # the features (1 MB), copies of them, and one tile of rows
