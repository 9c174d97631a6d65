"""A model family that is not BigGAN-deep, as a newcomer would add one: this file plus one
`visualizer.model.catalog.register` line (the tests register it; a built-in family is a line
in `catalog.FAMILIES`).

"toy-16" renders 16 x 16 frames through one fixed random linear map (`ToyGenerator`), taking
the Timeline's rows as they are (128 latent values, 1000 class weights). "narrow-16" states a
latent of 64 values, which the mapping does not make: a render must refuse it in one line.
"""

from __future__ import annotations

from typing import Any

from tests.render_fixtures import ToyGenerator
from visualizer.errors import WeightsError
from visualizer.model.family import ModelFamily


def load(model: str, weights: Any, *, device: Any, precision: str, seed: int, progress=None):
    if str(weights) != "random":
        raise WeightsError(f"{model} has only random weights (--weights random)")
    return ToyGenerator(resolution=16, seed=seed).to(device).eval()


TOY = ModelFamily(name="toy", models={"toy-16": 16}, latent_size=128, n_classes=1000, load=load)
NARROW = ModelFamily(
    name="narrow", models={"narrow-16": 16}, latent_size=64, n_classes=1000, load=load
)
