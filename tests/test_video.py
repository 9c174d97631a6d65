"""The video layer: segment encoder, exact frame rates, size/fit, concat + audio mux, errors."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.fixtures_audio import write_wav
from tests.video_fixtures import probe, read_frames
from visualizer.errors import OutputError, RenderError
from visualizer.rendering import codecs, video
from visualizer.rendering.codecs import check_output_suffix


def _frames(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _segment(path, frames, fps=Fraction(12), **kwargs):
    writer = video.SegmentWriter(path, resolution=frames.shape[1], fps=fps, **kwargs)
    writer.write(frames)
    return writer.close()


def test_parse_size_accepts_even_sizes_and_rejects_odd_or_malformed():
    assert video.parse_size("1920x1080") == (1920, 1080)
    assert video.parse_size(" 64X36 ") == (64, 36)
    for bad in ("1921x1080", "1920x1081", "1920", "x", "axb", "8x8", "100000x100"):
        with pytest.raises(RenderError, match="size"):
            video.parse_size(bad)


def test_output_suffix_must_be_a_video_container(tmp_path):
    check_output_suffix(tmp_path / "a.mp4")
    with pytest.raises(OutputError, match="'.gif'"):
        check_output_suffix(tmp_path / "a.gif")


def test_unknown_encoder_and_fit_are_errors():
    assert video.resolve_encoder("auto", cuda=False) == "libx264"
    with pytest.raises(RenderError, match="x265"):
        video.resolve_encoder("x265", cuda=False)
    with pytest.raises(RenderError, match="stretch"):
        video.fit_filter(32, (64, 36), "stretch")


@pytest.mark.parametrize("fps", [Fraction(12), Fraction(30000, 1001), Fraction(25, 2)])
def test_segments_concat_to_exact_frame_count_and_duration(tmp_path, fps):
    frames = _frames(23)
    paths = [
        _segment(tmp_path / f"s{i}.mp4", frames[a:b], fps)
        for i, (a, b) in enumerate([(0, 10), (10, 20), (20, 23)])
    ]
    out = tmp_path / "out.mp4"
    video.concat_and_mux(paths, out, audio=None)
    info = probe(out)
    assert info["frames"] == 23
    assert info["audio_seconds"] is None
    assert abs(info["video_seconds"] - 23 / fps) < 0.5 / fps


def test_concatenated_segments_decode_like_one_encode(tmp_path):
    # Segments joined with -c copy hold the same pictures as the frames they were fed
    # (lossless quality 0 makes the comparison exact up to yuv420p rounding).
    frames = np.repeat(np.repeat(_frames(6, 8), 4, 1), 4, 2)  # smooth 32 px blocks
    paths = [
        _segment(tmp_path / "a.mp4", frames[:3], quality=0),
        _segment(tmp_path / "b.mp4", frames[3:], quality=0),
    ]
    out = tmp_path / "out.mp4"
    video.concat_and_mux(paths, out, audio=None)
    decoded = read_frames(out)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 8


def test_audio_is_muxed_from_the_original_file_and_trimmed(tmp_path):
    sr = 44100
    t = np.arange(int(sr * 3.0)) / sr
    track = write_wav(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * t), sr)
    seg = _segment(tmp_path / "s.mp4", _frames(12))  # 1 s at 12 fps
    out = tmp_path / "out.mp4"
    video.concat_and_mux([seg], out, audio=track, audio_start=1.0, audio_duration=1.0)
    info = probe(out)
    assert info["frames"] == 12
    assert info["audio_seconds"] == pytest.approx(1.0, abs=1 / 12)


@pytest.mark.parametrize(
    ("fit", "size"),
    [("pad", (64, 36)), ("crop", (64, 36)), ("mirror", (96, 32)), ("mirror", (32, 64))],
)
def test_size_and_fit_make_non_square_output(tmp_path, fit, size):
    frames = np.full((2, 32, 32, 3), 200, np.uint8)
    out = _segment(tmp_path / "s.mp4", frames, size=size, fit=fit)
    decoded = read_frames(out)
    assert decoded.shape == (2, size[1], size[0], 3)
    corner = decoded[0, 0, 0].astype(int)
    if fit == "pad":
        assert corner.max() < 40  # letterbox bars are black
    else:
        assert corner.min() > 150  # crop and mirror fill the whole frame


def test_writer_rejects_wrong_frame_shape_and_abort_leaves_nothing(tmp_path):
    writer = video.SegmentWriter(tmp_path / "s.mp4", resolution=32, fps=Fraction(12))
    with pytest.raises(ValueError, match="uint8"):
        writer.write(np.zeros((1, 16, 16, 3), np.uint8))
    writer.write(_frames(2))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_mux_failure_is_a_render_error_and_leaves_no_output(tmp_path):
    seg = _segment(tmp_path / "s.mp4", _frames(3))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really audio")
    out = tmp_path / "out.mp4"
    with pytest.raises(RenderError, match="muxing failed"):
        video.concat_and_mux([seg], out, audio=broken, audio_duration=1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.wav", "s.mp4"]


def test_the_codec_table_drives_choices_containers_and_arguments():
    """One row per --encoder: the CLI's choices, the containers and the arguments all read it."""
    assert ("auto", *codecs.CODECS) == codecs.ENCODERS
    assert tuple(codecs.CONTAINERS) == codecs.VIDEO_SUFFIXES
    assert codecs.containers_for("auto") == (".mp4", ".mov", ".mkv")  # H.264's, the default
    for row in codecs.CODECS.values():
        assert video.encoder_args(row.name, 18)[:2] == ["-c:v", row.ffmpeg]
        assert row.args(0) != row.args(18) or not row.lossless  # quality 0 asks for lossless
        assert set(row.containers) <= set(codecs.CONTAINERS)
    with pytest.raises(RenderError, match="unknown encoder 'x265': expected one of auto, libx264"):
        codecs.codec("x265")


def test_a_new_codec_row_is_offered_and_its_containers_are_enforced(tmp_path, monkeypatch):
    """A row names the containers that hold it; ffmpeg decides whether its encoder exists."""
    row = codecs.Codec("toy_ffv1", "ffv1", lambda q: [], "yuv420p", (".mkv",), intra_only=True)
    monkeypatch.setitem(codecs.CODECS, row.name, row)
    check_output_suffix(tmp_path / "a.mkv", "toy_ffv1")
    with pytest.raises(OutputError, match=r"'.mp4' for a.mp4 for --encoder toy_ffv1: .*\.mkv$"):
        check_output_suffix(tmp_path / "a.mp4", "toy_ffv1")
    assert video.resolve_encoder("toy_ffv1", cuda=False) == "toy_ffv1"  # ffmpeg lists ffv1
    path = _segment(tmp_path / "s.mkv", _frames(5), encoder="toy_ffv1")  # a Matroska segment
    assert probe(path)["frames"] == 5
    missing = codecs.Codec("toy_missing", "no_such_encoder", lambda q: [], "yuv420p", (".mp4",))
    monkeypatch.setitem(codecs.CODECS, missing.name, missing)
    with pytest.raises(RenderError, match="'toy_missing' is not available in this ffmpeg build"):
        video.resolve_encoder("toy_missing", cuda=False)
