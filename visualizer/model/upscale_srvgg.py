"""SRVGGNetCompact: Real-ESRGAN's compact super-resolution network (`ARCHITECTURE`).

A plain stack of 3 x 3 convolutions at the input's resolution, each followed by a per-channel
PReLU, and a last convolution that makes ``3 * scale**2`` channels which a pixel shuffle turns
into the ``scale`` times larger picture. The network learns a residual: the input, enlarged by
nearest-neighbour, is added to the result. All the work happens at the small size, which makes
it the fast one (about 1.2 M parameters for the published general model, 32 convolutions).

State-dict layout of the published files (``realesr-general-x4v3.pth``, inside a ``params``
wrapper): ``body.0`` the first convolution (F, 3, 3, 3), ``body.1`` its PReLU (F,), then
``body.2k`` / ``body.2k+1`` convolution (F, F, 3, 3) and PReLU for each of the ``convs`` inner
layers, and ``body.L`` (L = 2 convs + 2) the last convolution (3 scale**2, F, 3, 3); every
convolution has a bias. Only the PReLU variant is recognised (both published compact models use
it; a ReLU one has no parameters in that slot, so its layout cannot be told from the file).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from visualizer.model.upscaler import Architecture, Hyperparameters

CHANNELS = 3  # RGB in and out


class CompactUpscaler(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, 3, scale H, scale W), unclamped."""

    def __init__(self, *, features: int = 64, convs: int = 32, scale: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(CHANNELS, features, 3, padding=1), nn.PReLU(features)]
        for _ in range(convs):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.PReLU(features)]
        layers.append(nn.Conv2d(features, CHANNELS * scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)  # the published keys: body.N.weight / body.N.bias
        self.shuffle = nn.PixelShuffle(scale)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enlarged = functional.interpolate(x, scale_factor=self.scale, mode="nearest")
        return self.shuffle(self.body(x)) + enlarged


def detect(state: Mapping[str, Any]) -> Hyperparameters | None:
    """{"features", "convs", "scale"} of a state dict laid out as `CompactUpscaler`'s, else
    None. Shapes beyond these are checked against the built module by the loader."""
    if not state or not all(key.startswith("body.") for key in state):
        return None
    pattern = re.compile(r"body\.(\d+)\.weight")
    indices = sorted(int(m.group(1)) for key in state if (m := pattern.fullmatch(key)))
    if len(indices) < 3:
        return None
    first, prelu, last = state.get("body.0.weight"), state.get("body.1.weight"), indices[-1]
    if first is None or prelu is None or first.ndim != 4 or prelu.ndim != 1 or last % 2:
        return None
    out_channels = state[f"body.{last}.weight"].shape[0]
    scale = math.isqrt(out_channels // CHANNELS)
    if first.shape[1] != CHANNELS or scale < 2 or CHANNELS * scale * scale != out_channels:
        return None
    return {"features": int(first.shape[0]), "convs": (last - 2) // 2, "scale": scale}


def largest_activation(hyper: Hyperparameters, side: int) -> int:
    # The features at the input's size, or the shuffled output with the enlarged input beside it.
    return max(hyper["features"] * side * side, 2 * CHANNELS * (hyper["scale"] * side) ** 2)


ARCHITECTURE = Architecture(
    name="srvgg",
    title="SRVGGNetCompact",
    layout="body.N.weight/bias: convolutions with PReLUs between them",
    detect=detect,
    build=CompactUpscaler,
    largest_activation=largest_activation,
)
