"""Loading an upscaler (``--upscale``) and running it on frame batches.

`ARCHITECTURES` is the table of architectures (`visualizer.model.upscaler.Architecture`): a new
one is a module plus one line here. `read_state` reads a weights file safely (``weights_only``
for a pickle, safetensors without unpickling; the published ``params`` / ``params_ema``
wrappers unwrapped), `build_upscaler` recognises its architecture from the keys and shapes and
loads it exactly (every key, every shape, finite floats), `load_upscaler` fetches a published
one through `visualizer.downloads` (its full load is the download's verification) and puts it on
the generator's device and dtype as an `Upscaler`, which turns uint8 frame batches into larger
ones in chunks that fit the device.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from visualizer.downloads import fetch_file
from visualizer.errors import WeightsError
from visualizer.model import upscale_rrdb, upscale_srvgg
from visualizer.model.device_memory import MAX_TENSOR_ELEMENTS
from visualizer.model.loading import check_tensors, first_line, read_checkpoint
from visualizer.model.upscaler import (
    Architecture,
    Hyperparameters,
    PublishedUpscaler,
    is_published,
    published_upscaler,
)
from visualizer.progress import ProgressCallback

log = logging.getLogger("visualizer")

ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        upscale_srvgg.ARCHITECTURE,
        upscale_rrdb.ARCHITECTURE,
    )
}
# Checkpoint wrappers of the published files (BasicSR's): the EMA weights first, as Real-ESRGAN's
# own inference prefers them.
WRAPPERS = ("params_ema", "params")
CPU_CHUNK_BYTES = 2 << 30  # activation bytes one CPU chunk may take
LIVE_TENSORS = 3  # intermediate tensors of the largest size alive at once, for the memory estimate


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``path`` (.safetensors, or a torch.save file loaded with
    ``weights_only=True``), unwrapped from a ``params_ema`` or ``params`` entry. WeightsError
    for a file that is not a state dict of finite floating-point tensors."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file as load_safetensors

        try:
            state: Any = load_safetensors(str(path))
        except Exception as error:  # safetensors raises its own exception types
            problem = first_line(error)
            raise WeightsError(f"{path}: not a readable safetensors file ({problem})") from None
    else:
        state = read_checkpoint(path)
    if isinstance(state, dict):
        for wrapper in WRAPPERS:
            if isinstance(state.get(wrapper), dict):
                state = state[wrapper]
                break
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{path}: not a state dict of tensors")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(f"{path}: holds entries other than named tensors")
    check_tensors(state, str(path))
    return state


def recognise(
    state: Mapping[str, torch.Tensor], source: str
) -> tuple[Architecture, Hyperparameters]:
    """The architecture whose layout ``state`` has, and its hyperparameters; WeightsError in one
    line naming the layouts the tool knows."""
    for arch in ARCHITECTURES.values():
        hyper = arch.detect(state)
        if hyper is not None:
            return arch, hyper
    known = "; ".join(f"{a.title} ({a.layout})" for a in ARCHITECTURES.values())
    some = ", ".join(list(state)[:3])
    raise WeightsError(
        f"{source}: not an upscaler this tool knows (keys such as {some}); expected {known}"
    )


@dataclass(frozen=True)
class Upscaler:
    """An upscaler ready to run: ``upscaler(frames)`` maps uint8 (B, R, R, 3) frames on
    ``device`` to uint8 (B, scale R, scale R, 3), ``chunk(R)`` frames per network call."""

    network: torch.nn.Module  # in eval mode, on ``device`` in ``dtype``
    architecture: Architecture
    hyperparameters: Hyperparameters  # as ``architecture.detect`` read them
    name: str  # the --upscale value, for messages
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32

    @property
    def scale(self) -> int:
        return int(self.hyperparameters["scale"])

    def to(self, device: torch.device, dtype: torch.dtype) -> Upscaler:
        """This upscaler on ``device`` in ``dtype`` (the generator's)."""
        network = self.network.to(device=device, dtype=dtype)
        return dataclasses.replace(self, network=network, device=device, dtype=dtype)

    def chunk(self, side: int) -> int:
        """Frames per call for ``side`` px input: what the memory budget holds, every
        intermediate under 2**31 elements."""
        per_frame = self.architecture.largest_activation(self.hyperparameters, side)
        cap = max(1, MAX_TENSOR_ELEMENTS // max(1, per_frame))
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            held = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(
                self.device
            )
            budget = (free + held) // 2
        else:
            budget = CPU_CHUNK_BYTES
        per_frame_bytes = per_frame * LIVE_TENSORS * torch.finfo(self.dtype).bits // 8
        return int(max(1, min(cap, budget // max(1, per_frame_bytes))))

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        size = self.chunk(int(frames.shape[1]))
        pieces = []
        with torch.inference_mode():
            for start in range(0, frames.shape[0], size):
                x = frames[start : start + size].permute(0, 3, 1, 2).to(self.dtype) / 255
                y = self.network(x).clamp_(0, 1).mul_(255).round_()
                pieces.append(y.to(torch.uint8).permute(0, 2, 3, 1).contiguous())
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces)


def build_upscaler(state: Mapping[str, torch.Tensor], source: str) -> Upscaler:
    """The upscaler ``state`` holds the weights of (float32, CPU, eval); WeightsError naming
    the first missing, unexpected or misshapen keys."""
    arch, hyper = recognise(state, source)
    try:
        with torch.device("meta"):  # shapes only: the file's tensors become the parameters
            module = arch.build(**hyper)
    except ValueError as error:  # hyperparameters the architecture cannot take
        raise WeightsError(f"{source}: {error}") from None
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {shape})"
        for k, shape in expected.items()
        if k in state and tuple(state[k].shape) != shape
    ]
    for problem, keys in (("missing", missing), ("unexpected", unexpected), ("misshapen", wrong)):
        if keys:
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            raise WeightsError(
                f"{source}: {problem} {arch.title} weights: {', '.join(keys[:3])}{more}"
            )
    module.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    return Upscaler(module.eval(), arch, hyper, source)


def read_upscaler(path: Path) -> Upscaler:
    """The upscaler in the weights file ``path`` (float32, CPU)."""
    return build_upscaler(read_state(path), str(path))


def verify_published(row: PublishedUpscaler) -> Callable[[Path], None]:
    """A download check for ``row``: the file loads fully as its architecture and scale."""

    def verify(path: Path) -> None:
        loaded = read_upscaler(path)
        if loaded.architecture.name != row.architecture or loaded.scale != row.scale:
            raise WeightsError(
                f"{path}: a {loaded.architecture.title} x{loaded.scale}, not the "
                f"{ARCHITECTURES[row.architecture].title} x{row.scale} {row.name} should be"
            )

    return verify


def upscaler_path(
    spec: str, *, progress: ProgressCallback | None = None, base_url: str | None = None
) -> Path:
    """The weights file of ``spec``: a published upscaler's cached download (downloaded and
    verified first when missing), or the file ``spec`` names."""
    if not is_published(spec):
        path = Path(spec)
        if not path.is_file():
            published_upscaler(spec)  # an unknown name: the list of names
            raise WeightsError(f"upscaler weights not found: {spec}")
        return path
    row = published_upscaler(spec)
    return fetch_file(
        row.remote, verify=verify_published(row), progress=progress, base_url=base_url
    )


def upscale_factor(spec: str) -> int:
    """Output side / input side of ``spec`` (a published name, or a file, read to know it)."""
    if is_published(spec):
        return published_upscaler(spec).scale
    return int(recognise(read_state(Path(spec)), spec)[1]["scale"])


def load_upscaler(
    spec: str,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    progress: ProgressCallback | None = None,
) -> Upscaler:
    """The upscaler ``spec`` names (published name or weights file) on ``device`` in ``dtype``
    (the generator's: they run on the same device, one after the other)."""
    path = upscaler_path(spec, progress=progress)
    upscaler = dataclasses.replace(read_upscaler(path), name=spec).to(device, dtype)
    log.info("upscaling x%d with %s on %s", upscaler.scale, spec, device)
    return upscaler
