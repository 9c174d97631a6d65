"""Where the generator runs and in what precision: ``--device`` and ``--precision`` resolved.

``auto`` picks CUDA, else Apple's Metal GPU (MPS), else the CPU. The choices themselves are plain
functions of what the machine has (`choose_device`, `choose_precision`), so that the rules for a
Mac or a multi-GPU box are tested on any machine; `resolve_device` asks torch what this one has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from visualizer.errors import VisualizerError
from visualizer.options import CONCRETE_PRECISIONS, DEVICES, PRECISIONS

if TYPE_CHECKING:
    import torch

# What each device type computes the convolutions in; PyTorch's MPS backend has no bf16
# convolutions before macOS 14, so a Mac is offered the two that always work there.
DEVICE_PRECISIONS = {
    "cuda": ("fp32", "fp16", "bf16"),
    "mps": ("fp32", "fp16"),
    "cpu": ("fp32", "fp16", "bf16"),
}


def choose_device(name: str, *, cuda_count: int, mps: bool) -> tuple[str, int | None]:
    """What ``name`` means on a machine with ``cuda_count`` CUDA devices and Metal (``mps``).

    Returns ("cuda", index), ("mps", None) or ("cpu", None). ``auto``: CUDA device 0 when there is
    one, else MPS, else the CPU. Raises VisualizerError for an unknown name or a device this
    machine lacks, naming what it has.
    """
    text = str(name).strip().lower()
    if text == "auto":
        return ("cuda", 0) if cuda_count else ("mps", None) if mps else ("cpu", None)
    if text == "cpu":
        return "cpu", None
    if text == "mps":
        if not mps:
            raise VisualizerError(
                "device 'mps' requested but Metal (MPS) is not available: it needs Apple silicon "
                "and a PyTorch built for macOS; use --device cpu or auto"
            )
        return "mps", None
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        index = int(text[5:]) if ":" in text else 0
        if not cuda_count:
            raise VisualizerError(
                f"device {name!r} requested but CUDA is not available; use --device cpu or auto"
            )
        if index >= cuda_count:
            raise VisualizerError(f"device {name!r} does not exist: {cuda_count} CUDA device(s)")
        return "cuda", index
    raise VisualizerError(f"unknown device {name!r}: expected {DEVICES}")


def choose_precision(precision: str, device_type: str) -> str:
    """``precision`` on a ``device_type`` ("cuda", "mps", "cpu"): auto is fp16 on CUDA (tensor
    cores) and fp32 elsewhere (exact; half precision gains little on a CPU). Raises
    VisualizerError for an unknown name or one the device cannot run."""
    if precision not in PRECISIONS:
        raise VisualizerError(f"unknown precision {precision!r}: expected {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "fp16" if device_type == "cuda" else "fp32"
    valid = DEVICE_PRECISIONS.get(device_type, CONCRETE_PRECISIONS)
    if precision not in valid:
        raise VisualizerError(
            f"precision {precision!r} is not supported on {device_type}: expected "
            f"{', '.join(('auto', *valid))}"
        )
    return precision


def check_named_precision(device: str, precision: str) -> None:
    """Refuse ``precision`` on an explicitly named ``device`` before anything loads (torch-free).

    ``auto`` and unknown names are left to `choose_precision` once the device is resolved on the
    machine that renders (a batch's head may not have its workers' GPUs): `choose_precision`
    allows every precision on a device type it does not know, so only a bad name fails here.
    """
    text = str(device).strip().lower()
    choose_precision(precision, "cuda" if text.startswith("cuda") else text)


def resolve_device(name: str = "auto") -> torch.device:
    """``name`` (see `choose_device`) as the torch.device of this machine."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    kind, index = choose_device(
        name,
        cuda_count=torch.cuda.device_count() if torch.cuda.is_available() else 0,
        mps=bool(mps and mps.is_available()),
    )
    return torch.device(kind, index) if index is not None else torch.device(kind)


def auto_model(device: str = "auto") -> str:
    """The model ``--model auto`` means on ``device``: biggan-deep-512 on CUDA; biggan-deep-128
    elsewhere, where 512 px takes about a second per frame on a CPU."""
    return "biggan-deep-512" if resolve_device(device).type == "cuda" else "biggan-deep-128"
