"""Bit-compatibility with the reference package (`pytorch-pretrained-biggan`, test-only): the same
random checkpoint in the published format, loaded by both, gives the same images (eval mode,
``hf_compatible=True``), at 128 and 256 px, for truncations on the 0.02 grid - including the
values the package's float rounding sends to the wrong row (0.14, 0.28, 0.58)."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures_biggan import write_checkpoint
from visualizer.model.loading import load_network
from visualizer.model.network import BigGANDeep

reference = pytest.importorskip("pytorch_pretrained_biggan")

TOLERANCE = 1e-3  # max abs difference on the [-1, 1] output; measured ~2e-5 at 128 px


def _pair(folder):
    ref = reference.BigGAN.from_pretrained(str(folder)).eval()
    ours = load_network("biggan-deep-128", folder, hf_compatible=True)
    return folder, ref, ours


def _inputs(n, seed):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 128, generator=gen).clamp(-2, 2)
    y = torch.softmax(4 * torch.randn(n, 1000, generator=gen), dim=1)
    return z, y


@pytest.fixture(scope="module")
def pair128(tmp_path_factory):
    return _pair(write_checkpoint(tmp_path_factory.mktemp("ref128"), 128, seed=11))


@pytest.mark.parametrize("truncation", [0.02, 0.14, 0.28, 0.4, 0.58, 0.94, 1.0])
def test_matches_reference_at_128(pair128, truncation):
    _, ref, ours = pair128
    z, y = _inputs(1, seed=int(truncation * 100))
    z = z * truncation  # as truncated_noise_sample does
    with torch.inference_mode():
        expected = ref(z, y, truncation)
        got = ours(z, y, torch.tensor([truncation]))
    assert expected.abs().max() > 0.1 and torch.isfinite(got).all()
    assert (got - expected).abs().max().item() <= TOLERANCE


def test_mixed_truncations_in_one_batch_equal_separate_reference_calls(pair128):
    _, ref, ours = pair128
    truncations = [0.58, 0.3]
    z, y = _inputs(2, seed=5)
    with torch.inference_mode():
        got = ours(z, y, torch.tensor(truncations, dtype=torch.float64))
        for i, t in enumerate(truncations):
            expected = ref(z[i : i + 1], y[i : i + 1], t)
            assert (got[i : i + 1] - expected).abs().max().item() <= TOLERANCE


def test_default_mode_differs_from_reference_only_off_grid(pair128):
    """Correct interpolation agrees with the package on exact rows and departs where the package
    swaps the weights (0.59 is 50/50 in both: same; 0.585 is not)."""
    _, ref, ours_hf = pair128
    z, y = _inputs(1, seed=9)
    ours = BigGANDeep(ours_hf.config)  # same weights, default (linear) interpolation
    ours.load_state_dict(ours_hf.state_dict())
    with torch.inference_mode():
        same = (ours(z, y, 0.59) - ref(z, y, 0.59)).abs().max().item()
        apart = (ours(z, y, 0.585) - ref(z, y, 0.585)).abs().max().item()
    assert same <= TOLERANCE
    assert apart > 10 * TOLERANCE


@pytest.mark.slow
def test_matches_reference_at_256(tmp_path_factory):
    _, ref, ours = _pair(write_checkpoint(tmp_path_factory.mktemp("ref256"), 256, seed=12))
    assert ours.resolution == 256
    z, y = _inputs(1, seed=3)
    for truncation in (0.28, 1.0):
        with torch.inference_mode():
            expected = ref(z * truncation, y, truncation)
            got = ours(z * truncation, y, torch.full((1,), truncation))
        assert (got - expected).abs().max().item() <= TOLERANCE
