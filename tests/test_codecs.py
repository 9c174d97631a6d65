"""Every --codec through the real render and ffmpeg: the asked codec and pixel format in the file
at 30 and 30000/1001 fps, the soundtrack in sync within a frame, the container from the output's
suffix (a codec it cannot hold refused in one line), quality and lossless per codec, HAP's
chunks, the one-frame probe, and resume: segments joined by stream copy for every codec."""

from __future__ import annotations

import tomllib
from fractions import Fraction

import numpy as np
import pytest

import visualizer
from tests.fixtures_audio import music_like, write_wav
from tests.render_fixtures import run_cli
from tests.video_fixtures import probe, read_frames, streams
from visualizer.errors import OutputError, RenderError
from visualizer.pipeline.options import RenderOptions
from visualizer.pipeline.render import finish_render, plan_render, render_segments
from visualizer.rendering import codecs, video

# --codec -> (suffix, decoded codec, FourCC or sample entry, profile, decoded pixel format);
# HAP decodes to RGB whatever its texture format: its FourCC tells HAP (DXT1) from HAP Q.
EXPECTED = {
    "h264": (".mp4", "h264", "avc1", "High", "yuv420p"),
    "hevc": (".mp4", "hevc", "hvc1", "Main", "yuv420p"),
    "prores": (".mov", "prores", "apch", "HQ", "yuv422p10le"),
    "dnxhr": (".mov", "dnxhd", "AVdh", "DNXHR HQ", "yuv422p"),
    "hap": (".mov", "hap", "Hap1", None, "rgb0"),
    "hap-q": (".mov", "hap", "HapY", None, "rgb0"),
    "av1": (".mkv", "av1", None, "Main", "yuv420p"),
    "vp9": (".webm", "vp9", None, "Profile 0", "yuv420p"),
}
SIZE = (256, 128)  # DNxHR's smallest frame is 256 x 120; HAP's sides are multiples of 4


# every test here renders with the toy family (`toy_family` in conftest.py)
pytestmark = pytest.mark.usefixtures("toy_family")


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("track") / "song.wav", music_like(1.2, seed=2))


def _options(**changes) -> RenderOptions:
    settings = {"model": "toy-16", "weights": "random", "device": "cpu", "size": SIZE}
    return RenderOptions(**{**settings, **changes})


def test_every_codec_is_offered_once():
    assert set(codecs.CODEC_NAMES) == set(EXPECTED)
    for name in codecs.CODEC_NAMES:
        rows = codecs.auto_encoders(name)
        assert not codecs.CODECS[rows[-1]].hardware  # auto always ends on a software encoder
        assert EXPECTED[name][0] in codecs.containers_for("auto", name)


@pytest.mark.parametrize("fps", [Fraction(30), Fraction(30000, 1001)], ids=["30", "29.97"])
@pytest.mark.parametrize("codec", list(EXPECTED))
def test_a_render_holds_the_asked_codec_in_sync(codec, fps, track, tmp_path):
    suffix, name, tag, profile, pixel_format = EXPECTED[codec]
    out = tmp_path / f"clip{suffix}"
    result = visualizer.render(track, out, **_options(codec=codec, fps=fps).__dict__)
    info = streams(out)
    assert (info["codec"], info["pixel_format"]) == (name, pixel_format), info
    assert info["tag"] == tag and info["profile"] == profile, info
    assert info["audio"] == ("opus" if suffix == ".webm" else "aac")
    facts = probe(out)
    assert (facts["width"], facts["height"]) == SIZE
    assert facts["frames"] == result.n_frames == round(1.2 * fps)
    frame = float(1 / fps)
    assert abs(facts["video_seconds"] - result.n_frames * frame) < frame / 2
    assert abs(facts["audio_seconds"] - facts["video_seconds"]) < frame  # in sync


@pytest.mark.parametrize("codec", list(EXPECTED))
def test_segments_resume_and_join_by_stream_copy_for_every_codec(codec, track, tmp_path):
    """A render killed after some segments, resumed, equals an uninterrupted one frame for
    frame; the segments are joined without re-encoding (the codec is unchanged)."""
    suffix = EXPECTED[codec][0]
    options = _options(codec=codec, fps=Fraction(10), segment_frames=4)
    whole = tmp_path / f"whole{suffix}"
    visualizer.render(track, whole, **options.__dict__)
    out = tmp_path / f"resumed{suffix}"
    first = plan_render(track, out, options)
    assert len(first.segments) == 3
    from visualizer.model.inference import load_generator

    generator = load_generator(options)
    render_segments(first, [0, 2], generator)  # then "killed": segment 1 missing
    resumed = plan_render(track, out, RenderOptions(**{**options.__dict__, "resume": True}))
    assert resumed.pending() == [1]
    render_segments(resumed, None, generator)
    finish_render(resumed)
    assert streams(out)["codec"] == EXPECTED[codec][1]
    assert np.array_equal(read_frames(out), read_frames(whole))


def test_a_container_that_cannot_hold_the_codec_is_refused_in_one_line(track, tmp_path, capsys):
    args = ("--model", "toy-16", "--weights", "random", "-q")
    for codec, suffix, words in (
        ("hap", ".mp4", "a .mp4 file cannot hold hap video (--codec hap): use .mov"),
        ("prores", ".webm", "cannot hold prores video (--codec prores): use .mov or .mkv"),
        ("vp9", ".mov", "a .mov file cannot hold vp9 video"),
        ("h264", ".webm", "a .webm file cannot hold h264 video"),
    ):
        out = tmp_path / f"x{suffix}"
        code, err = run_cli(capsys, "render", track, "-o", out, "--codec", codec, *args)
        assert code == 1 and words in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    code, err = run_cli(capsys, "render", track, "-o", tmp_path / "x.avi", "--codec", "hap", *args)
    assert code == 1 and "unsupported output type '.avi'" in err


def test_quality_and_lossless_are_mapped_per_codec():
    lossless = {c for c in codecs.CODEC_NAMES if c not in ("prores", "dnxhr", "hap", "hap-q")}
    for codec in codecs.CODEC_NAMES:
        if codec in lossless:
            codecs.check_quality(codec, 0)
        else:
            with pytest.raises(RenderError, match=f"{codec} has no lossless mode"):
                codecs.check_quality(codec, 0)
    x265 = codecs.CODECS["libx265"]
    assert "log-level=error:lossless=1" in x265.args(0)
    assert "log-level=error:crf=18" in x265.args(18)
    vp9, av1 = codecs.CODECS["libvpx-vp9"], codecs.CODECS["libsvtav1"]
    assert vp9.args(0)[4:6] == ["-lossless", "1"] and "-crf" in vp9.args(18)
    assert "lossless=1" in av1.args(0) and av1.args(51)[-1] == "63"  # AV1 counts to 63
    prores = codecs.CODECS["prores_ks"]
    profiles = [prores.args(q)[prores.args(q).index("-profile:v") + 1] for q in (1, 18, 28, 38, 51)]
    assert profiles == ["3", "3", "2", "1", "0"]  # HQ, HQ, standard, LT, proxy
    hap = codecs.CODECS["hap"]
    assert hap.args(1) == hap.args(51)  # HAP has no quality scale


def test_hap_is_cut_in_chunks_for_multithreaded_decoding():
    chunks = {
        size: codecs.hap_chunks(*size)[1] for size in ((512, 512), (1920, 1080), (3840, 2160))
    }
    assert chunks == {(512, 512): "1", (1920, 1080): "4", (3840, 2160): "16"}
    args = codecs.CODECS["hap_q"].args(18, size=(1920, 1080))
    assert args[args.index("-chunks") + 1] == "4" and args[args.index("-format") + 1] == "hap_q"


def test_the_one_frame_probe_refuses_a_size_the_encoder_cannot_take(track, tmp_path):
    with pytest.raises(RenderError, match=r"encoder 'hap' cannot encode 100x50 .*multiple of 4"):
        video.resolve_encoder("auto", cuda=False, size=(100, 50), family="hap")
    with pytest.raises(RenderError, match=r"dnxhr.*cannot encode 64x64 .*at least 256x120"):
        video.resolve_encoder("dnxhr", cuda=False, size=(64, 64))
    out = tmp_path / "small.mov"
    with pytest.raises(RenderError, match="at least 256x120"):
        visualizer.render(track, out, **_options(codec="dnxhr", size=(64, 64)).__dict__)
    assert not out.exists()


def test_an_encoder_of_another_codec_is_refused(tmp_path, track):
    with pytest.raises(RenderError, match="--encoder libx264 writes h264, not hevc"):
        codecs.resolve_codec("hevc", "libx264")
    assert codecs.resolve_codec(None, "libx265") == "hevc"  # the encoder names the codec
    with pytest.raises(OutputError, match="unsupported output type .*--encoder libx265"):
        visualizer.render(track, tmp_path / "x.webm", **_options(encoder="libx265").__dict__)


def test_batch_takes_codec_and_loop(track, tmp_path, capsys):
    folder = tmp_path / "videos"
    args = ("--model", "toy-16", "--weights", "random", "--fps", "10", "-q")
    code, err = run_cli(capsys, "batch", track, "-o", folder, "--codec", "hap", "--loop", *args)
    assert code == 0, err
    out = folder / "song.mov"  # the default name takes the codec's container
    assert streams(out)["codec"] == "hap"
    saved = tomllib.loads(out.with_suffix(".preset.toml").read_text())
    assert saved["loop"]["enabled"] is True  # --loop, recorded in the saved preset
    code, err = run_cli(
        capsys, "batch", track, "-o", folder, "--codec", "hap", "--name-template", "{stem}.mp4",
        *args,
    )  # fmt: skip
    assert code == 1 and "cannot hold hap" in err
