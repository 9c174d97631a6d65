"""The model-family seam: what a kind of generator states about itself.

A family is a kind of network that turns Timeline rows into frames (BigGAN-deep today,
`visualizer.model.biggan_deep`). It states the inputs it takes per frame (latent values and the
class-vector length), the models it offers with their frame size in pixels, and how one of its
networks is loaded ready to run. `visualizer.model.catalog` holds the table of families; a new
family is one module defining a `ModelFamily` plus one line there.

Torch-free: the command line reads the model names from the catalog without loading torch; a
family's ``load`` and ``compile`` import what they need when called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelFamily:
    """A kind of generator.

    ``load(model, weights, *, device, precision, seed, progress)`` returns a network in eval
    mode on ``device`` (a ``torch.device``) in ``precision`` ("fp32", "fp16" or "bf16", already
    resolved), whose ``frames_uint8(z (B, latent_size), class_vectors (B, n_classes),
    truncation (B,))`` gives uint8 (B, R, R, 3) frames, R = ``models[model]``. ``weights`` is
    None (the family's cached download), "random" (seeded untrained weights) or a path.
    """

    name: str  # "biggan-deep"
    models: Mapping[str, int]  # model name -> frame size in pixels (square frames)
    latent_size: int  # latent values per frame
    n_classes: int  # length of a frame's class vector
    load: Callable[..., Any]
    # (network, torch.compile mode) -> the compiled body frames_uint8 takes as its last
    # argument; None: the family renders eagerly whatever --compile says.
    compile: Callable[[Any, str], Callable | None] | None = None
    # model name -> elements per frame of the largest activation of a forward pass, which caps
    # the automatic batch (no tensor may reach 2**31 elements); None: no cap beyond the default.
    largest_activation: Callable[[str], int] | None = None
    # Where the weights come from, for a user who has none: shown by `visualizer models list`.
    weights_note: str = ""
