"""BigGAN-deep, the model family every built-in model belongs to.

Three published generators of 128, 256 and 512 px, each taking 128 latent values and a class
vector over the 1000 ImageNet classes per frame (`reference/biggan-checkpoint-format.md`). The
network is `visualizer.model.network.BigGANDeep`; its weights come from the registry's verified
downloads (`visualizer.model.registry`), a file or folder, or seeded random weights.
"""

from __future__ import annotations

from typing import Any

from visualizer.model.config import PUBLISHED_MODELS, BigGANConfig
from visualizer.model.family import ModelFamily


def load(model: str, weights: Any, *, device: Any, precision: str, seed: int, progress=None):
    """The network of ``model`` on ``device`` in ``precision``, ready to render."""
    from visualizer.model import loading

    network = loading.load_network(model, weights, device=device, seed=seed, progress=progress)
    return loading.prepare_for_inference(network, precision=precision)


def compile_body(network: Any, mode: str):
    from visualizer.model.loading import compile_synthesize

    return compile_synthesize(network, mode)


def largest_activation(model: str) -> int:
    return BigGANConfig.for_model(model).largest_activation()


BIGGAN_DEEP = ModelFamily(
    name="biggan-deep",
    models=PUBLISHED_MODELS,
    latent_size=128,
    n_classes=1000,
    load=load,
    compile=compile_body,
    largest_activation=largest_activation,
    weights_note="visualizer models download NAME (or the first render downloads it)",
)
