"""Loading the network: ``--weights`` (folder, file, ``random``), the folded safetensors copy
of a pickle checkpoint, and making the module ready to run (precision, layout, a compiled copy
of its convolutions). `visualizer.model.inference.load_generator` builds the render's
`Generator` from these.

The first load of a pickle-format ``.bin`` saves a folded safetensors copy in the cache, keyed by
the source file's sha256 and size; later loads read that copy (faster, and no unpickling).
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from visualizer.content import cache_dir, file_sha256, text_sha256
from visualizer.errors import VisualizerError, WeightsError
from visualizer.files import atomic_output
from visualizer.memory import release_free_memory
from visualizer.model.config import PUBLISHED_MODELS
from visualizer.model.devices import choose_precision, resolve_device
from visualizer.model.registry import CONFIG_NAME, WEIGHTS_NAME, fetch_model
from visualizer.options import COMPILE_MODES
from visualizer.progress import ProgressCallback

if TYPE_CHECKING:
    import torch

    from visualizer.model.network import BigGANDeep

log = logging.getLogger("visualizer")

# --------------------------------------------------------------------------------------------
# Loading


def load_network(
    model: str = "biggan-deep-128",
    weights: str | os.PathLike | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    hf_compatible: bool = False,
    progress: ProgressCallback | None = None,
) -> BigGANDeep:
    """A `BigGANDeep` in eval mode on ``device``.

    ``weights``: None = the cached download of ``model`` (downloaded if missing); ``"random"`` =
    seeded untrained weights of ``model``'s architecture; a folder with ``config.json`` +
    ``pytorch_model.bin``; or a ``.bin``/``.pt``/``.pth``/``.safetensors`` file (architecture
    from ``model``, unless a folded safetensors file records its own).
    """
    from visualizer.model.network import BigGANConfig
    from visualizer.model.random_weights import random_generator

    target = device if not isinstance(device, str) else resolve_device(device)
    BigGANConfig.for_model(model)  # an unknown name fails before any download
    if weights is not None and str(weights) == "random":
        log.warning(
            f"--weights random: {model} with seeded untrained weights; the frames are abstract "
            "textures, not pictures of the chosen classes"
        )
        generator = random_generator(BigGANConfig.for_model(model), seed, hf_compatible)
    elif weights is None:
        folder = download(model, progress=progress)
        try:
            generator = _load_path(folder, model, hf_compatible)
        except WeightsError as error:  # a cache filled before downloads were verified
            raise WeightsError(
                f"{error}; delete {folder} and run 'visualizer models download {model}' again"
            ) from None
    else:
        generator = _load_path(Path(weights), model, hf_compatible)
    # fp32 keeps the picture exact; callers choose half precision with prepare_for_inference.
    generator = prepare_for_inference(generator, target, precision="fp32")
    release_free_memory()  # the state dict and folding temporaries: ~200 MiB at 128 px
    return generator


def download(
    model: str, *, progress: ProgressCallback | None = None, base_url: str | None = None
) -> Path:
    """The cache folder of ``model``, downloaded and verified (`check_weights`) if missing.

    Sources, locking and resuming: `visualizer.model.registry.fetch_model`. ``base_url`` is a
    mirror tried before the others. Raises DownloadError naming every source that failed.
    """
    return fetch_model(
        model,
        verify=lambda folder: check_weights(folder, model),
        progress=progress,
        base_url=base_url,
    )


def check_weights(folder: Path, model: str) -> None:
    """Load ``folder``'s config.json + pytorch_model.bin fully (every key, shape and value check
    the loader makes); WeightsError if they do not make a generator of ``model``'s resolution.

    The load also writes the folded safetensors copy, so the first render after a download
    starts without unpickling again.
    """
    generator = _load_path(folder, model, hf_compatible=False)
    expected = PUBLISHED_MODELS[model]
    if generator.config.resolution != expected:
        raise WeightsError(
            f"{folder / CONFIG_NAME}: a {generator.config.resolution} px model, expected "
            f"{expected} px for {model}"
        )


def _from_published(generator: BigGANDeep, state: dict, source: str = "random weights"):
    from visualizer.model.network import load_state_dict_published

    return load_state_dict_published(generator, state, source)


def _load_path(path: Path, model: str, hf_compatible: bool) -> BigGANDeep:
    from visualizer.model.network import BigGANConfig

    if path.is_dir():
        config_path, weights_path = path / CONFIG_NAME, path / WEIGHTS_NAME
        for needed in (config_path, weights_path):
            if not needed.is_file():
                raise WeightsError(
                    f"{needed}: not found (a weights folder holds {CONFIG_NAME} + {WEIGHTS_NAME})"
                )
        config = BigGANConfig.from_json(config_path)
    elif path.is_file():
        weights_path, config = path, BigGANConfig.for_model(model)
    else:
        raise WeightsError(
            f"weights {str(path)!r} not found: expected a folder with {CONFIG_NAME} + "
            f"{WEIGHTS_NAME}, a .bin/.pt/.safetensors file, or 'random'"
        )
    suffix = weights_path.suffix.lower()
    if suffix == ".safetensors":
        return _load_safetensors(weights_path, config, hf_compatible)
    if suffix not in (".bin", ".pt", ".pth"):
        raise WeightsError(f"{weights_path}: unknown weights format {suffix!r}")
    return _load_pickle_cached(weights_path, config, hf_compatible)


def _load_pickle_cached(path: Path, config, hf_compatible: bool) -> BigGANDeep:
    """Load a published ``.bin`` through the folded safetensors cache (written on first load)."""
    from visualizer.model.network import BigGANDeep

    config_json = json.dumps(config.to_dict(), sort_keys=True)
    key = text_sha256(f"{file_sha256(path)}:{config_json}")[:32]
    folded = cache_dir() / "folded" / f"{key}-{path.stat().st_size}.safetensors"
    if folded.is_file():
        try:
            return _load_safetensors(folded, config, hf_compatible)
        except WeightsError as error:  # a damaged cache entry is rebuilt, never trusted
            log.warning(f"rebuilding the folded weights cache: {error}")
            folded.unlink(missing_ok=True)
    state = _torch_load(path)
    check_tensors(state, str(path))  # read and checked before the model is built
    generator = _from_published(BigGANDeep(config, hf_compatible), state, str(path))
    _save_folded(generator, folded, source=str(path))
    return generator


def _torch_load(path: Path) -> dict:
    import torch

    state = read_checkpoint(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: not a state dict of tensors")
    return state


def read_checkpoint(path: Path) -> object:
    """What a torch.save file holds, loaded with ``weights_only=True`` (tensors and plain
    containers, never code); WeightsError in one line naming the file: not a checkpoint, refused
    (it holds objects that could run code), or truncated/corrupt."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not _looks_like_checkpoint(path):
            raise WeightsError(
                f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)"
            ) from None
        if "weights only" in str(error).lower():
            raise WeightsError(
                f"{path}: refused to load: the file holds objects other than tensors "
                "(it could run code when unpickled)"
            ) from None
        raise WeightsError(
            f"{path}: truncated or corrupt checkpoint ({first_line(error)})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as error:
        raise WeightsError(
            f"{path}: truncated or corrupt checkpoint ({first_line(error)})"
        ) from None


def check_tensors(state: Mapping[str, torch.Tensor], source: str) -> None:
    """WeightsError unless every tensor of a weights file holds finite floating-point values.

    NaN weights rendered an all-black video with exit status 0; integer and bool tensors are
    not weights whatever their shapes. Shapes are checked against the architecture by the
    network's loaders, also before the model is built.
    """
    import torch

    not_float = [f"{k} ({v.dtype})" for k, v in state.items() if not v.is_floating_point()]
    if not_float:
        raise WeightsError(f"{source}: not floating-point weights: {_some(not_float)}")
    # A sum is NaN/inf when any element is: one reduction per tensor, no boolean mask.
    bad = [k for k, v in state.items() if not math.isfinite(v.sum(dtype=torch.float64))]
    if bad:
        raise WeightsError(f"{source}: non-finite values (NaN or inf) in {_some(bad)}")


def _some(items: list[str], count: int = 3) -> str:
    more = f" and {len(items) - count} more" if len(items) > count else ""
    return ", ".join(items[:count]) + more


def _looks_like_checkpoint(path: Path) -> bool:
    """A torch.save file starts as a zip archive (``PK``) or, in the legacy format, with a
    pickle protocol opcode (0x80); anything else is not worth the word 'unpickled'."""
    with open(path, "rb") as handle:
        start = handle.read(2)
    return start == b"PK" or start[:1] == b"\x80"


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (at most 160 characters), or its type's name."""
    text = str(error).strip()
    return text.splitlines()[0][:160] if text else type(error).__name__


def _load_safetensors(path: Path, config, hf_compatible: bool) -> BigGANDeep:
    """A folded (our format, config in its metadata) or published-format safetensors file."""
    from safetensors import safe_open

    from visualizer.model.network import (
        BigGANConfig,
        BigGANDeep,
        check_folded_keys,
        check_published_keys,
        load_state_dict_folded,
    )

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception as error:  # safetensors raises its own exception types
        raise WeightsError(
            f"{path}: truncated or corrupt safetensors file ({first_line(error)})"
        ) from None
    check_tensors(state, str(path))
    if any(k.endswith(".weight_orig") for k in state):
        check_published_keys(config, state, str(path))
        return _from_published(BigGANDeep(config, hf_compatible), state, str(path))
    if "config" in metadata:
        try:
            config = BigGANConfig.from_dict(json.loads(metadata["config"]), source=str(path))
        except json.JSONDecodeError:
            raise WeightsError(f"{path}: unreadable config in the file's metadata") from None
    check_folded_keys(config, hf_compatible, state, str(path))  # before the model is built
    generator = BigGANDeep(config, hf_compatible)
    load_state_dict_folded(generator, state, str(path))
    return generator


def _save_folded(generator: BigGANDeep, dest: Path, source: str) -> None:
    """Write ``generator``'s folded weights atomically; a failure only costs speed next time."""
    from safetensors.torch import save_file

    metadata = {
        "format": "visualizer-biggan-folded-1",
        "config": json.dumps(generator.config.to_dict(), sort_keys=True),
        "source": source,
    }
    try:
        with atomic_output(dest) as tmp:
            state = {k: v.contiguous() for k, v in generator.state_dict().items()}
            save_file(state, str(tmp), metadata=metadata)
    except OSError as error:
        log.warning(f"could not cache folded weights in {dest.parent}: {error}")


# --------------------------------------------------------------------------------------------
# Inference settings (issue 7)


def prepare_for_inference(
    model: BigGANDeep,
    device: str | torch.device | None = None,
    precision: str = "auto",
    channels_last: bool | None = None,
) -> BigGANDeep:
    """Move ``model`` to ``device`` and set it up for fast inference; returns the same model.

    ``precision``: "auto" (fp16 on CUDA, fp32 elsewhere), "fp32", "fp16" or "bf16". Half precision
    applies to the convolutions only: the class embedding, the batch-norm statistics and their
    coefficients stay fp32. ``channels_last`` (default: on) stores activations NHWC (tensor
    cores on CUDA, faster oneDNN kernels on CPU). On CUDA, cuDNN picks its algorithms
    deterministically. Compilation is separate (`compile_synthesize`): the module itself is
    never patched.
    """
    import torch

    if device is None:
        target = model.device
    else:
        target = resolve_device(device) if isinstance(device, str) else device
    precision = choose_precision(precision, target.type)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    model.eval().to(target)
    for part in (model.gen_z, model.layers, model.conv_to_rgb):
        part.to(dtype)
    if channels_last is None:
        # NHWC: tensor cores on CUDA; on CPU oneDNN's NHWC convolutions measured ~25 % faster
        # (BENCHMARKS.md, generator section).
        channels_last = True
    model.memory_format = torch.channels_last if channels_last else torch.contiguous_format
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.to(memory_format=model.memory_format)  # type: ignore[call-overload]
    if target.type == "cuda":
        # cuDNN's own heuristics, not per-process timing (benchmark mode), pick the convolution
        # algorithms: a resumed or split render in another process then computes each batch
        # with the same algorithms, bit for bit (batches have fixed shapes and positions).
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    _throwaway_forward(model)
    return model


def compile_synthesize(model: BigGANDeep, mode: str | None) -> Callable | None:
    """``torch.compile`` of ``model.synthesize`` in ``mode`` (from `resolve_compile`); None when
    ``mode`` is None (eager).

    `BigGANDeep.synthesize` takes tensors only, so moving truncation never recompiles; a new
    batch shape does, so callers keep the batch size fixed. Compiled kernels are cached across
    runs in ``<cache>/inductor`` unless TORCHINDUCTOR_CACHE_DIR is set. Compilation is lazy: the
    first call compiles.
    """
    if mode is None:
        return None
    import torch

    use_compile_cache()
    return torch.compile(model.synthesize, mode=None if mode == "default" else mode)


def _throwaway_forward(model: BigGANDeep) -> None:
    """Run one frame and discard it.

    The first forward pass of a fresh process sometimes differs from every later one in the last
    bits (measured on the 2-core CPU under load: 1 of 10 fresh processes, max 4e-5 on [-1, 1]),
    enough to flip a pixel by one level. Discarding it means every frame, in a render and in its
    resumed continuation in another process, comes from the same arithmetic.
    """
    import torch

    config = model.config
    z = torch.zeros(1, config.z_dim, device=model.device)
    y = torch.zeros(1, config.num_classes, device=model.device)
    y[:, 0] = 1.0
    with torch.inference_mode():
        model.frames_uint8(z, y, torch.full((1,), 0.5, device=model.device))


def resolve_compile(compile: bool | str, device: torch.device) -> str | None:
    """The torch.compile mode ``compile`` means on ``device``; None = run eagerly.

    "auto" is "reduce-overhead" on CUDA (CUDA graphs replay the fixed-shape batch without per-
    kernel launch cost) and off on a CPU, where the first compile costs tens of seconds (33 s for
    a tiny 128 px model on 2 cores) for no measured gain over oneDNN's eager convolutions.
    """
    if compile is True:
        return "default"
    if compile is False or compile is None:
        return None
    if compile not in COMPILE_MODES:
        raise VisualizerError(
            f"unknown compile mode {compile!r}: expected {', '.join(COMPILE_MODES)}"
        )
    if compile == "auto":
        return "reduce-overhead" if device.type == "cuda" else None
    return None if compile == "off" else compile


def use_compile_cache() -> Path:
    """Point inductor's on-disk caches at ``<cache>/inductor`` unless the user chose a folder.

    Must run before the first torch.compile call: with warm caches a later run skips the
    kernel compilation (the graph is still traced, which takes seconds, not minutes).
    """
    folder = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if not folder:
        folder = str(cache_dir() / "inductor")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
    if "TORCHINDUCTOR_FX_GRAPH_CACHE" not in os.environ:
        os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "1"
        # The config reads the variable when torch._inductor is first imported; set both.
        import torch._inductor.config as inductor_config

        inductor_config.fx_graph_cache = True
    return Path(folder)
