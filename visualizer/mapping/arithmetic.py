"""Class specs as class vectors, with class arithmetic (technique k).

Wherever a preset lists classes, an item is one of:

- a class: a name, synonym or index ("tiger", "Panthera tigris", 292), a one-hot vector;
- a theme ("big-cats"), which stands for its classes, one item each;
- a weighted sum or difference of classes: ``"tiger + 0.5 volcano"``, ``"tiger - 0.3 tabby cat"``,
  ``"0.7 * goldfish + 0.3 jellyfish"``. Terms are separated by `` + `` or `` - `` with spaces
  around the sign (class names themselves contain hyphens), each term an optional coefficient
  (> 0, optionally followed by ``*``) and a class.

BigGAN embeds the class vector linearly (``embed(y) = y @ W``) and was trained on one-hot
vectors, so a mix is normalised the way a blend is: the positive weights sum to 1 and the
negative ones are divided by the same sum. ``tiger + 0.5 volcano`` is 2/3 tiger and 1/3 volcano;
``tiger - 0.3 tabby cat`` is tiger with 0.3 of tabby subtracted. Sums of positive terms are
convex blends of class embeddings, the same region a class interpolation passes through, so they
stay image-like. A difference extrapolates beyond the embeddings the generator was trained on:
keep the subtracted part at or below about half of the positive part; more than the positive part
(a vector that is mostly "not X") is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from visualizer.errors import ClassNameError
from visualizer.mapping.classes import expand_themes, find_theme, resolve_class
from visualizer.options import N_CLASSES

# A sign between terms needs whitespace on both sides: "ring-tailed lemur" is one class.
_SIGN = re.compile(r"\s+([+-])\s+")
# An optional leading coefficient: "0.5 volcano", "0.5*volcano", "2 * tiger".
_COEFFICIENT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:\*\s*|\s+)(\S.*)$")
MAX_NEGATIVE = 1.0  # largest allowed negative mass after normalisation (see the module doc)


def is_mix(spec: object) -> bool:
    """True when ``spec`` is class arithmetic (has a `` + ``/`` - `` or a coefficient)."""
    if not isinstance(spec, str):
        return False
    return bool(_SIGN.search(" " + spec.strip()) or _COEFFICIENT.match(spec))


def parse_mix(spec: str) -> dict[int, float]:
    """The normalised weights {class index: weight} of a class-arithmetic ``spec``.

    Positive weights sum to 1; the negative ones (differences) are scaled by the same factor
    and their total may not exceed `MAX_NEGATIVE`. Raises ClassNameError naming the bad term.
    """
    parts = _SIGN.split(" " + spec.strip())  # ["", sign?, ...] after the leading space
    text = parts[0].strip()
    terms = [("+", text)] if text else []
    terms += list(zip(parts[1::2], parts[2::2], strict=True))
    if not terms:
        raise ClassNameError(f"empty class mix {spec!r}: expected e.g. 'tiger + 0.5 volcano'")
    weights: dict[int, float] = {}
    for sign, term in terms:
        coefficient, name = _term(spec, term)
        index = resolve_class(name)
        weights[index] = weights.get(index, 0.0) + (coefficient if sign == "+" else -coefficient)
    positive = sum(w for w in weights.values() if w > 0)
    if positive <= 0:
        raise ClassNameError(f"class mix {spec!r} has no positive part: add at least one class")
    normalised = {index: w / positive for index, w in weights.items() if w != 0}
    negative = -sum(w for w in normalised.values() if w < 0)
    if negative > MAX_NEGATIVE + 1e-9:
        raise ClassNameError(
            f"class mix {spec!r} subtracts more than it adds ({negative:.2f} of the positive "
            f"part): keep the subtracted weights at most {MAX_NEGATIVE:g} (about 0.5 looks best)"
        )
    return normalised


def _term(spec: str, term: str) -> tuple[float, str]:
    """(coefficient, class name) of one term of ``spec``."""
    term = term.strip()
    match = _COEFFICIENT.match(term)
    coefficient, name = (float(match.group(1)), match.group(2)) if match else (1.0, term)
    if not name or not coefficient > 0:
        raise ClassNameError(
            f"bad term {term!r} in class mix {spec!r}: expected [COEFFICIENT > 0] CLASS"
        )
    if find_theme(name):
        raise ClassNameError(
            f"theme '{name}' in class mix {spec!r}: arithmetic takes single classes"
        )
    return coefficient, name


def spec_vector(spec: str | int) -> np.ndarray:
    """float32 (1000,) class vector of one class or class-arithmetic ``spec`` (not a theme)."""
    vector = np.zeros(N_CLASSES, dtype=np.float32)
    if is_mix(spec):
        for index, weight in parse_mix(str(spec)).items():
            vector[index] = weight
    else:
        vector[resolve_class(spec)] = 1.0
    return vector


def spec_vectors(specs: Iterable[str | int], *, unique: bool = False) -> np.ndarray:
    """float32 (N, 1000): one row per class or mix, themes expanded into their classes.

    ``unique``: drop rows equal to an earlier one (a palette is a set: "big-cats" and "tiger"
    together hold tiger once). Raises ClassNameError for an item that does not resolve.
    """
    rows: list[np.ndarray] = []
    for spec in expand_themes(specs):
        row = spec_vector(spec)
        if not (unique and any(np.array_equal(row, seen) for seen in rows)):
            rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, N_CLASSES), dtype=np.float32)


def check_spec(spec: object) -> None:
    """Raise ClassNameError unless ``spec`` is a class, a theme or a valid class mix."""
    if isinstance(spec, bool) or not isinstance(spec, str | int):
        raise ClassNameError(f"invalid class {spec!r}: expected a name, theme or index 0-999")
    if find_theme(spec) is None:
        spec_vector(spec)
