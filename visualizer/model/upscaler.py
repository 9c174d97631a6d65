"""The upscaler seam: learned super-resolution after the generator (``--upscale MODEL``).

Two kinds of thing plug in here:

- an `Architecture`: a kind of super-resolution network (one module per architecture:
  `visualizer.model.upscale_srvgg`, `visualizer.model.upscale_rrdb`; the table of them is
  `visualizer.model.upscale_loading.ARCHITECTURES`). It reads its hyperparameters off a state
  dict's keys and shapes (``detect``), so a user's own ``.pth``/``.safetensors`` file of a known
  architecture loads without being named;
- a `PublishedUpscaler`: published weights the tool downloads on first use (`PUBLISHED`), each
  with its architecture, scale, release URL, size and sha256, through the one verified download
  path (`visualizer.downloads`).

``--upscale`` takes a name of `PUBLISHED` or a weights file (`check_upscale_spec`). Torch-free:
the command line and the option checks read this module without loading torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visualizer.downloads import RemoteFile
from visualizer.errors import WeightsError

Hyperparameters = Mapping[str, int]  # e.g. {"features": 64, "convs": 32, "scale": 4}
WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


@dataclass(frozen=True)
class Architecture:
    """A super-resolution network the tool can build and load.

    ``detect(state)`` gives the hyperparameters (always with ``scale``, the factor per side)
    read off a state dict's keys and shapes, or None when the keys are not laid out as this
    architecture's. ``build(**hyperparameters)`` makes the module (float32, CPU, untrained):
    its ``forward`` maps float images (B, 3, H, W) in [0, 1] to (B, 3, scale H, scale W),
    unclamped. ``largest_activation(hyperparameters, side)`` is the element count per frame of
    its biggest intermediate tensor for a ``side`` x ``side`` input (it sizes the chunks and
    keeps each under 2**31 elements).
    """

    name: str  # "srvgg"; what a `PublishedUpscaler` names
    title: str  # "SRVGGNetCompact", for messages
    layout: str  # the key layout it recognises, for the refusal of a foreign file
    detect: Callable[[Mapping[str, Any]], Hyperparameters | None]
    build: Callable[..., Any]
    largest_activation: Callable[[Hyperparameters, int], int]


@dataclass(frozen=True)
class PublishedUpscaler:
    """Published weights of an `Architecture`, downloaded into the cache on first use."""

    name: str  # the --upscale value
    architecture: str  # an `Architecture.name`
    scale: int  # output side / input side
    remote: RemoteFile  # release URL, exact size and sha256
    note: str  # what it is, for `visualizer models list`


REAL_ESRGAN = "https://github.com/xinntao/Real-ESRGAN/releases/download"
LICENCE = "BSD-3-Clause (Real-ESRGAN, Xintao Wang et al.)"


def _real_esrgan(name: str, release: str, filename: str, size: int, sha256: str) -> RemoteFile:
    return RemoteFile(
        name=name,
        filename=filename,
        urls=(f"{REAL_ESRGAN}/{release}/{filename}",),
        size=size,
        sha256=sha256,
        what="upscaler weights",
    )


PUBLISHED: dict[str, PublishedUpscaler] = {
    model.name: model
    for model in (
        PublishedUpscaler(
            "realesr-general-x4v3",
            "srvgg",
            4,
            _real_esrgan(
                "realesr-general-x4v3",
                "v0.2.5.0",
                "realesr-general-x4v3.pth",
                4_885_111,
                "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
            ),  # fmt: skip
            "Real-ESRGAN compact general model (SRVGGNetCompact, 32 convs): fast",
        ),
        PublishedUpscaler(
            "realesrgan-x4plus",
            "rrdb",
            4,
            _real_esrgan(
                "realesrgan-x4plus",
                "v0.1.0",
                "RealESRGAN_x4plus.pth",
                67_040_989,
                "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            ),  # fmt: skip
            "Real-ESRGAN x4plus (RRDBNet, 23 blocks): finest detail, about 14x the compute",
        ),
        PublishedUpscaler(
            "realesrgan-x2plus",
            "rrdb",
            2,
            _real_esrgan(
                "realesrgan-x2plus",
                "v0.2.1",
                "RealESRGAN_x2plus.pth",
                67_061_725,
                "49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb",
            ),  # fmt: skip
            "Real-ESRGAN x2plus (RRDBNet, 23 blocks, on 2x2 pixel blocks)",
        ),
    )
}


def upscaler_names() -> tuple[str, ...]:
    """The published upscalers' names, in table order."""
    return tuple(PUBLISHED)


def is_published(spec: str) -> bool:
    return spec in PUBLISHED


def published_upscaler(name: str) -> PublishedUpscaler:
    """The row of ``name``; WeightsError listing the names there are."""
    if name not in PUBLISHED:
        raise WeightsError(
            f"unknown upscaler {name!r}: expected one of {', '.join(PUBLISHED)}, or a "
            f"{'/'.join(WEIGHT_SUFFIXES)} weights file"
        )
    return PUBLISHED[name]


def check_upscale_spec(spec: str) -> None:
    """WeightsError unless ``spec`` is a published upscaler's name or an existing weights file
    (a cheap look, before any model loads; the file's contents are checked when it loads)."""
    if is_published(spec):
        return
    path = Path(spec)
    if path.suffix.lower() not in WEIGHT_SUFFIXES and not path.exists():
        published_upscaler(spec)  # names the choices
    if not path.is_file():
        raise WeightsError(f"upscaler weights not found: {spec}")


def upscale_input(spec: str | None) -> Path | None:
    """The file an ``--upscale`` value reads (an input no output may replace), or None."""
    if not spec or is_published(spec):
        return None
    return Path(spec)
