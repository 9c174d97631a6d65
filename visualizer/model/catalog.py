"""The table of model families and the lookups every command uses: which family a model name
belongs to, its frame size, and the names `--model` offers.

Adding a family: write its module (a `ModelFamily`, see `visualizer.model.family`) and add one
line to `FAMILIES`. Tests and plugins may also `register` one at run time. Torch-free.
"""

from __future__ import annotations

from visualizer.errors import WeightsError
from visualizer.model.biggan_deep import BIGGAN_DEEP
from visualizer.model.family import ModelFamily

FAMILIES: dict[str, ModelFamily] = {
    BIGGAN_DEEP.name: BIGGAN_DEEP,
}


def register(family: ModelFamily) -> None:
    """Add ``family``; ValueError when it or one of its model names is taken already."""
    taken = set(family.models) & set(model_names())
    if family.name in FAMILIES or taken:
        raise ValueError(f"model family {family.name!r} clashes with {sorted(taken) or 'a family'}")
    FAMILIES[family.name] = family


def unregister(name: str) -> None:
    FAMILIES.pop(name, None)


def model_names() -> tuple[str, ...]:
    """Every model of every family, in table order (the choices of --model besides 'auto')."""
    return tuple(model for family in FAMILIES.values() for model in family.models)


def family_of(model: str) -> ModelFamily:
    """The family of ``model``; WeightsError listing the models there are."""
    for family in FAMILIES.values():
        if model in family.models:
            return family
    raise WeightsError(f"unknown model {model!r} (available: {', '.join(model_names())})")


def resolution_of(model: str) -> int:
    """Frame size in pixels of ``model`` (frames are square)."""
    return family_of(model).models[model]
