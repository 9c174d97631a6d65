"""Device memory and the batch size: how many frames one generator call takes automatically,
which errors mean the device ran out of memory (the render then halves its batch), and giving
the allocator's cached blocks back before a retry.

Torch is imported inside the functions: the CLI and the render plan import this module freely.
"""

from __future__ import annotations

from typing import Any

MAX_AUTO_BATCH = 64
# Rough activation memory per frame in bytes for the automatic CUDA batch size (fp32, eval);
# the out-of-memory retry corrects an estimate that is too optimistic.
_BYTES_PER_FRAME = {128: 48 << 20, 256: 160 << 20, 512: 600 << 20}
# Kernels index tensors with 32-bit integers in places (upsampling among them): no intermediate
# of a batch may reach 2**31 elements. At 512 px the last block's output holds 128 x 512
# x 512 = 2**25 elements per frame, so a batch of 64 would be exactly 2**31.
MAX_TENSOR_ELEMENTS = 2**31 - 1


def auto_batch_size(
    device: Any, resolution: int, *, half: bool = False, largest_activation: int | None = None
) -> int:
    """Frames per generator call: CPU 1-2 by resolution; CUDA from free memory (1-63/64).

    ``half``: the convolutions run in fp16/bf16, whose activations take half the bytes. Blocks
    the allocator holds but does not use count as free: they serve the next batch first.
    ``largest_activation``: elements per frame of the network's biggest activation (None: the
    published BigGAN-deep's of this resolution), which caps the batch (`batch_cap`).
    """
    if getattr(device, "type", str(device)) != "cuda":
        # Measured on a 2-core x86 CPU at 128 px: batch 2 is the fastest (1/2/4/8 frames: 8.1/8.5/
        # 6.3/5.9 fps generator-only); larger batches' activations outgrow the caches.
        return {128: 2, 256: 2}.get(resolution, 1)
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    per_frame = _BYTES_PER_FRAME.get(resolution, _BYTES_PER_FRAME[512]) // (2 if half else 1)
    cap = batch_cap(resolution, largest_activation)
    return int(max(1, min(cap, (free // 2) // per_frame)))


def batch_cap(resolution: int, largest_activation: int | None = None) -> int:
    """Largest automatic batch (<= MAX_AUTO_BATCH) whose biggest activation stays < 2**31
    elements: ``largest_activation`` elements per frame, by default the published BigGAN-deep's
    of ``resolution`` px (512 -> 63)."""
    from visualizer.model.config import PUBLISHED_MODELS, BigGANConfig

    per_frame = largest_activation
    if per_frame is None:
        published = f"biggan-deep-{resolution}"
        if published not in PUBLISHED_MODELS:
            return MAX_AUTO_BATCH
        per_frame = BigGANConfig.for_model(published).largest_activation()
    return max(1, min(MAX_AUTO_BATCH, MAX_TENSOR_ELEMENTS // max(1, per_frame)))


def is_out_of_memory(error: BaseException) -> bool:
    """True for a CUDA allocation failure: torch's OutOfMemoryError, or the plain RuntimeError
    cuBLAS/cuDNN raise when they cannot allocate their workspace."""
    import torch

    # torch.OutOfMemoryError is 2.4+; torch.cuda's name for the same class is older.
    out_of_memory = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    if isinstance(error, out_of_memory):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(mark in text for mark in _ALLOC_MESSAGES)


_ALLOC_MESSAGES = (
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_NOT_ENOUGH_WORKSPACE",
    "CUDA out of memory",
    "cuFFT error: CUFFT_ALLOC_FAILED",
)


def release_cached_memory() -> None:
    """Give the allocator's cached blocks back to the driver (cuDNN/cuBLAS allocate outside)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
