"""The BigGAN-deep architecture as data: `BigGANConfig` from ``config.json`` with validation, and
the published layer plans for 128, 256 and 512 px (see reference/biggan-checkpoint-format.md).

Torch-free, so the CLI and the registry can read a config without loading torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visualizer.errors import WeightsError

Layers = tuple[tuple[int, int, int], ...]  # (upsamples 0/1, in multiplier, out multiplier)
_L128: Layers = ((0, 16, 16), (1, 16, 16), (0, 16, 16), (1, 16, 8), (0, 8, 8), (1, 8, 4))
_L128 += ((0, 4, 4), (1, 4, 2), (0, 2, 2), (1, 2, 1))
_L256: Layers = ((0, 16, 16), (1, 16, 16), (0, 16, 16), (1, 16, 8), (0, 8, 8), (1, 8, 8))
_L256 += ((0, 8, 8), (1, 8, 4), (0, 4, 4), (1, 4, 2), (0, 2, 2), (1, 2, 1))
PUBLISHED_LAYERS = {128: _L128, 256: _L256, 512: _L256 + ((0, 1, 1), (1, 1, 1))}
# The one table of the published BigGAN-deep models and their frame sizes in pixels (the model
# family `visualizer.model.biggan_deep` offers exactly these).
PUBLISHED_MODELS = {f"biggan-deep-{resolution}": resolution for resolution in PUBLISHED_LAYERS}


# Upper bounds, generous around the published models (ch 128, z 128, 1000 classes, 51 stats,
# up to 14 blocks with multipliers up to 16, 512 px): a hand-edited or hostile config.json is
# refused before any memory is allocated for it.
MAX_SIZES = {
    "z_dim": 1024,
    "channel_width": 256,
    "num_classes": 10_000,
    "n_stats": 1024,
    "class_embed_dim": 1024,
}
MAX_LAYERS, MAX_MULTIPLIER, MAX_RESOLUTION = 32, 32, 1024


@dataclass(frozen=True)
class BigGANConfig:
    """The architecture, as in the published ``config.json`` (see the checkpoint reference)."""

    output_dim: int = 128  # resolution in px; must equal 4 * 2**(number of upsampling layers)
    z_dim: int = 128  # noise size; the class embedding has the same size
    class_embed_dim: int = 128  # informational (the package ignores it too)
    channel_width: int = 128  # `ch`: block channels are ch * multiplier
    num_classes: int = 1000
    layers: tuple[tuple[bool, int, int], ...] = tuple((bool(u), i, o) for u, i, o in _L128)
    attention_layer_position: int = 8  # attention inserted before this block index
    eps: float = 1e-4  # batch-norm variance epsilon
    n_stats: int = 51  # rows of the truncation statistics tables (truncation k / (n_stats-1))

    @classmethod
    def for_model(cls, name: str) -> BigGANConfig:
        """The published config of ``biggan-deep-128`` / ``-256`` / ``-512``."""
        if name not in PUBLISHED_MODELS:
            raise WeightsError(f"unknown model {name!r} (available: {', '.join(PUBLISHED_MODELS)})")
        res = PUBLISHED_MODELS[name]
        layers = tuple((bool(u), i, o) for u, i, o in PUBLISHED_LAYERS[res])
        return cls(output_dim=res, layers=layers)

    def largest_activation(self) -> int:
        """Elements per frame of the biggest activation of a forward pass.

        A block takes ch * in channels at side r and returns ch * out channels at 2r (r when it
        does not upsample); its internal tensors are smaller (a quarter of the channels).
        """
        side, largest = 4, 0
        for up, c_in, c_out in self.layers:
            largest = max(largest, self.channel_width * c_in * side * side)
            side *= 2 if up else 1
            largest = max(largest, self.channel_width * c_out * side * side)
        return largest

    @classmethod
    def from_json(cls, path: str | Path) -> BigGANConfig:
        """Parse and validate a ``config.json``; a problem is a WeightsError naming file and key."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WeightsError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise WeightsError(f"{path}: not a readable JSON config ({error})") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: object, source: str = "config") -> BigGANConfig:
        if not isinstance(data, dict):
            raise WeightsError(f"{source}: expected a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise WeightsError(
                f"{source}: unknown key {unknown[0]!r} (not a BigGAN-deep config; "
                f"expected keys: {', '.join(sorted(known))})"
            )
        kwargs: dict[str, Any] = {}  # checked value by value below
        for key in known - {"layers", "eps"}:
            if key in data:
                value = data[key]
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise WeightsError(
                        f"{source}: key {key!r} must be an integer >= 0, got {value!r}"
                    )
                kwargs[key] = value
        if "eps" in data:
            eps = data["eps"]
            if not isinstance(eps, int | float) or isinstance(eps, bool) or not 0 < eps < 1:
                raise WeightsError(f"{source}: key 'eps' must be a number in (0, 1), got {eps!r}")
            kwargs["eps"] = float(eps)
        if "layers" in data:
            kwargs["layers"] = _parse_layers(data["layers"], source)
        config = cls(**kwargs)
        config.validate(source)
        return config

    def validate(self, source: str = "config") -> None:
        """Reject architectures this generator cannot build (WeightsError naming the key)."""
        if not self.layers:
            raise WeightsError(f"{source}: key 'layers' is empty")
        ch = self.channel_width
        for name in ("z_dim", "channel_width", "num_classes", "n_stats"):
            if getattr(self, name) < (2 if name == "n_stats" else 1):
                raise WeightsError(f"{source}: key {name!r} is too small: {getattr(self, name)}")
        for name, most in MAX_SIZES.items():
            if getattr(self, name) > most:
                raise WeightsError(
                    f"{source}: key {name!r} = {getattr(self, name)} is beyond any BigGAN-deep "
                    f"(at most {most})"
                )
        if (
            len(self.layers) > MAX_LAYERS
            or max(max(c_in, c_out) for _, c_in, c_out in self.layers) > MAX_MULTIPLIER
        ):
            raise WeightsError(
                f"{source}: key 'layers' is beyond any BigGAN-deep (at most {MAX_LAYERS} blocks, "
                f"multipliers up to {MAX_MULTIPLIER})"
            )
        if self.output_dim > MAX_RESOLUTION or self.resolution > MAX_RESOLUTION:
            raise WeightsError(f"{source}: resolution beyond {MAX_RESOLUTION} px")
        if not 0 <= self.attention_layer_position < len(self.layers):
            raise WeightsError(
                f"{source}: key 'attention_layer_position' must be in [0, {len(self.layers) - 1}],"
                f" got {self.attention_layer_position}"
            )
        for index, (_, c_in, c_out) in enumerate(self.layers):
            if c_out != c_in and c_out * 2 != c_in:
                raise WeightsError(
                    f"{source}: key 'layers'[{index}]: out multiplier must equal in or in/2, "
                    f"got {c_in} -> {c_out}"
                )
            if (ch * c_in) % 4:
                raise WeightsError(f"{source}: key 'layers'[{index}]: channels not divisible by 4")
        if (ch * self.layers[self.attention_layer_position][1]) % 8:
            raise WeightsError(
                f"{source}: key 'attention_layer_position': channels not divisible by 8"
            )
        if self.layers[-1][2] != 1:
            raise WeightsError(f"{source}: key 'layers': the last block must end at multiplier 1")
        if self.output_dim != self.resolution:
            raise WeightsError(
                f"{source}: key 'output_dim' is {self.output_dim} but 'layers' upsample to "
                f"{self.resolution} px"
            )

    @property
    def resolution(self) -> int:
        return 4 * 2 ** sum(1 for up, _, _ in self.layers if up)

    def to_dict(self) -> dict[str, object]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["layers"] = [list(layer) for layer in self.layers]
        return data


def _parse_layers(value: object, source: str) -> tuple[tuple[bool, int, int], ...]:
    if not isinstance(value, list):
        raise WeightsError(f"{source}: key 'layers' must be a list, got {value!r}")
    layers = []
    for index, item in enumerate(value):
        ok = isinstance(item, list | tuple) and len(item) == 3 and isinstance(item[0], bool | int)
        ok = ok and all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in item[1:])
        if not ok:
            raise WeightsError(
                f"{source}: key 'layers'[{index}] must be [upsample, in_mult, out_mult], "
                f"got {item!r}"
            )
        layers.append((bool(item[0]), int(item[1]), int(item[2])))
    return tuple(layers)
