"""BigGAN-deep generator (128/256/512 px) that loads the published `pytorch-pretrained-biggan`
checkpoints (``config.json`` + ``pytorch_model.bin``).

The network holds *folded* weights: spectral norm is applied once at load (``W / (u . W v)`` in
float64) and the module tree is made of plain `nn.Linear` / `nn.Conv2d`. The conditional batch
norms are fused to ``x * a + b``; all their ``scale``/``offset`` linears form one GEMM
(`BigGANDeep.cond_affine`) and all their 51-row statistics tables are concatenated, so the
per-sample coefficients of a whole batch come from two gathers and one matrix product.

`BigGANDeep.forward` is split in two: `BigGANDeep.coefficients` (fp32, truncation-dependent, never
compiled) and `BigGANDeep.synthesize` (the convolutions, which `visualizer.model.inference` may
compile or run in half precision). Truncation reaches the heavy part only as tensors, so a compiled
`synthesize` never recompiles as truncation moves.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from visualizer.errors import VisualizerError, WeightsError
from visualizer.model.config import BigGANConfig

# --------------------------------------------------------------------------------------------
# The network


def bn_relu(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Fused batch norm + ReLU: relu(x * a + b), a/b (N, C) broadcast over H, W.

    The ReLU runs in place on the new tensor: one activation-sized buffer instead of two.
    """
    return torch.addcmul(b[:, :, None, None], x, a[:, :, None, None]).relu_()


Norm = Callable[[Tensor, int], Tensor]  # (activation, bn index within the block) -> relu(bn(x))


class GenBlock(nn.Module):
    """Bottleneck residual block: 4 x (cond BN, ReLU, conv), skip keeps the first in//2 channels."""

    def __init__(self, c_in: int, c_out: int, upsample: bool) -> None:
        super().__init__()
        mid = c_in // 4
        self.upsample, self.c_in, self.c_out, self.mid = upsample, c_in, c_out, mid
        self.conv_0 = nn.Conv2d(c_in, mid, 1)
        self.conv_1 = nn.Conv2d(mid, mid, 3, padding=1)
        self.conv_2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.conv_3 = nn.Conv2d(mid, c_out, 1)

    @property
    def bn_sizes(self) -> tuple[int, int, int, int]:
        return (self.c_in, self.mid, self.mid, self.mid)

    def forward(self, x: Tensor, a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
        return self.run(x, lambda h, k: bn_relu(h, a[k], b[k]))

    def run(self, x: Tensor, norm: Norm) -> Tensor:
        h = self.conv_0(norm(x, 0))
        h = norm(h, 1)
        if self.upsample:
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.conv_1(h)
        h = self.conv_2(norm(h, 2))
        h = self.conv_3(norm(h, 3))
        skip = x[:, : self.c_out] if self.c_out != self.c_in else x
        if not self.upsample:
            return h.add_(skip)
        # h += nearest-upsampled skip, without building the upsampled copy: each skip pixel is
        # added to its 2 x 2 block of h (a view; the same sums, bit for bit). At 512 px that copy
        # was the largest tensor of the network (N x 128 x 512 x 512 floats).
        n, c, height, width = h.shape
        blocks = h.view(n, c, height // 2, 2, width // 2, 2)
        blocks.add_(skip[:, :, :, None, :, None])
        return h


class SelfAttention(nn.Module):
    """SAGAN attention: unscaled logits, 2x2 max-pooled keys/values, ``x + gamma * o(attn)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o_conv = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        q = self.theta(x).flatten(2).transpose(1, 2)  # (N, HW, C/8)
        k = F.max_pool2d(self.phi(x), 2).flatten(2).transpose(1, 2)  # (N, HW/4, C/8)
        v = F.max_pool2d(self.g(x), 2).flatten(2).transpose(1, 2)  # (N, HW/4, C/2)
        o = F.scaled_dot_product_attention(q, k, v, scale=1.0)  # (N, HW, C/2)
        o = o.transpose(1, 2).reshape(n, c // 2, h, w)
        return x + self.gamma * self.o_conv(o)


class BigGANDeep(nn.Module):
    """BigGAN-deep generator with folded spectral norm and fused conditional batch norm.

    ``forward(z (N, z_dim), class_vectors (N, num_classes), truncation (N,) in (0, 1])`` returns
    ``(N, 3, R, R)`` float RGB in [-1, 1]. ``hf_compatible=True`` reproduces the reference package's
    (reversed) interpolation of the truncation statistics and its float rounding; the default is
    correct linear interpolation between the rows k/(n_stats-1).
    """

    bn_means: Tensor  # buffers (n_stats, n_cond + ch): the truncation statistics tables
    bn_vars: Tensor

    def __init__(self, config: BigGANConfig, hf_compatible: bool = False) -> None:
        super().__init__()
        self.config, self.hf_compatible = config, hf_compatible
        ch, cdim = config.channel_width, 2 * config.z_dim
        self.embeddings = nn.Linear(config.num_classes, config.z_dim, bias=False)
        self.gen_z = nn.Linear(cdim, 4 * 4 * 16 * ch)
        layers: list[nn.Module] = []
        for index, (up, m_in, m_out) in enumerate(config.layers):
            if index == config.attention_layer_position:
                layers.append(SelfAttention(ch * m_in))
            layers.append(GenBlock(ch * m_in, ch * m_out, up))
        self.layers = nn.ModuleList(layers)
        self.bn_sizes = [s for m in self.layers if isinstance(m, GenBlock) for s in m.bn_sizes]
        n_cond = sum(self.bn_sizes)
        # All conditional scale (first n_cond rows) and offset (next n_cond rows) linears.
        self.cond_affine = nn.Linear(cdim, 2 * n_cond, bias=False)
        # Statistics of every conditional BN, then of the final BN: (n_stats, n_cond + ch).
        self.register_buffer("bn_means", torch.zeros(config.n_stats, n_cond + ch))
        self.register_buffer("bn_vars", torch.ones(config.n_stats, n_cond + ch))
        self.bn_weight = nn.Parameter(torch.ones(ch))
        self.bn_bias = nn.Parameter(torch.zeros(ch))
        self.conv_to_rgb = nn.Conv2d(ch, 3, 3, padding=1)  # only the RGB rows of the published conv
        self.memory_format = torch.contiguous_format
        self.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return self.gen_z.weight.device

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def dtype(self) -> torch.dtype:
        """The convolutions' dtype (fp32, fp16 or bf16); batch-norm coefficients stay fp32."""
        return self.gen_z.weight.dtype

    # -- truncation statistics (fp32, outside anything compiled) -------------------------------

    def _stat_rows(self, truncation: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Rows (lo, hi) of the statistics tables and their weights, each (N,) / (N, 1)."""
        steps = self.config.n_stats - 1
        if self.hf_compatible:
            return self._stat_rows_reference(truncation)
        pos = truncation.to(self.device, torch.float32).clamp(0.0, 1.0) * steps
        lo = pos.floor().clamp(max=steps - 1)
        frac = (pos - lo)[:, None]
        lo = lo.long()
        return lo, lo + 1, 1.0 - frac, frac

    def _stat_rows_reference(self, truncation: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        # The package computes math.modf(t / (1/50)) on a Python float and weights row lo by the
        # fraction (swapped); an fp32 truncation is read back as its shortest decimal so 0.58
        # behaves as the Python float 0.58 did there.
        held = truncation.detach().cpu()
        if held.dtype != torch.float64:
            values = [float(str(np.float32(v))) for v in held.float().numpy()]
        else:
            values = held.tolist()
        step = 1.0 / (self.config.n_stats - 1)
        lo, hi, w_lo, w_hi = [], [], [], []
        for t in values:
            coef, whole = math.modf(t / step)
            start = int(whole)
            lo.append(start)
            hi.append(start if coef == 0.0 else start + 1)
            w_lo.append(1.0 if coef == 0.0 else coef)
            w_hi.append(0.0 if coef == 0.0 else 1.0 - coef)
        dev = self.device
        as_w = lambda w: torch.tensor(w, dtype=torch.float64).float()[:, None].to(dev)  # noqa: E731
        as_i = lambda i: torch.tensor(i, dtype=torch.long, device=dev)  # noqa: E731
        return as_i(lo), as_i(hi), as_w(w_lo), as_w(w_hi)

    def coefficients(
        self, z: Tensor, class_vectors: Tensor, truncation: Tensor | float
    ) -> tuple[Tensor, Tensor, Tensor]:
        """fp32 conditioning ``cond (N, 2*z_dim)`` and BN coefficients ``a, b (N, n_cond + ch)``."""
        dev = self.device
        n = z.shape[0]
        truncation = _as_truncation(truncation, n)
        z = z.to(dev, torch.float32)
        y = class_vectors.to(dev, torch.float32)
        if z.ndim != 2 or z.shape[1] != self.config.z_dim:
            raise ValueError(f"z must be (N, {self.config.z_dim}), got {tuple(z.shape)}")
        if y.shape != (n, self.config.num_classes):
            raise ValueError(
                f"class_vectors must be ({n}, {self.config.num_classes}), got {tuple(y.shape)}"
            )
        cond = torch.cat([z, self.embeddings(y.to(self.embeddings.weight.dtype)).float()], dim=1)
        lo, hi, w_lo, w_hi = self._stat_rows(truncation)
        mean = self.bn_means[lo] * w_lo + self.bn_means[hi] * w_hi
        var = self.bn_vars[lo] * w_lo + self.bn_vars[hi] * w_hi
        scale, offset = self.cond_affine(cond).float().chunk(2, dim=1)
        gain = torch.cat([1.0 + scale, self.bn_weight.float().expand(n, -1)], dim=1)
        shift = torch.cat([offset, self.bn_bias.float().expand(n, -1)], dim=1)
        a = gain * torch.rsqrt(var + self.config.eps)
        return cond, a, shift - mean * a

    # -- the heavy part ------------------------------------------------------------------------

    def synthesize(self, cond: Tensor, a: Tensor, b: Tensor) -> Tensor:
        """Convolutional body: ``(cond, a, b)`` from `coefficients` -> (N, 3, R, R) in [-1, 1]."""
        dtype = self.gen_z.weight.dtype
        cond, a, b = cond.to(dtype), a.to(dtype), b.to(dtype)
        sizes = [*self.bn_sizes, self.config.channel_width]
        a_parts, b_parts = a.split(sizes, dim=1), b.split(sizes, dim=1)
        # gen_z's output is laid out H, W, C (TensorFlow order).
        h = self.gen_z(cond).view(cond.shape[0], 4, 4, -1).permute(0, 3, 1, 2)
        h = h.contiguous(memory_format=self.memory_format)
        k = 0
        for layer in self.layers:
            if isinstance(layer, GenBlock):
                h = layer(h, a_parts[k : k + 4], b_parts[k : k + 4])
                k += 4
            else:
                h = layer(h)
        h = bn_relu(h, a_parts[-1], b_parts[-1])
        return torch.tanh(self.conv_to_rgb(h))

    def forward(self, z: Tensor, class_vectors: Tensor, truncation: Tensor | float) -> Tensor:
        return self.synthesize(*self.coefficients(z, class_vectors, truncation)).float()

    @torch.inference_mode()
    def frames_uint8(
        self,
        z: Tensor,
        class_vectors: Tensor,
        truncation: Tensor | float,
        synthesize: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None,
    ) -> Tensor:
        """Frames as ``torch.uint8 (N, R, R, 3)`` on the model's device (converted there).

        ``synthesize``: the convolutional body to run, e.g. a ``torch.compile`` of
        `synthesize` (the module is never patched); None = this module's own.
        """
        body = self.synthesize if synthesize is None else synthesize
        x = body(*self.coefficients(z, class_vectors, truncation))
        x = ((x.float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
        return x.permute(0, 2, 3, 1).contiguous()


def _as_truncation(truncation: Tensor | float, n: int) -> Tensor:
    t = torch.as_tensor(truncation)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"truncation must be a scalar or ({n},), got {tuple(t.shape)}")
    if t.device.type == "cpu":  # checking a GPU tensor would stall the stream
        bad = t[~((t > 0) & (t <= 1))]
        if bad.numel():
            raise VisualizerError(f"truncation {float(bad[0]):g} is out of range: expected (0, 1]")
    return t


# --------------------------------------------------------------------------------------------
# The published state-dict format (spectral norm unfolded, per-module BN tables)


def published_shapes(config: BigGANConfig) -> OrderedDict[str, tuple[int, ...]]:
    """Every key of a published checkpoint for ``config``, in the package's order, with shapes."""
    ch, cdim, n_stats = config.channel_width, 2 * config.z_dim, config.n_stats
    out: OrderedDict[str, tuple[int, ...]] = OrderedDict()
    out["embeddings.weight"] = (config.z_dim, config.num_classes)

    def sn(prefix: str, shape: tuple[int, ...], bias: bool) -> None:
        if bias:
            out[f"{prefix}.bias"] = (shape[0],)
        out[f"{prefix}.weight_orig"] = shape
        out[f"{prefix}.weight_u"] = (shape[0],)
        out[f"{prefix}.weight_v"] = (math.prod(shape[1:]),)

    sn("generator.gen_z", (4 * 4 * 16 * ch, cdim), True)
    for j, (kind, c_in, c_out) in enumerate(_layer_plan(config)):
        p = f"generator.layers.{j}"
        if kind == "attn":
            out[f"{p}.gamma"] = (1,)
            for name, co, ci in (("theta", c_in // 8, c_in), ("phi", c_in // 8, c_in)):
                sn(f"{p}.snconv1x1_{name}", (co, ci, 1, 1), False)
            sn(f"{p}.snconv1x1_g", (c_in // 2, c_in, 1, 1), False)
            sn(f"{p}.snconv1x1_o_conv", (c_in, c_in // 2, 1, 1), False)
            continue
        mid = c_in // 4
        convs = [(mid, c_in, 1, 1), (mid, mid, 3, 3), (mid, mid, 3, 3), (c_out, mid, 1, 1)]
        for k, c_bn in enumerate((c_in, mid, mid, mid)):
            out[f"{p}.bn_{k}.running_means"] = (n_stats, c_bn)
            out[f"{p}.bn_{k}.running_vars"] = (n_stats, c_bn)
            sn(f"{p}.bn_{k}.scale", (c_bn, cdim), False)
            sn(f"{p}.bn_{k}.offset", (c_bn, cdim), False)
            sn(f"{p}.conv_{k}", convs[k], True)
    for name, shape in (("weight", (ch,)), ("bias", (ch,))):
        out[f"generator.bn.{name}"] = shape
    out["generator.bn.running_means"] = (n_stats, ch)
    out["generator.bn.running_vars"] = (n_stats, ch)
    sn("generator.conv_to_rgb", (ch, ch, 3, 3), True)
    return out


def _layer_plan(config: BigGANConfig) -> list[tuple[str, int, int]]:
    ch, plan = config.channel_width, []
    for index, (_, m_in, m_out) in enumerate(config.layers):
        if index == config.attention_layer_position:
            plan.append(("attn", ch * m_in, ch * m_in))
        plan.append(("block", ch * m_in, ch * m_out))
    return plan


def _fold(state: Mapping[str, Tensor], prefix: str) -> Tensor:
    """Spectral norm as torch's legacy hook applies it in eval mode, computed in float64."""
    w = state[f"{prefix}.weight_orig"]
    u, v = state[f"{prefix}.weight_u"].double(), state[f"{prefix}.weight_v"].double()
    sigma = torch.dot(u, w.reshape(w.shape[0], -1).double() @ v)
    return w.float() / sigma.item()


def check_published_keys(config: BigGANConfig, state: Mapping[str, object], source: str) -> None:
    """Raise WeightsError naming the first few missing, unexpected or mis-shaped keys."""
    check_shapes(published_shapes(config), state, source)


def check_folded_keys(
    config: BigGANConfig, hf_compatible: bool, state: Mapping[str, object], source: str
) -> None:
    """The same for the folded format (`BigGANDeep.state_dict()`): the expected shapes come from
    a model built on the meta device (no memory), so a file is checked before a real build."""
    with torch.device("meta"):
        model = BigGANDeep(config, hf_compatible)
    check_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()}, state, source)


def _shape(value: object) -> tuple[int, ...] | str:
    return tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__


def check_shapes(
    expected: Mapping[str, tuple[int, ...]], state: Mapping[str, object], source: str
) -> None:
    """WeightsError naming the first few keys of ``state`` missing, unexpected or mis-shaped."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {_shape(state[k])} (expected {expected[k]})"
        for k in expected
        if k in state and _shape(state[k]) != expected[k]
    ]
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected)):
        if keys:
            raise WeightsError(f"{source}: {label} {_first(keys)} - not a checkpoint of this model")
    if wrong:
        raise WeightsError(f"{source}: wrong shapes: {_first(wrong)}")


def _first(items: Sequence[str], count: int = 3) -> str:
    more = f" and {len(items) - count} more" if len(items) > count else ""
    return ", ".join(items[:count]) + more


@torch.no_grad()
def load_state_dict_published(
    model: BigGANDeep, state_dict: Mapping[str, Tensor], source: str
) -> BigGANDeep:
    """Fold a published (``weight_orig/_u/_v``) state dict into ``model``."""
    config = model.config
    check_published_keys(config, state_dict, source)
    s = {k: v.float() for k, v in state_dict.items()}  # values: `loading.check_tensors`
    model.embeddings.weight.copy_(s["embeddings.weight"])
    model.gen_z.weight.copy_(_fold(s, "generator.gen_z"))
    model.gen_z.bias.copy_(s["generator.gen_z.bias"])
    scales, offsets, means, varss = [], [], [], []
    for j, layer in enumerate(model.layers):
        p = f"generator.layers.{j}"
        if isinstance(layer, SelfAttention):
            layer.gamma.copy_(s[f"{p}.gamma"])
            for name in ("theta", "phi", "g", "o_conv"):
                getattr(layer, name).weight.copy_(_fold(s, f"{p}.snconv1x1_{name}"))
            continue
        for k in range(4):
            conv = getattr(layer, f"conv_{k}")
            conv.weight.copy_(_fold(s, f"{p}.conv_{k}"))
            conv.bias.copy_(s[f"{p}.conv_{k}.bias"])
            scales.append(_fold(s, f"{p}.bn_{k}.scale"))
            offsets.append(_fold(s, f"{p}.bn_{k}.offset"))
            means.append(s[f"{p}.bn_{k}.running_means"])
            varss.append(s[f"{p}.bn_{k}.running_vars"])
    model.cond_affine.weight.copy_(torch.cat(scales + offsets, dim=0))
    model.bn_means.copy_(torch.cat([*means, s["generator.bn.running_means"]], dim=1))
    model.bn_vars.copy_(torch.cat([*varss, s["generator.bn.running_vars"]], dim=1))
    model.bn_weight.copy_(s["generator.bn.weight"])
    model.bn_bias.copy_(s["generator.bn.bias"])
    model.conv_to_rgb.weight.copy_(_fold(s, "generator.conv_to_rgb")[:3])
    model.conv_to_rgb.bias.copy_(s["generator.conv_to_rgb.bias"][:3])  # type: ignore[union-attr]
    return model


def load_state_dict_folded(
    model: BigGANDeep, state_dict: Mapping[str, Tensor], source: str
) -> None:
    """Load our own folded format (`BigGANDeep.state_dict()`, e.g. the safetensors cache)."""
    check_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()}, state_dict, source)
    model.load_state_dict(dict(state_dict), strict=True)
