"""RRDBNet: ESRGAN's residual-in-residual dense network, as Real-ESRGAN publishes it
(`ARCHITECTURE`).

The picture is turned into F feature channels (``conv_first``), passed through ``blocks``
residual-in-residual dense blocks and one more convolution (``conv_body``), added back to the
first features, then enlarged twice by 2 (nearest-neighbour, then a convolution and a leaky ReLU
each: ``conv_up1``, ``conv_up2``) and mapped to RGB (``conv_hr``, ``conv_last``). A dense block
holds five convolutions, each seeing the block's input and every earlier output of the block
(G = ``growth`` channels each), the last one back to F channels; its output is scaled by 0.2
and added to its input, and three such blocks make one residual-in-residual block, scaled and
added the same way. The body always enlarges by 4: the x2 model first folds each 2 x 2 block of
pixels into channels (a pixel unshuffle, 12 input channels), so its body runs at half the size.

State-dict layout of the published files (``RealESRGAN_x4plus.pth`` and ``RealESRGAN_x2plus.pth``,
inside a ``params_ema`` wrapper): ``conv_first`` (F, 3 or 12, 3, 3); ``body.N.rdbK.convJ``
(N < blocks, K = 1..3, J = 1..5), convJ taking F + (J - 1) G channels to G (to F for J = 5);
``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr`` (F, F, 3, 3); ``conv_last`` (3, F, 3,
3); every convolution with a bias. Published: F = 64, G = 32, 23 blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from visualizer.model.upscaler import Architecture, Hyperparameters

CHANNELS = 3  # RGB in and out
RESIDUAL_SCALE = 0.2  # each dense block's (and each RRDB's) output is added at this weight
SLOPE = 0.2  # of the leaky ReLUs
FOLD = {4: 1, 2: 2}  # scale -> pixel-unshuffle factor of the input (the body always enlarges x4)


def _conv(inputs: int, outputs: int) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 3, padding=1)


class DenseBlock(nn.Module):
    """Five convolutions, each on the concatenation of the input and all earlier outputs."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.conv1 = _conv(features, growth)
        self.conv2 = _conv(features + growth, growth)
        self.conv3 = _conv(features + 2 * growth, growth)
        self.conv4 = _conv(features + 3 * growth, growth)
        self.conv5 = _conv(features + 4 * growth, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            seen.append(functional.leaky_relu(conv(torch.cat(seen, 1)), SLOPE))
        return x + RESIDUAL_SCALE * self.conv5(torch.cat(seen, 1))


class ResidualInResidual(nn.Module):
    """Three dense blocks in a row, their result scaled and added to the input."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = DenseBlock(features, growth)
        self.rdb2 = DenseBlock(features, growth)
        self.rdb3 = DenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBUpscaler(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, 3, scale H, scale W), unclamped; H and W even for x2."""

    def __init__(
        self, *, features: int = 64, growth: int = 32, blocks: int = 23, scale: int = 4
    ) -> None:
        super().__init__()
        if scale not in FOLD:
            raise ValueError(f"RRDBNet scale {scale}: expected one of {sorted(FOLD)}")
        self.fold = FOLD[scale]
        self.scale = scale
        self.conv_first = _conv(CHANNELS * self.fold**2, features)
        self.body = nn.Sequential(*(ResidualInResidual(features, growth) for _ in range(blocks)))
        self.conv_body = _conv(features, features)
        self.conv_up1 = _conv(features, features)
        self.conv_up2 = _conv(features, features)
        self.conv_hr = _conv(features, features)
        self.conv_last = _conv(features, CHANNELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fold > 1:
            x = functional.pixel_unshuffle(x, self.fold)
        features = self.conv_first(x)
        features = features + self.conv_body(self.body(features))
        for conv in (self.conv_up1, self.conv_up2):
            enlarged = functional.interpolate(features, scale_factor=2, mode="nearest")
            features = functional.leaky_relu(conv(enlarged), SLOPE)
        return self.conv_last(functional.leaky_relu(self.conv_hr(features), SLOPE))


def detect(state: Mapping[str, Any]) -> Hyperparameters | None:
    """{"features", "growth", "blocks", "scale"} of a state dict laid out as `RRDBUpscaler`'s,
    else None. Shapes beyond these are checked against the built module by the loader."""
    first, grow = state.get("conv_first.weight"), state.get("body.0.rdb1.conv1.weight")
    if first is None or grow is None or first.ndim != 4 or grow.ndim != 4:
        return None
    folds = {CHANNELS * fold**2: scale for scale, fold in FOLD.items()}
    if first.shape[1] not in folds:
        return None
    pattern = re.compile(r"body\.(\d+)\.rdb1\.conv1\.weight")
    blocks = 1 + max(int(m.group(1)) for key in state if (m := pattern.fullmatch(key)))
    return {
        "features": int(first.shape[0]),
        "growth": int(grow.shape[0]),
        "blocks": blocks,
        "scale": folds[int(first.shape[1])],
    }


def largest_activation(hyper: Hyperparameters, side: int) -> int:
    # conv_up2 and conv_hr work on F channels at the output size; the dense blocks' widest
    # concatenation (F + 4 G channels) is at the body's size, side / fold.
    body_side = side // FOLD[hyper["scale"]]
    dense = (hyper["features"] + 4 * hyper["growth"]) * body_side**2
    return max(hyper["features"] * (hyper["scale"] * side) ** 2, dense)


ARCHITECTURE = Architecture(
    name="rrdb",
    title="RRDBNet",
    layout="conv_first, body.N.rdbK.convJ, conv_body, conv_up1/2, conv_hr, conv_last",
    detect=detect,
    build=RRDBUpscaler,
    largest_activation=largest_activation,
)
