"""The model-family seam: a family that is not BigGAN-deep, added as one file
(`tests/toy_family.py`) plus one registry line, renders through the real pipeline and command
line; a family whose inputs the Timeline does not hold is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import visualizer
from tests.fixtures_audio import music_like, write_wav
from tests.render_fixtures import ToyGenerator, run_cli
from tests.toy_family import NARROW, TOY
from tests.video_fixtures import probe
from visualizer.errors import RenderError
from visualizer.model import catalog


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("track") / "song.wav", music_like(1.5, seed=5))


def test_the_catalog_offers_a_registered_family(toy_family):
    assert "toy-16" in catalog.model_names()
    assert catalog.family_of("toy-16") is TOY
    assert catalog.resolution_of("toy-16") == 16
    with pytest.raises(ValueError, match="clashes"):
        catalog.register(TOY)


def test_a_new_family_renders_through_the_pipeline(toy_family, track, tmp_path):
    out, frames = tmp_path / "toy.mp4", tmp_path / "frames"
    result = visualizer.render(
        track, out, model="toy-16", weights="random", fps=10, frames_dir=frames
    )
    info = probe(out)
    assert (info["width"], info["height"]) == (16, 16)
    assert result.n_frames == 15
    # Each PNG is exactly what the family's network gives for that Timeline row.
    timeline = visualizer.make_timeline(track, fps=10)
    network = ToyGenerator(resolution=16, seed=0)
    expected = network.frames_uint8(
        torch.from_numpy(timeline.noise),
        torch.from_numpy(timeline.class_vectors),
        torch.from_numpy(timeline.truncation),
    ).numpy()
    written = sorted(frames.glob("*.png"))
    assert len(written) == 15
    for index in (0, 7, 14):
        assert np.array_equal(np.asarray(Image.open(written[index])), expected[index])


def test_the_command_line_offers_the_family(toy_family, track, tmp_path, capsys):
    out = tmp_path / "cli.mp4"
    code, err = run_cli(
        capsys, "render", track, "-o", out, "--model", "toy-16", "--weights", "random",
        "--fps", "10", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert probe(out)["width"] == 16


def test_a_family_the_timeline_does_not_fit_is_refused(track, tmp_path):
    catalog.register(NARROW)
    try:
        out = tmp_path / "narrow.mp4"
        with pytest.raises(RenderError, match="takes 64 latent values .* Timeline holds 128"):
            visualizer.render(track, out, model="narrow-16", weights="random", fps=10)
        assert not out.exists()
    finally:
        catalog.unregister(NARROW.name)
