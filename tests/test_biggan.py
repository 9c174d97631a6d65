"""The network itself: shapes, ranges, batching invariants, truncation statistics, config and
state-dict validation. Uses tiny random checkpoints (channel_width=8) so it runs in seconds."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from tests.fixtures_biggan import checkpoint_config
from visualizer.errors import VisualizerError, WeightsError
from visualizer.model.network import (
    BigGANConfig,
    BigGANDeep,
    load_state_dict_published,
    published_shapes,
)
from visualizer.model.random_weights import random_state_dict


@pytest.fixture(scope="module")
def tiny_state():
    return random_state_dict(checkpoint_config(128, channel_width=8), seed=3)


def _model(state, hf_compatible=False):
    config = checkpoint_config(128, channel_width=8)
    model = BigGANDeep(config, hf_compatible=hf_compatible)
    return load_state_dict_published(model, state, "tiny").eval()


def _inputs(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 128, generator=gen).clamp(-2, 2) * 0.6
    y = F.softmax(3 * torch.randn(n, 1000, generator=gen), dim=1)
    return z, y


@pytest.fixture(scope="module")
def tiny(tiny_state):
    return _model(tiny_state)


def test_forward_shape_range_and_not_constant(tiny):
    z, y = _inputs(2)
    with torch.inference_mode():
        x = tiny(z, y, torch.tensor([0.4, 1.0]))
    assert x.shape == (2, 3, 128, 128) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert x.min() >= -1 and x.max() <= 1
    assert x.std(dim=(2, 3)).min() > 0.05  # a real picture, not a flat colour
    assert (x[0] - x[1]).abs().mean() > 0.01


def test_batch_equals_frames_one_by_one(tiny):
    z, y = _inputs(3, seed=1)
    t = torch.tensor([0.3, 0.62, 0.9])
    with torch.inference_mode():
        batch = tiny(z, y, t)
        single = torch.cat([tiny(z[i : i + 1], y[i : i + 1], t[i : i + 1]) for i in range(3)])
    # oneDNN picks other conv kernels per batch size; float rounding alone stays far below one
    # uint8 step (7.8e-3).
    torch.testing.assert_close(batch, single, atol=2e-4, rtol=0)


def test_scalar_truncation_equals_tensor(tiny):
    z, y = _inputs(2)
    with torch.inference_mode():
        torch.testing.assert_close(tiny(z, y, 0.5), tiny(z, y, torch.tensor([0.5, 0.5])))


def test_frames_uint8_matches_float_output(tiny):
    z, y = _inputs(2, seed=2)
    with torch.inference_mode():
        x = tiny(z, y, 0.7)
        frames = tiny.frames_uint8(z, y, 0.7)
    assert frames.dtype == torch.uint8 and frames.shape == (2, 128, 128, 3)
    expected = ((x + 1) * 127.5).round().clamp(0, 255).permute(0, 2, 3, 1)
    assert (frames.float() - expected).abs().max() <= 1  # rounding at .5 only


def test_linear_interpolation_is_continuous_and_hf_mode_is_not(tiny_state):
    z, y = _inputs(1, seed=4)
    ours, ref = _model(tiny_state), _model(tiny_state, hf_compatible=True)
    with torch.inference_mode():
        # Just below and above a grid point: linear interpolation barely moves ...
        below, above = ours(z, y, 0.4 - 1e-4), ours(z, y, 0.4 + 1e-4)
        assert (below - above).abs().max() < 0.02
        # ... the reference weighting jumps from (almost) row 21 to row 20 across 0.42 - 0.02.
        jump = (ref(z, y, 0.42 - 1e-4) - ref(z, y, 0.42 + 1e-4)).abs().max()
        assert jump > 10 * (ours(z, y, 0.42 - 1e-4) - ours(z, y, 0.42 + 1e-4)).abs().max()
        # On exact grid rows both agree (0.4 is row 20 in the reference too).
        torch.testing.assert_close(ours(z, y, 0.4), ref(z, y, 0.4), atol=1e-5, rtol=0)


def test_out_of_range_truncation_is_an_error(tiny):
    z, y = _inputs(1)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(VisualizerError, match="truncation"):
            tiny(z, y, bad)


def test_config_for_models_and_json_errors(tmp_path):
    for res in (128, 256, 512):
        config = BigGANConfig.for_model(f"biggan-deep-{res}")
        assert config.resolution == res
        assert len(published_shapes(config)) == {128: 506, 256: 602, 512: 698}[res]
    with pytest.raises(WeightsError, match="biggan-deep-128"):
        BigGANConfig.for_model("biggan-deep-1024")
    good = BigGANConfig().to_dict()
    path = tmp_path / "config.json"
    cases = {
        "transformer_layers": (
            "unknown key 'transformer_layers'",
            {**good, "transformer_layers": 2},
        ),
        "layers": ("'layers'\\[1\\]", {**good, "layers": [[False, 16, 16], [True, 16]]}),
        "output_dim": ("'output_dim'", {**good, "output_dim": 256}),
        "eps": ("'eps'", {**good, "eps": "tiny"}),
    }
    for key, (pattern, data) in cases.items():
        path.write_text(json.dumps(data))
        with pytest.raises(WeightsError, match=pattern) as info:
            BigGANConfig.from_json(path)
        assert str(path) in str(info.value), key
    path.write_text("{not json")
    with pytest.raises(WeightsError, match="JSON"):
        BigGANConfig.from_json(path)


def test_state_dict_errors_name_the_keys(tiny_state):
    config = checkpoint_config(128, channel_width=8)
    missing = dict(tiny_state)
    del missing["generator.layers.3.bn_2.scale.weight_u"]
    with pytest.raises(WeightsError, match=r"src\.bin: missing keys generator\.layers\.3\.bn_2"):
        load_state_dict_published(BigGANDeep(config), missing, "src.bin")
    extra = {**tiny_state, "generator.extra.weight": torch.zeros(1)}
    with pytest.raises(WeightsError, match="unexpected keys generator.extra.weight"):
        load_state_dict_published(BigGANDeep(config), extra, "src.bin")
    wrong = {**tiny_state, "generator.gen_z.bias": torch.zeros(7)}
    with pytest.raises(WeightsError, match=r"wrong shapes: generator\.gen_z\.bias \(7,\)"):
        load_state_dict_published(BigGANDeep(config), wrong, "src.bin")
    # A full-width checkpoint does not fit the tiny architecture.
    wide = dataclasses.replace(config, channel_width=16)
    with pytest.raises(WeightsError, match="wrong shapes"):
        load_state_dict_published(BigGANDeep(wide), tiny_state, "src.bin")


def test_random_weights_are_seeded(tiny_state):
    again = random_state_dict(checkpoint_config(128, channel_width=8), seed=3)
    other = random_state_dict(checkpoint_config(128, channel_width=8), seed=4)
    key = "generator.layers.5.conv_1.weight_orig"
    assert torch.equal(again[key], tiny_state[key])
    assert not torch.equal(other[key], tiny_state[key])
    assert "generator.gen_z" in tiny_state._metadata


def test_bf16_on_cpu_stays_finite_and_close(tiny_state):
    from visualizer.model.loading import prepare_for_inference

    z, y = _inputs(2, seed=6)
    fp32 = _model(tiny_state)
    half = prepare_for_inference(_model(tiny_state), "cpu", precision="bf16")
    assert half.gen_z.weight.dtype == torch.bfloat16
    assert half.cond_affine.weight.dtype == torch.float32  # BN coefficients stay fp32
    with torch.inference_mode():
        expected, got = fp32(z, y, torch.tensor([0.3, 0.9])), half(z, y, torch.tensor([0.3, 0.9]))
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    # Reference figure for bf16 on random weights: mean |d| ~0.05 (max ~0.4).
    assert (got - expected).abs().mean() < 0.08
    with pytest.raises(VisualizerError, match="unknown precision 'fp8'"):
        prepare_for_inference(fp32, "cpu", precision="fp8")


def test_prepare_without_device_keeps_the_models_device(tiny_state):
    from visualizer.model.loading import prepare_for_inference

    model = prepare_for_inference(_model(tiny_state), precision="fp32")
    assert model.device.type == "cpu" and model.gen_z.weight.dtype == torch.float32


def test_synthesize_compiles_as_one_graph(tiny):
    """Truncation reaches the compiled part as tensors only: one graph, no breaks."""
    z, y = _inputs(1)
    with torch.inference_mode():
        cond, a, b = tiny.coefficients(z, y, 0.5)
        explanation = torch._dynamo.explain(tiny.synthesize)(cond, a, b)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


def test_eager_reference_matches(tiny_state):
    from visualizer.bench.generator import EagerReference

    config = checkpoint_config(128, channel_width=8)
    reference = EagerReference(config, tiny_state)
    ours = _model(tiny_state, hf_compatible=True)
    z, y = _inputs(2, seed=8)
    with torch.inference_mode():
        for t in (0.3, 0.58):
            diff = (reference(z, y, t) - ours(z, y, torch.full((2,), t))).abs().max()
            assert diff < 1e-3


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_matches_cpu_fp32_over_a_sweep(tiny_state):
    """Tolerance: fp16 vs fp32 on random weights measured mean |d| ~0.007, max ~0.06."""
    from visualizer.model.loading import prepare_for_inference

    cpu = _model(tiny_state)
    gpu = prepare_for_inference(_model(tiny_state), "cuda", precision="fp16")
    gen = torch.Generator().manual_seed(0)
    for t in (0.05, 0.3, 0.58, 1.0):
        z = torch.randn(4, 128, generator=gen).clamp(-2, 2) * t
        y = F.one_hot(torch.randint(1000, (4,), generator=gen), 1000).float()
        with torch.inference_mode():
            expected = cpu(z, y, t)
            got = gpu(z, y, torch.full((4,), t)).cpu()
        assert torch.isfinite(got).all()
        assert (got - expected).abs().mean() < 0.02 and (got - expected).abs().max() < 0.25
        frames = gpu.frames_uint8(z, y, t)
        assert frames.device.type == "cuda" and frames.dtype == torch.uint8


def test_compiled_generator_gets_full_batches_and_partial_ones_are_trimmed(tiny_state):
    """A compiled generator (``compile_mode`` set) never sees a new batch shape."""
    import dataclasses
    from fractions import Fraction

    import numpy as np

    from visualizer.mapping.timeline import Timeline
    from visualizer.model.inference import wrap
    from visualizer.rendering import frames as render

    gen = np.random.default_rng(0)
    classes = np.zeros((7, 1000), np.float32)
    classes[np.arange(7), gen.integers(1000, size=7)] = 1.0
    noise = (gen.standard_normal((7, 128)) * 0.4).astype(np.float32)
    timeline = Timeline(classes, noise, np.linspace(0.2, 1.0, 7, dtype=np.float32), Fraction(10), 0)
    model = _model(tiny_state)
    eager_generator = wrap(model, batch_size=3)
    eager = [f for _, f in render.generate(eager_generator, timeline, 0, 7)]
    shapes = []

    def recording(cond, a, b):
        shapes.append((cond.shape[0], a.shape[0], b.shape[0]))
        return model.synthesize(cond, a, b)

    # What load_generator returns when it compiles, with `recording` as the compiled body.
    compiled = dataclasses.replace(eager_generator, compile_mode="default", synthesize=recording)
    padded = list(render.generate(compiled, timeline, 0, 7))
    assert shapes == [(3, 3, 3)] * 3
    assert [first for first, _ in padded] == [0, 3, 6]
    assert [len(f) for _, f in padded] == [3, 3, 1]
    # Same frames up to batch-size rounding (a uint8 step at most).
    assert (torch.cat([f for _, f in padded]).int() - torch.cat(eager).int()).abs().max() <= 1


def test_compile_modes_resolve_per_device_and_set_the_kernel_cache(
    tiny_state, tmp_path, monkeypatch
):
    import os

    from visualizer.model.loading import compile_synthesize, resolve_compile

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_compile("auto", cpu) is None and resolve_compile("off", cuda) is None
    assert resolve_compile("auto", cuda) == "reduce-overhead"
    assert resolve_compile(True, cpu) == "default" and resolve_compile(False, cuda) is None
    assert resolve_compile("max-autotune", cpu) == "max-autotune"
    with pytest.raises(VisualizerError, match="unknown compile mode 'fast'"):
        resolve_compile("fast", cpu)
    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "")
    eager = _model(tiny_state)
    assert compile_synthesize(eager, resolve_compile("auto", cpu)) is None
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == ""  # nothing compiled: nothing set
    model = _model(tiny_state)
    compiled = compile_synthesize(model, resolve_compile("default", cpu))
    assert callable(compiled) and "synthesize" not in vars(model)  # wrapped lazily, not patched
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    compile_synthesize(_model(tiny_state), "reduce-overhead")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")  # the user's wins
