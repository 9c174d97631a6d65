"""Audio loading: every supported format, windows, resampling, and the errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures_audio import chord_track, click_track, write_wav, write_with_ffmpeg
from visualizer.analysis.decode import Audio, load_audio, probe_duration
from visualizer.errors import AudioError

SECONDS = 1.5


@pytest.fixture(scope="module")
def stereo() -> np.ndarray:
    """1.5 s of stereo at 44.1 kHz: a chord left, the same chord at half level right."""
    mono = chord_track([[0, 4, 7]], SECONDS, sr=44100)
    return np.stack([mono, 0.5 * mono], axis=1)


# Lossy codecs add encoder delay/padding; the decoders trim most of it.
FORMATS = {"wav": 0.002, "flac": 0.002, "ogg": 0.01, "mp3": 0.03, "m4a": 0.03, "opus": 0.01}


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_every_format_loads_with_its_duration(tmp_path, stereo, suffix):
    path = write_with_ffmpeg(tmp_path / f"track.{suffix}", stereo, 44100)
    audio = load_audio(path, sr=22050)
    assert isinstance(audio, Audio)
    assert audio.sr == 22050
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration == pytest.approx(SECONDS, abs=FORMATS[suffix])
    assert probe_duration(path) == pytest.approx(SECONDS, abs=FORMATS[suffix] + 0.03)
    # mono is the channel mean: 0.75 of the left channel's level, whatever the decoder
    level = float(np.sqrt(np.mean(audio.samples**2)))
    reference = float(np.sqrt(np.mean(stereo[:, 0] ** 2))) * 0.75
    assert level == pytest.approx(reference, rel=0.1)
    assert audio.path == path


@pytest.mark.parametrize("sr_in, sr_out", [(8000, 22050), (48000, 22050), (22050, 16000)])
def test_resampling_keeps_time(tmp_path, sr_in, sr_out):
    # a click at 0.5 s must stay at 0.5 s whatever the rates
    path = write_wav(tmp_path / "click.wav", click_track([0.5], sr_in, duration=1.0), sr_in)
    audio = load_audio(path, sr=sr_out)
    assert audio.samples.shape[0] == sr_out
    first = int(np.argmax(np.abs(audio.samples) > 0.1))
    assert first / sr_out == pytest.approx(0.5, abs=0.002)


@pytest.mark.parametrize("suffix", ["wav", "mp3", "m4a"])  # soundfile and ffmpeg paths
def test_start_and_duration_window(tmp_path, suffix):
    y = click_track([0.25, 1.25], 22050, duration=2.0)
    path = write_with_ffmpeg(tmp_path / f"clicks.{suffix}", y, 22050)
    audio = load_audio(path, start=1.0, duration=0.5)
    assert audio.start == 1.0
    assert audio.duration == pytest.approx(0.5, abs=0.002)
    first = int(np.argmax(np.abs(audio.samples) > 0.1))
    assert first / audio.sr == pytest.approx(0.25, abs=0.01)  # the click at 1.25 s
    rest = load_audio(path, start=1.5)
    assert rest.duration == pytest.approx(0.5, abs=0.03)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav: file not found"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.mp3: empty file"):
        load_audio(path)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not samples\n" * 20)
    with pytest.raises(AudioError, match=r"notes\.wav: not an audio file"):
        load_audio(path)
    with pytest.raises(AudioError, match=r"notes\.wav"):
        probe_duration(path)


@pytest.mark.parametrize("suffix", ["wav", "flac", "mp3", "m4a", "ogg"])
def test_truncated_file(tmp_path, suffix):
    good = write_with_ffmpeg(tmp_path / f"good.{suffix}", chord_track([[0, 4, 7]], 2.0), 22050)
    data = good.read_bytes()
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=rf"cut\.{suffix}: .*(truncated|corrupt|no audio)"):
        load_audio(cut)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match="not a file"):
        load_audio(tmp_path)


@pytest.mark.parametrize("suffix", ["wav", "m4a"])
def test_start_beyond_end(tmp_path, suffix):
    path = write_with_ffmpeg(tmp_path / f"short.{suffix}", chord_track([[0]], 1.0), 22050)
    with pytest.raises(AudioError, match=rf"short\.{suffix}: start 5 s is beyond the end"):
        load_audio(path, start=5.0)


@pytest.mark.parametrize("kwargs", [{"start": -1.0}, {"duration": 0.0}, {"duration": -2.0}])
def test_bad_window(tmp_path, kwargs):
    path = write_wav(tmp_path / "a.wav", chord_track([[0]], 0.5))
    with pytest.raises(AudioError, match=r"a\.wav: invalid"):
        load_audio(path, **kwargs)


def test_video_without_audio_stream(tmp_path):
    import subprocess

    from visualizer.ffmpeg import ffmpeg_exe

    path = tmp_path / "silent_film.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=32x32:d=0.5"]
        + ["-c:v", "mpeg4", str(path)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(AudioError, match="no audio stream"):
        load_audio(path)
