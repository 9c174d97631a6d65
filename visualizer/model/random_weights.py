"""Seeded random BigGAN-deep weights in the published checkpoint format.

This module owns `random_state_dict` and its helpers: the stand-in checkpoint that tests,
benchmarks and ``--weights random`` load through the same path as the real published files
(`visualizer.model.network.load_state_dict_published`). It imports the network module;
the network does not import it back.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from visualizer.memory import release_free_memory
from visualizer.model.network import (
    BigGANConfig,
    BigGANDeep,
    GenBlock,
    bn_relu,
    load_state_dict_published,
    published_shapes,
)


def random_state_dict(config: BigGANConfig, seed: int = 0) -> OrderedDict[str, Tensor]:
    """Seeded random weights in the PUBLISHED key format, safe to run in eval mode.

    Spectral-norm ``u``/``v`` are converged by power iteration (fresh ones make sigma tiny and the
    network explode), the 51-row BN statistics are calibrated on a small batch so activations stay
    O(1) and vary smoothly with the row (so interpolation is exercised), and the final BN affine is
    initialised (the package leaves it as uninitialised memory). The dict carries ``_metadata``
    like a state dict saved from the package.
    """
    state, gen = _uncalibrated_state(config, seed)
    model = load_state_dict_published(BigGANDeep(config), state, "random weights")
    _calibrate_statistics(model, state, gen)
    del model
    state._metadata = _metadata(published_shapes(config))  # type: ignore[attr-defined]
    return state


def random_generator(
    config: BigGANConfig, seed: int = 0, hf_compatible: bool = False
) -> BigGANDeep:
    """A `BigGANDeep` holding exactly the folded `random_state_dict` (config, seed) weights.

    Cheaper than folding `random_state_dict` into a new model: the model that measures the BN
    statistics is the one returned, and the published weights are dropped once folded, before
    the calibration's forward pass, so its activations never coexist with them (128 px load peak:
    1188 -> ~700 MiB). ``hf_compatible`` only changes how truncation rows are interpolated at
    run time, never the calibration.
    """
    state, gen = _uncalibrated_state(config, seed)
    model = load_state_dict_published(BigGANDeep(config, hf_compatible), state, "random weights")
    del state
    # Hand the published weights' freed pages back before the calibration's activations are
    # allocated beside them (-84 MiB at the 512 px load peak).
    release_free_memory()
    tables: dict[str, Tensor] = {}
    _calibrate_statistics(model, tables, gen)
    _write_statistics(model, tables)
    return model


@torch.no_grad()
def _write_statistics(model: BigGANDeep, tables: Mapping[str, Tensor]) -> None:
    """Copy published-format BN tables (running_means/_vars, (n_stats, C)) into ``model``,
    in the order `load_state_dict_published` lays them out."""
    prefixes = _bn_prefixes(model)
    for buffer, name in ((model.bn_means, "running_means"), (model.bn_vars, "running_vars")):
        buffer.copy_(torch.cat([tables[f"{p}.{name}"] for p in prefixes], dim=1))


def _uncalibrated_state(
    config: BigGANConfig, seed: int
) -> tuple[OrderedDict[str, Tensor], torch.Generator]:
    """Every published key drawn from a generator seeded with ``seed``; BN tables still 0/1."""
    config.validate("random weights")
    gen = torch.Generator().manual_seed(seed)
    state: OrderedDict[str, Tensor] = OrderedDict()
    for key, shape in published_shapes(config).items():
        if key.endswith(".weight_orig"):
            prefix = key[: -len(".weight_orig")]
            state[key], u, v = _spiked_weight(shape, gen)
            state[f"{prefix}.weight_u"], state[f"{prefix}.weight_v"] = u, v
        elif key.endswith((".weight_u", ".weight_v")):
            pass  # set with their weight_orig, just above in the key order
        elif key == "embeddings.weight":
            fan_in = math.prod(shape[1:])
            state[key] = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
        elif key.endswith(".bias") and key != "generator.bn.bias":
            state[key] = 0.02 * torch.randn(shape, generator=gen)
        elif key.endswith("running_vars") or key == "generator.bn.weight":
            state[key] = torch.ones(shape)
        elif key.endswith(".gamma"):
            state[key] = torch.full(shape, 0.5)
        else:  # running_means, u/v (set below), generator.bn.bias
            state[key] = torch.zeros(shape)
    return state, gen


def _spiked_weight(shape: tuple[int, ...], gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """A random weight with a planted top singular pair, and its converged ``u``, ``v``.

    The spike (twice the bulk's largest singular value) makes power iteration converge in a few
    steps even for the 32768 x 256 ``gen_z`` matrix, where a plain Gaussian needs hundreds.
    """
    out, fan_in = shape[0], math.prod(shape[1:])
    w = torch.randn(out, fan_in, generator=gen) / math.sqrt(fan_in)
    a = F.normalize(torch.randn(out, generator=gen), dim=0)
    b = F.normalize(torch.randn(fan_in, generator=gen), dim=0)
    edge = 1.0 + math.sqrt(out / fan_in)  # largest singular value of the Gaussian part
    w.add_(torch.outer(a, b), alpha=2.0 * edge)
    u = a
    for _ in range(3):  # the spike leaves a wide spectral gap: few steps converge
        v = F.normalize(w.t() @ u, dim=0, eps=1e-4)
        u = F.normalize(w @ v, dim=0, eps=1e-4)
    return w.reshape(shape), u, v


@torch.no_grad()
def _calibrate_statistics(
    model: BigGANDeep, state: dict[str, Tensor], gen: torch.Generator
) -> None:
    """Measure per-channel batch statistics of ``model`` (``state`` folded in) in a forward
    pass and write them into ``state`` as the BN tables."""
    config = model.config
    n = 4 if config.resolution <= 128 else 2
    z = torch.randn(n, config.z_dim, generator=gen).clamp(-2, 2) * 0.7
    y = F.one_hot(torch.randint(config.num_classes, (n,), generator=gen), config.num_classes)
    cond = torch.cat([z, model.embeddings(y.float())], dim=1)
    scale, offset = model.cond_affine(cond).chunk(2, dim=1)
    measured: list[tuple[Tensor, Tensor]] = []

    def norm(h: Tensor, _k: int) -> Tensor:
        mean, var = h.mean((0, 2, 3)), h.var((0, 2, 3), unbiased=False)
        start = sum(m.numel() for m, _ in measured)
        measured.append((mean, var))
        a = (1 + scale[:, start : start + h.shape[1]]) * torch.rsqrt(var + config.eps)
        return bn_relu(h, a, offset[:, start : start + h.shape[1]] - mean * a)

    h = model.gen_z(cond).view(n, 4, 4, -1).permute(0, 3, 1, 2)
    for layer in model.layers:
        h = layer.run(h, norm) if isinstance(layer, GenBlock) else layer(h)
    measured.append((h.mean((0, 2, 3)), h.var((0, 2, 3), unbiased=False)))
    keys = _bn_prefixes(model)
    # Rows vary smoothly with truncation (as the real tables do), equal to the measurement at 0.7.
    ramp = torch.linspace(0.0, 1.0, config.n_stats)[:, None] - 0.7
    for key, (mean, var) in zip(keys, measured, strict=True):
        r1 = torch.rand(mean.shape, generator=gen) * 2 - 1
        r2 = torch.rand(mean.shape, generator=gen) * 2 - 1
        state[f"{key}.running_means"] = mean + 0.2 * var.sqrt() * ramp * r1
        state[f"{key}.running_vars"] = var * (1 + 0.4 * ramp * r2)


def _bn_prefixes(model: BigGANDeep) -> list[str]:
    """Published key prefixes of every batch norm, in the order of ``model.bn_means`` columns."""
    return [
        f"generator.layers.{j}.bn_{k}"
        for j, layer in enumerate(model.layers)
        if isinstance(layer, GenBlock)
        for k in range(4)
    ] + ["generator.bn"]


def _metadata(shapes: Mapping[str, tuple[int, ...]]) -> OrderedDict[str, dict]:
    """The ``_metadata`` torch attaches to a state dict, with the legacy spectral-norm version."""
    meta: OrderedDict[str, dict] = OrderedDict([("", {"version": 1})])
    for key in shapes:
        parts = key.split(".")[:-1]
        for depth in range(1, len(parts) + 1):
            meta.setdefault(".".join(parts[:depth]), {"version": 1})
        if key.endswith(".weight_orig"):
            meta[".".join(parts)]["spectral_norm"] = {"weight.version": 1}
    return meta
