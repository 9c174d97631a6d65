"""The generator as the render path uses it: load it for a render's options (on a thread, so
loading overlaps analysis), its device and resolution, and the compile warm-up.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from visualizer.progress import ProgressCallback, report
from visualizer.render.plan import RenderOptions

log = logging.getLogger("visualizer")


def device_of(generator: Any) -> Any:
    """The torch.device ``generator`` runs on (its parameters' device; CPU when it has none)."""
    import torch

    if isinstance(getattr(generator, "device", None), torch.device):
        return generator.device
    try:
        return next(generator.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def resolution_of(generator: Any, model: str) -> int:
    """Output size in pixels: the generator's own, else the number in the model name."""
    value = getattr(generator, "resolution", None)
    if value is None:
        value = getattr(getattr(generator, "config", None), "output_dim", None)
    return int(value or model.rsplit("-", 1)[-1])


def overlaps_analysis(options: RenderOptions) -> bool:
    """Whether to load the generator on a thread while the track is analysed.

    Only for an accelerator. On a CPU the two compete for the same cores, so overlapping saves
    little time, and their memory peaks add: a 128 px render peaked at 1.42 GiB with the overlap
    and 1.04 GiB without (BENCHMARKS.md, memory section).
    """
    from visualizer.model.devices import resolve_device

    return resolve_device(options.device).type != "cpu"


def load_for_render(options: RenderOptions, progress: ProgressCallback | None = None) -> Any:
    """`load_generator`, then the compile warm-up when ``options`` compile.

    CUDA graphs are not warmed up here: they must be recorded on the thread that renders
    (`render_track` warms those up itself).
    """
    generator = load_generator(options, progress=progress)
    if generator.compile_mode is not None and not uses_cuda_graphs(generator):
        warm_up(generator, options, progress)
    return generator


class BackgroundLoader:
    """Loads the generator on a thread, so that model loading overlaps analysis and mapping."""

    def __init__(self, options: RenderOptions, progress: ProgressCallback | None) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._load, args=(options, progress), name="visualizer-load", daemon=True
        )
        self.thread.start()

    def _load(self, options: RenderOptions, progress: ProgressCallback | None) -> None:
        try:
            self.result = load_for_render(options, progress)
        except BaseException as error:  # noqa: BLE001 (re-raised by join)
            self.error = error

    def join(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


def load_generator(options: RenderOptions, *, progress: ProgressCallback | None = None) -> Any:
    """The generator ``options`` ask for (model, weights, device), in eval mode on its device."""
    from visualizer.model.loading import load_generator as load
    from visualizer.model.loading import prepare_for_inference

    # seed 0: "random" weights are one fixed network; the render's seed moves the Timeline.
    model = load(options.model, options.weights, device=options.device, seed=0, progress=progress)
    return prepare_for_inference(
        model, model.device, precision=options.precision, compile=options.compile
    )


def warm_up(
    generator: Any, options: RenderOptions, progress: ProgressCallback | None = None
) -> int:
    """Compile ``generator`` for the render's batch size by running dummy batches; returns it.

    The batch size is stored in ``generator.warm_batch_size`` so that the render uses the shape
    that was compiled. Running out of memory halves the batch (RenderError at 1), like a render.
    With CUDA graphs (`uses_cuda_graphs`) call it on the thread that renders: graphs recorded on
    one thread are never replayed on another.
    """
    from visualizer.errors import RenderError
    from visualizer.render import frames as render

    device = device_of(generator)
    batch = options.batch_size or render.auto_batch_size(
        device, resolution_of(generator, options.model), half=is_half(generator)
    )
    label = f"compiling the generator (batch {batch})"
    report(progress, "compile", 0, 1, "step", label)
    while not _warmed(generator, batch, device):
        if batch == 1:
            raise RenderError("out of GPU memory even at batch size 1: try a smaller --model")
        batch = max(1, batch // 2)
        log.warning("out of GPU memory while compiling: retrying with batch size %d", batch)
        render.release_cached_memory()
    generator.warm_batch_size = batch
    report(progress, "compile", 1, 1, "step", label)
    return batch


def _warmed(generator: Any, batch: int, device: Any) -> bool:
    """Run the compiled generator on a dummy batch; False when the device ran out of memory.

    Any other failure (no C++ compiler, an unsupported GPU, ...) falls back to eager rendering.
    """
    import torch

    from visualizer.render import frames as render

    config = generator.config
    z = torch.zeros(batch, config.z_dim, device=device)
    y = torch.zeros(batch, config.num_classes, device=device)
    y[:, 0] = 1.0
    truncation = torch.full((batch,), 0.5, device=device)
    try:
        # With CUDA graphs the first call compiles and warms up, the second records the graph.
        for _ in range(2 if uses_cuda_graphs(generator) else 1):
            generator.frames_uint8(z, y, truncation)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except Exception as error:
        if render.is_out_of_memory(error):
            return False
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning(f"torch.compile failed, rendering without it: {reason}")
        vars(generator).pop("synthesize", None)  # back to the class's eager method
        generator.compile_mode = None
    return True


def uses_cuda_graphs(generator: Any) -> bool:
    """True when ``generator`` is compiled in a mode that records CUDA graphs, on CUDA."""
    mode = getattr(generator, "compile_mode", None)
    return mode in ("reduce-overhead", "max-autotune") and device_of(generator).type == "cuda"


def is_half(generator: Any) -> bool:
    """True when the generator's convolutions run in fp16 or bf16 (half the activation memory)."""
    import torch

    dtype = getattr(generator, "dtype", None)
    if not isinstance(dtype, torch.dtype):
        dtype = getattr(getattr(getattr(generator, "gen_z", None), "weight", None), "dtype", None)
    return dtype in (torch.float16, torch.bfloat16)
