"""Upscaler weights for the tests: random weights in the published files' formats, tiny ones for
renders, and spandrel's implementations of the same architectures as an independent reference.

The published layouts are written out here from the release files' documented architecture
(Real-ESRGAN's model zoo: realesr-general-x4v3 is SRVGGNetCompact with 64 features and 32
convolutions in a ``params`` wrapper; RealESRGAN_x4plus / x2plus are RRDBNet with 64 features,
growth 32 and 23 blocks in a ``params_ema`` wrapper) and the parameter count their byte sizes
imply, not read off our modules.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import torch

from visualizer.model.upscale_rrdb import RRDBUpscaler
from visualizer.model.upscale_srvgg import CompactUpscaler

# name -> (module arguments, wrapper key, parameters, a few keys with their published shapes)
PUBLISHED_LAYOUTS = {
    "realesr-general-x4v3": (
        (CompactUpscaler, {"features": 64, "convs": 32, "scale": 4}),
        "params",
        1_213_296,
        {
            "body.0.weight": (64, 3, 3, 3),
            "body.1.weight": (64,),
            "body.64.weight": (64, 64, 3, 3),
            "body.65.weight": (64,),
            "body.66.weight": (48, 64, 3, 3),
            "body.66.bias": (48,),
        },
    ),
    "realesrgan-x4plus": (
        (RRDBUpscaler, {"features": 64, "growth": 32, "blocks": 23, "scale": 4}),
        "params_ema",
        16_697_987,
        {
            "conv_first.weight": (64, 3, 3, 3),
            "body.0.rdb1.conv1.weight": (32, 64, 3, 3),
            "body.22.rdb3.conv4.weight": (32, 160, 3, 3),
            "body.22.rdb3.conv5.weight": (64, 192, 3, 3),
            "conv_body.weight": (64, 64, 3, 3),
            "conv_up2.weight": (64, 64, 3, 3),
            "conv_last.weight": (3, 64, 3, 3),
        },
    ),
    "realesrgan-x2plus": (
        (RRDBUpscaler, {"features": 64, "growth": 32, "blocks": 23, "scale": 2}),
        "params_ema",
        16_703_171,
        {"conv_first.weight": (64, 12, 3, 3), "conv_last.weight": (3, 64, 3, 3)},
    ),
}
KEY_COUNTS = {"realesr-general-x4v3": 101, "realesrgan-x4plus": 702, "realesrgan-x2plus": 702}


def random_module(cls, arguments: dict, seed: int = 0, gain: float = 1.0) -> torch.nn.Module:
    """``cls(**arguments)`` with seeded random weights (``gain`` scales them all)."""
    torch.manual_seed(seed)
    module = cls(**arguments).eval()
    with torch.no_grad():
        for value in module.parameters():
            value.mul_(gain)
    return module


def save_published(module: torch.nn.Module, path: Path, wrapper: str | None) -> Path:
    """``module``'s weights saved as Real-ESRGAN publishes them: ``{wrapper: state_dict}``
    with torch.save (a plain state dict without ``wrapper``; safetensors by the suffix)."""
    state = module.state_dict()
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save({wrapper: state} if wrapper else state, path)
    return path


def tiny_compact(path: Path, scale: int = 2, seed: int = 0, gain: float = 1.0) -> Path:
    """A 2-convolution, 8-feature SRVGGNetCompact file (params wrapper): milliseconds a frame."""
    module = random_module(CompactUpscaler, {"features": 8, "convs": 2, "scale": scale}, seed, gain)
    return save_published(module, path, "params")


def tiny_rrdb(path: Path, scale: int = 4, seed: int = 0) -> Path:
    """A 1-block RRDBNet (8 features, growth 4), params_ema wrapper."""
    arguments = {"features": 8, "growth": 4, "blocks": 1, "scale": scale}
    return save_published(random_module(RRDBUpscaler, arguments, seed), path, "params_ema")


def spandrel_architectures() -> dict | None:
    """spandrel's (MIT) SRVGGNetCompact and RRDBNet loaders, {"srvgg": ..., "rrdb": ...}, or
    None when spandrel is not installed.

    spandrel's package ``__init__`` registers all of its ~40 architectures, some of which import
    torchvision (not installable beside this torch build); the two architectures compared here
    import only torch. So the package is entered as a namespace (its ``__init__`` not run) and
    the two architecture packages are imported from it as they are.
    """
    if "spandrel" not in sys.modules:
        found = importlib.util.find_spec("spandrel")
        if found is None or found.submodule_search_locations is None:
            return None
        package = types.ModuleType("spandrel")
        package.__path__ = list(found.submodule_search_locations)
        sys.modules["spandrel"] = package
    from spandrel.architectures.Compact import CompactArch
    from spandrel.architectures.ESRGAN import ESRGANArch

    return {"srvgg": CompactArch(), "rrdb": ESRGANArch()}
