"""Learned upscaling (`--upscale`): the two architectures in the published files' layouts and
against spandrel's implementations, every file format, the verified download over loopback, the
render hook (frames enlarged on the generator's device before --size/--fit), and refusals in
one line."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

import visualizer
from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import WeightsServer, write_checkpoint
from tests.render_fixtures import ToyGenerator, run_cli
from tests.upscale_fixtures import (
    KEY_COUNTS,
    PUBLISHED_LAYOUTS,
    random_module,
    save_published,
    spandrel_architectures,
    tiny_compact,
    tiny_rrdb,
)
from tests.video_fixtures import probe
from visualizer import downloads
from visualizer.errors import DownloadError, WeightsError
from visualizer.model import upscale_loading, upscaler
from visualizer.model.inference import load_generator
from visualizer.model.upscale_loading import build_upscaler, load_upscaler, read_upscaler
from visualizer.model.upscale_rrdb import RRDBUpscaler
from visualizer.model.upscale_srvgg import CompactUpscaler
from visualizer.pipeline.options import RenderOptions

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("track") / "song.wav", music_like(1.0, seed=5))


def _frames(count: int = 3, side: int = 16, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (count, side, side, 3), dtype=np.uint8))


# ------------------------------------------------------------------ the published layouts


@pytest.mark.parametrize("name", list(PUBLISHED_LAYOUTS))
def test_random_weights_in_the_published_format_load_as_published(name, tmp_path):
    (cls, arguments), wrapper, parameters, shapes = PUBLISHED_LAYOUTS[name]
    module = random_module(cls, arguments)
    state = module.state_dict()
    assert len(state) == KEY_COUNTS[name]
    assert {k: tuple(state[k].shape) for k in shapes} == shapes
    assert sum(v.numel() for v in state.values()) == parameters
    row = upscaler.PUBLISHED[name]
    # float32 parameters fill the release file, less its container's bookkeeping (< 1 %)
    assert 0 < row.remote.size - 4 * parameters < row.remote.size // 100
    if name == "realesrgan-x2plus":  # the same file as x4plus but for conv_first: no second 67 MB
        loaded = build_upscaler(state, name)
    else:
        loaded = read_upscaler(save_published(module, tmp_path / row.remote.filename, wrapper))
    assert (loaded.architecture.name, loaded.scale) == (row.architecture, row.scale)
    assert dict(loaded.hyperparameters) == arguments
    out = loaded(_frames(1, 8))
    assert out.shape == (1, 8 * row.scale, 8 * row.scale, 3) and out.dtype == torch.uint8


SPANDREL_CASES = {
    "compact published": (CompactUpscaler, PUBLISHED_LAYOUTS["realesr-general-x4v3"][0][1]),
    "compact x2": (CompactUpscaler, {"features": 16, "convs": 3, "scale": 2}),
    # spandrel reads the growth as 32, as every published RRDBNet has it
    "rrdb x4": (RRDBUpscaler, {"features": 16, "growth": 32, "blocks": 2, "scale": 4}),
    "rrdb x2": (RRDBUpscaler, {"features": 16, "growth": 32, "blocks": 2, "scale": 2}),
}


@pytest.mark.parametrize("case", list(SPANDREL_CASES))
def test_ours_compute_what_spandrel_computes(case):
    """spandrel (MIT) recognises these layouts itself; on the same weights its networks and
    ours give the same pictures (RRDBNet with fewer blocks than published, to stay fast: the
    published layout is the test above's)."""
    architectures = spandrel_architectures()
    if architectures is None:
        pytest.skip("spandrel is not installed (.ci/run installs it: pip install --no-deps)")
    cls, arguments = SPANDREL_CASES[case]
    ours = random_module(cls, arguments, seed=1)
    theirs = architectures["srvgg" if cls is CompactUpscaler else "rrdb"].load(ours.state_dict())
    scale = arguments["scale"]
    assert theirs.scale == scale
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = theirs.model.eval()(x)
        actual = ours(x)
    assert actual.shape == expected.shape == (2, 3, 12 * scale, 12 * scale)
    assert torch.allclose(actual, expected, atol=1e-5)


# ---------------------------------------------------------------- running on frame batches


def test_a_compact_net_with_zero_weights_is_nearest_neighbour(tmp_path):
    """The compact net learns a residual over the nearest-neighbour enlargement: with every
    weight zero it is exactly that enlargement, through the uint8 round trip."""
    path = tiny_compact(tmp_path / "zero.pth", scale=4, gain=0.0)
    frames = _frames()
    expected = frames.repeat_interleave(4, 1).repeat_interleave(4, 2)
    assert torch.equal(read_upscaler(path)(frames), expected)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("make", [tiny_compact, tiny_rrdb])
def test_output_shape_range_and_chunks(make, scale, tmp_path, monkeypatch):
    loaded = read_upscaler(make(tmp_path / "up.pth", scale=scale))
    frames = _frames(5)
    out = loaded(frames)
    assert out.shape == (5, 16 * scale, 16 * scale, 3) and out.dtype == torch.uint8
    assert out.is_contiguous()
    # One frame per call gives the same frames as one call for all.
    monkeypatch.setattr(upscale_loading, "CPU_CHUNK_BYTES", 1)
    assert loaded.chunk(16) == 1
    assert torch.equal(loaded(frames), out)


def test_outputs_beyond_the_picture_range_are_clamped(tmp_path):
    loud = read_upscaler(tiny_compact(tmp_path / "loud.pth", gain=40.0))
    out = loud(_frames()).numpy()
    assert out.min() == 0 and out.max() == 255


def test_every_file_format_loads_alike(tmp_path):
    module = random_module(CompactUpscaler, {"features": 8, "convs": 1, "scale": 2})
    frames = _frames()
    results = [
        read_upscaler(save_published(module, tmp_path / name, wrapper))(frames)
        for name, wrapper in (
            ("params.pth", "params"),
            ("ema.pth", "params_ema"),
            ("plain.pt", None),
            ("plain.safetensors", None),
        )
    ]
    assert all(torch.equal(results[0], other) for other in results[1:])


def test_the_ema_weights_win_over_params(tmp_path):
    a = random_module(CompactUpscaler, {"features": 8, "convs": 1, "scale": 2}, seed=1)
    b = random_module(CompactUpscaler, {"features": 8, "convs": 1, "scale": 2}, seed=2)
    both = tmp_path / "both.pth"
    torch.save({"params": a.state_dict(), "params_ema": b.state_dict()}, both)
    ema = save_published(b, tmp_path / "ema.pth", "params_ema")
    assert torch.equal(read_upscaler(both)(_frames()), read_upscaler(ema)(_frames()))


# ----------------------------------------------------------------------------- refusals


def test_a_file_of_another_architecture_is_refused_in_one_line(tmp_path):
    folder = write_checkpoint(tmp_path / "biggan", channel_width=8)
    with pytest.raises(WeightsError, match="not an upscaler this tool knows") as error:
        read_upscaler(folder / "pytorch_model.bin")
    assert "\n" not in str(error.value) and "SRVGGNetCompact" in str(error.value)


def test_misshapen_and_missing_weights_are_named(tmp_path):
    state = random_module(RRDBUpscaler, {"features": 8, "growth": 4, "blocks": 2}).state_dict()
    state["conv_hr.weight"] = torch.zeros(8, 8, 1, 1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match=r"misshapen RRDBNet weights: conv_hr.weight"):
        read_upscaler(tmp_path / "bad.pth")
    del state["conv_hr.weight"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(WeightsError, match=r"missing RRDBNet weights: conv_hr.weight"):
        read_upscaler(tmp_path / "short.pth")


def test_unsafe_nonfinite_and_unknown_inputs_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this would run",))

    (tmp_path / "code.pth").write_bytes(pickle.dumps({"params": Payload()}))
    with pytest.raises(WeightsError, match="not a PyTorch checkpoint|could run code"):
        read_upscaler(tmp_path / "code.pth")
    state = random_module(CompactUpscaler, {"features": 8, "convs": 1, "scale": 2}).state_dict()
    state["body.0.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(WeightsError, match="non-finite"):
        read_upscaler(tmp_path / "nan.pth")
    with pytest.raises(WeightsError, match="unknown upscaler 'x4'.*realesr-general-x4v3"):
        upscaler.check_upscale_spec("x4")
    with pytest.raises(WeightsError, match="upscaler weights not found: .*missing.pth"):
        upscaler.check_upscale_spec(str(tmp_path / "missing.pth"))


def test_the_command_line_refuses_a_wrong_file_in_one_line(track, tmp_path, capsys):
    folder = write_checkpoint(tmp_path / "biggan", channel_width=8)
    out = tmp_path / "out.mp4"
    code, err = run_cli(
        capsys, "render", track, "-o", out, "--weights", "random", "--device", "cpu",
        "--upscale", folder / "pytorch_model.bin", "--fps", "10", "-q",
    )  # fmt: skip
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "not an upscaler this tool knows" in lines[0], err
    assert not out.exists() and not list(tmp_path.glob(".out.mp4*"))


# ---------------------------------------------------------------------------- downloads


def _row(url: str, data: bytes, scale: int = 2) -> upscaler.PublishedUpscaler:
    remote = downloads.RemoteFile(
        name="tiny-upscaler", filename="tiny.pth", urls=(f"{url}tiny.pth",), size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), what="upscaler weights",
    )  # fmt: skip
    return upscaler.PublishedUpscaler("tiny-x2", "srvgg", scale, remote, "test weights")


def test_a_published_upscaler_downloads_verified_once(tmp_path, monkeypatch):
    data = tiny_compact(tmp_path / "tiny.pth").read_bytes()
    with WeightsServer({"tiny.pth": data}) as server:
        monkeypatch.setitem(upscaler.PUBLISHED, "tiny-x2", _row(server.url, data))
        loaded = load_upscaler("tiny-x2", device=CPU)
        assert load_upscaler("tiny-x2", device=CPU).scale == 2  # from the cache
        assert len(server.requests) == 1
    assert (loaded.name, loaded.scale, loaded.architecture.name) == ("tiny-x2", 2, "srvgg")
    assert upscaler.PUBLISHED["tiny-x2"].remote.path().read_bytes() == data


def test_a_download_of_the_wrong_network_is_not_kept(tmp_path, monkeypatch):
    data = tiny_rrdb(tmp_path / "tiny.pth", scale=2).read_bytes()  # an RRDBNet, not SRVGG
    with WeightsServer({"tiny.pth": data}) as server:
        row = _row(server.url, data)
        monkeypatch.setitem(upscaler.PUBLISHED, "tiny-x2", row)
        with pytest.raises(DownloadError, match="RRDBNet x2, not the SRVGGNetCompact x2"):
            load_upscaler("tiny-x2", device=CPU)
    assert not row.remote.path().exists()


def test_models_download_fetches_an_upscaler(tmp_path, monkeypatch, capsys):
    data = tiny_compact(tmp_path / "tiny.pth").read_bytes()
    with WeightsServer({"tiny.pth": data}) as server:
        row = _row("http://127.0.0.1:9/", data)  # nothing listens there: the mirror serves
        monkeypatch.setitem(upscaler.PUBLISHED, "tiny-x2", row)
        code, err = run_cli(capsys, "models", "download", "tiny-x2", "--base-url", server.url)
        assert code == 0, err
    assert row.remote.path().read_bytes() == data
    from visualizer.cli import main

    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    assert "realesrgan-x4plus" in listed and str(row.remote.path()) in listed


# ----------------------------------------------------------------------------- rendering


def test_the_generator_upscales_on_its_device(toy_family, tmp_path):
    path = tiny_compact(tmp_path / "up.pth", scale=2)
    settings = RenderOptions(model="toy-16", weights="random", device="cpu", upscale=str(path))
    generator = load_generator(settings)
    assert generator.resolution == 32
    z, y = torch.zeros(2, 128), torch.zeros(2, 1000)
    frames = generator.frames(z, y, torch.full((2,), 0.5))
    expected = read_upscaler(path)(ToyGenerator(16).frames_uint8(z, y, torch.full((2,), 0.5)))
    assert torch.equal(frames, expected)


def test_a_render_upscales_before_size_and_fit(toy_family, track, tmp_path):
    path = tiny_compact(tmp_path / "up.pth", scale=2)
    out, pngs = tmp_path / "up.mp4", tmp_path / "frames"
    visualizer.render(
        track, out, model="toy-16", weights="random", fps=10, upscale=str(path), frames_dir=pngs
    )
    assert (probe(out)["width"], probe(out)["height"]) == (32, 32)
    timeline = visualizer.make_timeline(track, fps=10)
    rows = [torch.from_numpy(a[:3]) for a in (timeline.noise, timeline.class_vectors)]
    raw = ToyGenerator(16).frames_uint8(*rows, torch.from_numpy(timeline.truncation[:3]))
    expected = read_upscaler(path)(raw).numpy()
    written = sorted(pngs.glob("*.png"))[:3]
    assert all(
        np.array_equal(np.asarray(Image.open(p)), e) for p, e in zip(written, expected, strict=True)
    )
    wide = tmp_path / "wide.mp4"
    visualizer.render(
        track, wide, model="toy-16", weights="random", fps=10, upscale=str(path), size="64x32"
    )
    assert (probe(wide)["width"], probe(wide)["height"]) == (64, 32)


def test_the_command_line_upscales_and_never_overwrites_the_weights(
    toy_family, track, tmp_path, capsys
):
    # weights under a video's name: the output checks must still know them for an input
    path = tiny_compact(tmp_path / "weights.mp4", scale=2)
    out = tmp_path / "cli.mp4"
    args = ("--model", "toy-16", "--weights", "random", "--fps", "10", "-q")
    code, err = run_cli(capsys, "render", track, "-o", out, "--upscale", path, *args)
    assert code == 0, err
    assert probe(out)["width"] == 32
    before = path.read_bytes()
    code, err = run_cli(
        capsys, "render", track, "-o", path, "--upscale", path, *args, "--overwrite"
    )
    assert code == 1 and len(err.strip().splitlines()) == 1 and "input" in err, err
    assert path.read_bytes() == before


def test_batch_and_preview_take_upscale(toy_family, track, tmp_path, capsys):
    path = tiny_compact(tmp_path / "up.pth", scale=2)
    common = ("--model", "toy-16", "--weights", "random", "--upscale", path, "--fps", "10", "-q")
    code, err = run_cli(capsys, "batch", track, "-o", tmp_path / "videos", *common)
    assert code == 0, err
    (video,) = (tmp_path / "videos").glob("*.mp4")
    assert probe(video)["width"] == 32
    sheet = tmp_path / "sheet.png"
    code, err = run_cli(capsys, "preview", track, "-o", sheet, "--frames", "2", *common)
    assert code == 0, err
    plain = tmp_path / "plain.png"
    code, err = run_cli(capsys, "preview", track, "-o", plain, "--frames", "2", *common[:4], "-q")
    assert code == 0, err
    assert Image.open(sheet).width > Image.open(plain).width  # 32 px tiles, not 16


def test_live_takes_upscale(toy_family, track, tmp_path):
    from visualizer.cli import get_parser
    from visualizer.commands.live import options_from_args

    path = tiny_compact(tmp_path / "up.pth", scale=2)
    argv = ["live", "--audio", str(track), "--upscale", str(path), "--model", "toy-16"]
    args = get_parser().parse_args(argv)
    options = options_from_args(args)
    assert options.upscale == str(path)
    generator = load_generator(dataclasses.replace(options, weights="random", device="cpu"))
    assert generator.resolution == 32
