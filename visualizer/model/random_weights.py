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
    config.validate("random weights")
    gen = torch.Generator().manual_seed(seed)
    shapes = published_shapes(config)
    state: OrderedDict[str, Tensor] = OrderedDict()
    for key, shape in shapes.items():
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
    _calibrate_statistics(config, state, gen)
    state._metadata = _metadata(shapes)  # type: ignore[attr-defined]
    return state


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
    config: BigGANConfig, state: dict[str, Tensor], gen: torch.Generator
) -> None:
    """Measure per-channel batch statistics in a forward pass and write them as the BN tables."""
    model = load_state_dict_published(BigGANDeep(config), state, "random weights")
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
    keys = [
        f"generator.layers.{j}.bn_{k}"
        for j, layer in enumerate(model.layers)
        if isinstance(layer, GenBlock)
        for k in range(4)
    ] + ["generator.bn"]
    # Rows vary smoothly with truncation (as the real tables do), equal to the measurement at 0.7.
    ramp = torch.linspace(0.0, 1.0, config.n_stats)[:, None] - 0.7
    for key, (mean, var) in zip(keys, measured, strict=True):
        r1 = torch.rand(mean.shape, generator=gen) * 2 - 1
        r2 = torch.rand(mean.shape, generator=gen) * 2 - 1
        state[f"{key}.running_means"] = mean + 0.2 * var.sqrt() * ramp * r1
        state[f"{key}.running_vars"] = var * (1 + 0.4 * ramp * r2)


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
