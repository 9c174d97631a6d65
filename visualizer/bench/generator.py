"""Generator benchmark: our BigGAN-deep against a plain eager reference on the same weights.

The reference is the `pytorch-pretrained-biggan` package in eval mode when it is installed, else
`EagerReference` below: the same network computed the unoptimised way (spectral norm divided out
on every call, unfused batch norm, all 128 channels of the last convolution). Both get the same
random published-format checkpoint and the same inputs; batches alternate between the two so
that machine noise hits both alike.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from visualizer.errors import VisualizerError
from visualizer.model.loading import (
    compile_synthesize,
    prepare_for_inference,
    resolve_compile,
    resolve_device,
)
from visualizer.model.network import BigGANConfig, BigGANDeep, load_state_dict_published
from visualizer.model.random_weights import random_state_dict as _random_state_dict
from visualizer.options import CONCRETE_PRECISIONS
from visualizer.progress import ProgressCallback, report


def _run(body: Callable, network: Any, z: Tensor, y: Tensor, t: Tensor) -> Tensor:
    return body(*network.coefficients(z, y, t)).float()


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"cpu ({name}, {torch.get_num_threads()} threads)"


# Precision sweep (issue 7): fps, achieved TFLOP/s against a matmul peak, ratio to the reference

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class PrecisionResult:
    precision: str
    s_per_frame: float  # median over the timed batches / batch size
    tflops: float  # achieved: FLOPs per frame / s_per_frame / 1e12
    peak_tflops: float  # square-matmul peak of this precision, same run
    speedup: float  # reference s/frame / ours s/frame
    max_abs_diff: float  # max |ours - fp32 reference| on the bench inputs, in [-1, 1] units
    finite: bool  # every output value finite

    @property
    def fps(self) -> float:
        return 1.0 / self.s_per_frame


@dataclass(frozen=True)
class SweepResult:
    model: str
    device: str
    torch_version: str
    batch_size: int
    frames: int  # frames timed per implementation
    compile: str | None  # torch.compile mode of ours, None = eager
    gflop_per_frame: float
    reference_name: str
    reference_s_per_frame: float
    precisions: tuple[PrecisionResult, ...]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["reference_fps"] = 1.0 / self.reference_s_per_frame
        for row in data["precisions"]:
            row["fps"] = 1.0 / row["s_per_frame"]
        return data

    def lines(self) -> list[str]:
        head = (
            f"generator {self.model} on {self.device}, torch {self.torch_version}, batch "
            f"{self.batch_size}, {self.frames} frames each, {self.gflop_per_frame:.2f} GFLOP/frame"
            f", compile {self.compile or 'off'}"
        )
        rows = [
            "| implementation | s/frame | fps | TFLOP/s | matmul peak | % of peak | "
            "vs reference | max abs diff vs fp32 | finite |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        ref = self.reference_s_per_frame
        ref_tflops = self.gflop_per_frame / 1e3 / ref
        rows.append(
            f"| reference ({self.reference_name}) | {ref:.4f} | {1 / ref:.2f} | {ref_tflops:.3f}"
            " | | | 1.00x | 0 | yes |"
        )
        for r in self.precisions:
            rows.append(
                f"| visualizer {r.precision} | {r.s_per_frame:.4f} | {r.fps:.2f} | {r.tflops:.3f}"
                f" | {r.peak_tflops:.3f} | {100 * r.tflops / r.peak_tflops:.0f}% | "
                f"{r.speedup:.2f}x | {r.max_abs_diff:.2g} | {'yes' if r.finite else 'NO'} |"
            )
        return [head, *rows]


def default_precisions(device: torch.device) -> tuple[str, ...]:
    """All three on CUDA; fp32 and fp16 on MPS (no bf16 convolutions before macOS 14); fp32 and
    bf16 on a CPU (fp16 convolutions there are emulated, slow)."""
    if device.type == "mps":
        return ("fp32", "fp16")
    return CONCRETE_PRECISIONS if device.type == "cuda" else ("fp32", "bf16")


def flops_per_frame(config: BigGANConfig) -> float:
    """FLOPs (2 per multiply-add) of one forward of batch 1, counted on the meta device.

    Reference figures: 17.92 / 58.80 / 75.99 GFLOP at 128 / 256 / 512 px.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = BigGANDeep(config).eval()
        z, y = torch.zeros(1, config.z_dim), torch.zeros(1, config.num_classes)
        t = torch.full((1,), 0.5)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(z, y, t)
    return float(counter.get_total_flops())


def matmul_peak_tflops(
    device: torch.device, precision: str, size: int | None = None, repeats: int = 5
) -> float:
    """Best TFLOP/s of a square ``size`` matmul (default 8192 on CUDA, 1024 on a CPU).

    Like with like: fp32 convolutions on CUDA use TF32 tensor cores when cuDNN allows it (its
    default), while fp32 matmuls do not by default, so the fp32 peak is measured with the
    matmul TF32 switch set as cuDNN's is (else "% of peak" can pass 100 %).
    """
    size = size or (8192 if device.type == "cuda" else 1024)
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=gen).to(device, _DTYPES[precision]) for _ in "ab")
    run = lambda: a @ b  # noqa: E731
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32
    try:
        run()  # warm-up: kernel selection, allocator
        best = min(_timed(run, device) for _ in range(repeats))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    return 2 * size**3 / best / 1e12


def run_precision_sweep(
    model: str = "biggan-deep-128",
    *,
    precisions: tuple[str, ...] | None = None,
    batch_size: int = 1,
    frames: int = 4,
    device: str = "auto",
    compile: str = "off",
    seed: int = 0,
    config: BigGANConfig | None = None,
    matmul_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> SweepResult:
    """Generator-only speed of ours in each precision and of the fp32 eager reference.

    Same random published-format weights and inputs for all; one warm-up batch each (which
    compiles, with ``compile``), then ``frames`` frames each, implementations alternating
    batch by batch so that machine noise hits all alike. Medians are reported.
    """
    target = resolve_device(device)
    precisions = tuple(precisions or default_precisions(target))
    for name in precisions:
        if name not in CONCRETE_PRECISIONS:
            raise VisualizerError(
                f"unknown precision {name!r}: expected {', '.join(CONCRETE_PRECISIONS)}"
            )
    config = config or BigGANConfig.for_model(model)
    report(progress, "bench", 0, None, "step", "building random weights")
    state = _random_state_dict(config, seed)
    base = load_state_dict_published(BigGANDeep(config, hf_compatible=True), state, "random")
    runners: dict[str, Callable[[], Tensor]] = {}
    reference, reference_name = _reference(config, state, target)
    del state
    gen = torch.Generator().manual_seed(seed)
    z = (torch.randn(batch_size, config.z_dim, generator=gen).clamp(-2, 2) * 0.4).to(target)
    y = F.one_hot(torch.randint(1000, (batch_size,), generator=gen), 1000).float().to(target)
    t = torch.full((batch_size,), 0.4)
    mode = resolve_compile(compile, target)
    for name in precisions:
        ours = prepare_for_inference(copy.deepcopy(base), target, precision=name)
        body = compile_synthesize(ours, mode) or ours.synthesize
        runners[name] = partial(_run, body, ours, z, y, t)
    runners["reference"] = lambda: reference(z, y, 0.4)
    del base
    batches = max(1, math.ceil(frames / batch_size))
    times: dict[str, list[float]] = {name: [] for name in runners}
    with torch.inference_mode():
        outputs = warm_up_outputs(runners)
        for i in range(batches):
            for name, run in runners.items():
                times[name].append(_timed(run, target))
            report(progress, "bench", (i + 1) * batch_size, batches * batch_size, "frame", model)
    flops = flops_per_frame(config)
    ref_s = statistics.median(times["reference"]) / batch_size
    rows = []
    for name in precisions:
        s = statistics.median(times[name]) / batch_size
        out = outputs[name]
        rows.append(
            PrecisionResult(
                precision=name,
                s_per_frame=s,
                tflops=flops / s / 1e12,
                peak_tflops=matmul_peak_tflops(target, name, matmul_size),
                speedup=ref_s / s,
                max_abs_diff=(out - outputs["reference"]).abs().max().item(),
                finite=bool(torch.isfinite(out).all()),
            )
        )
    return SweepResult(
        model=model,
        device=device_description(target),
        torch_version=torch.__version__,
        batch_size=batch_size,
        frames=batches * batch_size,
        compile=mode,
        gflop_per_frame=flops / 1e9,
        reference_name=reference_name,
        reference_s_per_frame=ref_s,
        precisions=tuple(rows),
    )


def warm_up_outputs(runners: Mapping[str, Callable[[], Tensor]]) -> dict[str, Tensor]:
    """One call of each runner (compiles, warms caches); its output as an fp32 copy of its own.

    A CUDA-graph output is the graph's static buffer, which the next replay overwrites, and
    ``.float()`` of an fp32 tensor is that same tensor: clone, so the comparison sees the frames
    of this call whatever runs after it.
    """
    return {name: run().float().clone() for name, run in runners.items()}


def _timed(fn: Callable[[], Tensor], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def _reference(config: BigGANConfig, state: Mapping[str, Tensor], device: torch.device):
    """The reference package in eval mode when installed, else `EagerReference`."""
    try:
        from pytorch_pretrained_biggan import BigGAN
        from pytorch_pretrained_biggan import BigGANConfig as PackageConfig
    except ImportError:
        return EagerReference(config, state).to(device), "in-repo eager fp32"
    package = BigGAN(PackageConfig.from_dict(config.to_dict()))
    package.load_state_dict(dict(state), strict=True)
    return package.eval().to(device), "pytorch-pretrained-biggan eager fp32"


class EagerReference(torch.nn.Module):
    """The network the straightforward way, from a published state dict (for benchmarks only).

    Every call re-normalises each weight by ``u . W v`` (as spectral-norm hooks do), batch norm
    is ``(x - mean) / sqrt(var + eps) * (1 + scale) + offset`` in four passes, and the last
    convolution computes all its channels before keeping RGB. ``forward(z, y, truncation: float)``.
    """

    def __init__(self, config: BigGANConfig, state: Mapping[str, Tensor]) -> None:
        super().__init__()
        self.config = config
        for key, value in state.items():
            self.register_buffer(key.replace(".", "__"), value.float().clone())

    def _p(self, key: str) -> Tensor:
        return getattr(self, key.replace(".", "__"))

    def _w(self, prefix: str) -> Tensor:
        w, u, v = (self._p(f"{prefix}.weight_{s}") for s in ("orig", "u", "v"))
        return w / torch.dot(u, w.reshape(w.shape[0], -1) @ v)

    def _stats(self, prefix: str, truncation: float) -> tuple[Tensor, Tensor]:
        coef, lo = math.modf(truncation * (self.config.n_stats - 1))
        means, varss = self._p(f"{prefix}.running_means"), self._p(f"{prefix}.running_vars")
        if coef == 0:
            return means[int(lo)], varss[int(lo)]
        lo = int(lo)
        return (
            means[lo] * coef + means[lo + 1] * (1 - coef),
            varss[lo] * coef + varss[lo + 1] * (1 - coef),
        )

    def _bn(self, x: Tensor, prefix: str, cond: Tensor, truncation: float) -> Tensor:
        mean, var = self._stats(prefix, truncation)
        gain = 1 + cond @ self._w(f"{prefix}.scale").t()
        bias = cond @ self._w(f"{prefix}.offset").t()
        x = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.config.eps)
        return x * gain[:, :, None, None] + bias[:, :, None, None]

    def _conv(self, x: Tensor, prefix: str, bias: bool = True) -> Tensor:
        weight = self._w(prefix)
        b = self._p(f"{prefix}.bias") if bias else None
        return F.conv2d(x, weight, b, padding=weight.shape[-1] // 2)

    def forward(self, z: Tensor, y: Tensor, truncation: float) -> Tensor:
        cond = torch.cat([z, y @ self._p("embeddings.weight").t()], dim=1)
        gz = cond @ self._w("generator.gen_z").t() + self._p("generator.gen_z.bias")
        h = gz.view(z.shape[0], 4, 4, -1).permute(0, 3, 1, 2).contiguous()
        j = 0
        for index, (up, _, _) in enumerate(self.config.layers):
            if index == self.config.attention_layer_position:
                h = self._attention(h, f"generator.layers.{j}")
                j += 1
            h = self._block(h, f"generator.layers.{j}", up, cond, truncation)
            j += 1
        mean, var = self._stats("generator.bn", truncation)
        h = F.batch_norm(
            h, mean, var, self._p("generator.bn.weight"), self._p("generator.bn.bias"),
            False, 0.0, self.config.eps,
        )  # fmt: skip
        return torch.tanh(self._conv(F.relu(h), "generator.conv_to_rgb")[:, :3])

    def _block(self, x: Tensor, p: str, up: bool, cond: Tensor, truncation: float) -> Tensor:
        h = x
        for k in range(4):
            h = F.relu(self._bn(h, f"{p}.bn_{k}", cond, truncation))
            if k == 1 and up:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self._conv(h, f"{p}.conv_{k}")
        skip = x[:, : h.shape[1]]
        if up:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return h + skip

    def _attention(self, x: Tensor, p: str) -> Tensor:
        n, c, hh, ww = x.shape
        theta = self._conv(x, f"{p}.snconv1x1_theta", False).view(n, c // 8, hh * ww)
        phi = F.max_pool2d(self._conv(x, f"{p}.snconv1x1_phi", False), 2).view(n, c // 8, -1)
        attn = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
        g = F.max_pool2d(self._conv(x, f"{p}.snconv1x1_g", False), 2).view(n, c // 2, -1)
        o = torch.bmm(g, attn.permute(0, 2, 1)).view(n, c // 2, hh, ww)
        return x + self._p(f"{p}.gamma") * self._conv(o, f"{p}.snconv1x1_o_conv", False)
