"""The generator as the render path uses it.

`Generator` is a network ready to render: its device, dtype, resolution, batch size, whether it is
compiled, and `Generator.frames` (inputs -> uint8 frames). `load_generator` is the one loader of
render, batch, preview, storyboard, live and the benchmarks (same flags, same weights);
`warm_up` compiles a generator for its batch shape (on the thread that renders, for CUDA graphs);
`load_for_render` does both and `BackgroundLoader` runs it on a thread of its own so that
loading and compiling overlap analysis on an accelerator, then renders on that same thread. The
module itself is never patched at run time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from visualizer.model.catalog import family_of
from visualizer.model.device_memory import (
    auto_batch_size,
    is_out_of_memory,
    release_cached_memory,
)
from visualizer.options import LATENT_SIZE, N_CLASSES
from visualizer.progress import ProgressCallback, report

if TYPE_CHECKING:
    import torch

    from visualizer.model.family import ModelFamily

log = logging.getLogger("visualizer")
T = TypeVar("T")


class GeneratorSettings(Protocol):
    """The options a generator is loaded from (`RenderOptions` and the live options have them)."""

    @property
    def model(self) -> str: ...  # biggan-deep-128 | -256 | -512
    @property
    def weights(self) -> str | None: ...  # folder or file, "random", None = cached download
    @property
    def device(self) -> str: ...  # auto | cpu | cuda | cuda:N | mps
    @property
    def precision(self) -> str: ...  # auto | fp32 | fp16 | bf16
    @property
    def compile(self) -> str: ...  # off | auto | default | max-autotune | reduce-overhead
    @property
    def batch_size(self) -> int | None: ...  # frames per call, None = automatic


CUDNN_DEFAULT = "deterministic"  # for settings without a ``cudnn`` field (`configure_cudnn`)


@dataclass(frozen=True)
class Generator:
    """A network ready to render frames (made by `load_generator`, or `wrap` for a module).

    ``frames(z (B, latent_size), class_vectors (B, n_classes), truncation (B,) in (0, 1])`` ->
    uint8 (B, R, R, 3) on ``device`` (BigGAN-deep: 128 latent values, 1000 classes). A compiled
    generator (``compiled``) must always get ``batch_size`` frames: a new shape recompiles (or,
    with CUDA graphs, records a new graph).
    """

    network: Any  # the module: BigGANDeep, or any module with frames_uint8(z, y, truncation)
    device: torch.device
    dtype: torch.dtype  # of the convolutions
    resolution: int  # frames are resolution x resolution pixels
    batch_size: int  # frames per call, >= 1
    latent_size: int = LATENT_SIZE  # z values per frame the network takes
    n_classes: int = N_CLASSES  # class-vector length per frame the network takes
    compile_mode: str | None = None  # the torch.compile mode in use; None = eager
    synthesize: Callable | None = None  # the compiled convolutional body; None = eager
    # uint8 (B, r, r, 3) -> uint8 (B, R, R, 3) after the network on the same device, R = its
    # scale x the network's r (`visualizer.model.upscale_loading.Upscaler`); None = none
    upscaler: Callable | None = None

    @property
    def compiled(self) -> bool:
        return self.compile_mode is not None

    @property
    def cuda_graphs(self) -> bool:
        """Compiled in a mode that records CUDA graphs, on CUDA: warm it up and render with it
        on one thread (graphs recorded on one thread are never replayed on another)."""
        return self.compile_mode in ("reduce-overhead", "max-autotune") and (
            self.device.type == "cuda"
        )

    @property
    def half(self) -> bool:
        """The convolutions run in fp16 or bf16 (half the activation memory)."""
        import torch

        return self.dtype in (torch.float16, torch.bfloat16)

    def frames(self, z: Any, class_vectors: Any, truncation: Any) -> Any:
        """uint8 frames (B, R, R, 3) on ``device`` for float32 inputs on ``device``."""
        import torch

        with torch.inference_mode():
            if self.synthesize is None:
                frames = self.network.frames_uint8(z, class_vectors, truncation)
            else:
                frames = self.network.frames_uint8(z, class_vectors, truncation, self.synthesize)
            return frames if self.upscaler is None else self.upscaler(frames)


def wrap(
    network: Any, *, batch_size: int | None = None, family: ModelFamily | None = None
) -> Generator:
    """An eager `Generator` around a module already on its device (None batch = automatic).

    The input sizes come from ``family``, else from the module's ``config`` (BigGAN-deep's
    ``z_dim`` and ``num_classes``), else BigGAN-deep's 128 and 1000.
    """
    import torch

    device, dtype = _device_of(network), _dtype_of(network)
    resolution = int(getattr(network, "resolution", None) or network.config.output_dim)
    half = dtype in (torch.float16, torch.bfloat16)
    config = getattr(network, "config", None)
    measure = getattr(config, "largest_activation", None)
    largest = measure() if callable(measure) else None
    automatic = auto_batch_size(device, resolution, half=half, largest_activation=largest)
    return Generator(
        network=network,
        device=device,
        dtype=dtype,
        resolution=resolution,
        batch_size=batch_size or automatic,
        latent_size=family.latent_size if family else getattr(config, "z_dim", LATENT_SIZE),
        n_classes=family.n_classes if family else getattr(config, "num_classes", N_CLASSES),
    )


def _device_of(network: Any) -> torch.device:
    import torch

    if isinstance(getattr(network, "device", None), torch.device):
        return network.device
    try:
        return next(network.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _dtype_of(network: Any) -> torch.dtype:
    import torch

    if isinstance(getattr(network, "dtype", None), torch.dtype):
        return network.dtype
    try:
        return next(network.parameters()).dtype
    except (AttributeError, StopIteration):
        return torch.float32


def load_generator(
    settings: GeneratorSettings, *, progress: ProgressCallback | None = None
) -> Generator:
    """The generator ``settings`` ask for (model, weights, device, precision, compile, batch),
    loaded by the model's family (`visualizer.model.catalog`).

    ``"random"`` weights are always seed 0: one fixed network for every command, whose seed
    moves the Timeline instead. Not warmed up: see `warm_up` for a compiled one.
    """
    from visualizer.model.devices import choose_precision, resolve_device
    from visualizer.model.loading import resolve_compile

    family = family_of(settings.model)
    device = resolve_device(settings.device)
    # A precision the device cannot run fails before the weights are read (or downloaded).
    precision = choose_precision(settings.precision, device.type)
    network = family.load(
        settings.model, settings.weights, device=device, precision=precision, seed=0,
        progress=progress,
    )  # fmt: skip
    configure_cudnn(device, getattr(settings, "cudnn", CUDNN_DEFAULT))
    generator = wrap(network, batch_size=settings.batch_size, family=family)
    upscale = getattr(settings, "upscale", None)  # live options may not offer it
    if upscale:
        generator = with_upscaler(generator, upscale, progress)
    if family.compile is None:
        return generator  # the family renders eagerly
    mode = resolve_compile(settings.compile, generator.device)
    if mode is None:
        return generator
    return dataclasses.replace(
        generator, compile_mode=mode, synthesize=family.compile(network, mode)
    )


def with_upscaler(
    generator: Generator, spec: str, progress: ProgressCallback | None = None
) -> Generator:
    """``generator`` followed by the upscaler ``spec`` names (`visualizer.model.upscaler`), on
    its device and in its dtype: its frames, and its resolution, ``scale`` times larger."""
    from visualizer.model.upscale_loading import load_upscaler

    upscaler = load_upscaler(
        spec, device=generator.device, dtype=generator.dtype, progress=progress
    )
    resolution = generator.resolution * upscaler.scale
    return dataclasses.replace(generator, upscaler=upscaler, resolution=resolution)


def configure_cudnn(device: torch.device, mode: str) -> None:
    """How cuDNN picks convolution algorithms on CUDA (`visualizer.options.CUDNN_MODES`):
    "deterministic" by its fixed rules, the same in every process, so a resumed or split render
    computes each batch bit for bit as the first run did; "benchmark" by timing them in this
    process (maybe faster; a resume may then differ in the last bit). Nothing off CUDA."""
    if device.type != "cuda":
        return
    import torch

    torch.backends.cudnn.benchmark = mode == "benchmark"
    torch.backends.cudnn.deterministic = mode != "benchmark"


def overlaps_analysis(settings: GeneratorSettings) -> bool:
    """Whether to load the generator on a thread while the track is analysed.

    Only for an accelerator. On a CPU the two compete for the same cores, so overlapping saves
    little time, and their memory peaks add: a 128 px render peaked at 1.42 GiB with the overlap
    and 1.04 GiB without (BENCHMARKS.md, memory section).
    """
    from visualizer.model.devices import resolve_device

    return resolve_device(settings.device).type != "cpu"


def load_for_render(
    settings: GeneratorSettings,
    progress: ProgressCallback | None = None,
    *,
    graphs: bool = False,
) -> Generator:
    """`load_generator`, then the compile warm-up when ``settings`` compile.

    CUDA graphs are warmed up (recorded) only with ``graphs``: they must be recorded on the
    thread that renders, so only a caller that renders on this thread asks for them.
    """
    generator = load_generator(settings, progress=progress)
    if generator.compiled and (graphs or not generator.cuda_graphs):
        generator = warm_up(generator, progress)
    return generator


def warm_up(generator: Generator, progress: ProgressCallback | None = None) -> Generator:
    """Compile ``generator`` for its batch size by running dummy batches; returns the generator
    to render with: its batch size halved while the device runs out of memory (RenderError at
    1, like a render), or an eager copy when compilation fails. Eager ones are returned as is.

    With CUDA graphs (`Generator.cuda_graphs`) call it on the thread that renders.
    """
    if not generator.compiled:
        return generator
    from visualizer.errors import RenderError

    batch = generator.batch_size
    label = f"compiling the generator (batch {batch})"
    report(progress, "compile", 0, 1, "step", label)
    while (warmed := _warmed(dataclasses.replace(generator, batch_size=batch))) is None:
        if batch == 1:
            raise RenderError("out of GPU memory even at batch size 1: try a smaller --model")
        batch = max(1, batch // 2)
        log.warning("out of GPU memory while compiling: retrying with batch size %d", batch)
        release_cached_memory()
    report(progress, "compile", 1, 1, "step", label)
    return warmed


def _warmed(generator: Generator) -> Generator | None:
    """Run the compiled generator on a dummy batch: the generator, None when the device ran out
    of memory, an eager copy on any other failure (no C++ compiler, an unsupported GPU, ...)."""
    import torch

    batch, device = generator.batch_size, generator.device
    z = torch.zeros(batch, generator.latent_size, device=device)
    y = torch.zeros(batch, generator.n_classes, device=device)
    y[:, 0] = 1.0
    truncation = torch.full((batch,), 0.5, device=device)
    try:
        # With CUDA graphs the first call compiles and warms up, the second records the graph.
        for _ in range(2 if generator.cuda_graphs else 1):
            generator.frames(z, y, truncation)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except Exception as error:
        if is_out_of_memory(error):
            return None
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning(f"torch.compile failed, rendering without it: {reason}")
        return dataclasses.replace(generator, compile_mode=None, synthesize=None)
    return generator


class BackgroundLoader:
    """Loads and compiles the generator on a thread of its own (a `GeneratorThread`) while the
    caller analyses and maps the track; `run` then renders on that same thread, where the
    warm-up recorded any CUDA graphs (torch keeps them per thread). `close` ends the thread."""

    def __init__(self, settings: GeneratorSettings, progress: ProgressCallback | None) -> None:
        from visualizer.model.thread import GeneratorThread

        self.thread = GeneratorThread("visualizer-generator")
        self._loaded = self.thread.submit(
            load_for_render, settings, self.thread.progress(progress), graphs=True
        )

    def join(self) -> Generator:
        """The loaded (and compiled) generator; the loader's exception if it failed."""
        return self._loaded.result()

    def run(
        self,
        function: Callable[..., T],
        *args: Any,
        progress: ProgressCallback | None = None,
        **kwargs: Any,
    ) -> T:
        """``function(*args, progress=..., **kwargs)`` on the loader's thread (the render, with
        the loaded generator); a Ctrl-C stops it at its next progress event, as
        `GeneratorThread.call` says."""
        return self.thread.call(function, *args, progress=self.thread.progress(progress), **kwargs)

    def close(self) -> None:
        self.thread.close()
