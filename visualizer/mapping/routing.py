"""Routing: which part of the music a technique follows, the mix or one of its stems.

A signal key of a preset (`walk.feature`, `pulse.trigger`, `zoom.feature`, `classes.feature`,
`classes.switch`, ...) names a feature, alone or as ``SOURCE.FEATURE``: "bass.energy" is the
energy of the bass stem, "drums.onsets" the drum stem's onsets, "other.chroma" the harmony's
pitch classes. A plain "energy" (or "mix.energy") is the mix's, as it always was, so a preset
written before stems maps exactly as it did. The sources are the mix and the stems a separator
writes (`visualizer.options.SOURCES`); a stem that was not given is derived from the mix when it
can be (`visualizer.mapping.stand_in`), else the preset cannot map (`missing_source`).

The fields are made with `signal` (an `opt` whose choices hold every SOURCE.FEATURE), so the
schema checks them, the live page lists them, and `sources_read` finds what a preset reads.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection
from typing import Any

from visualizer.mapping.technique import opt
from visualizer.options import DERIVED_STEMS, SOURCES


def signal(default: str, features: tuple[str, ...], *, words: tuple[str, ...] = ()) -> Any:
    """A preset field naming one of ``features`` of a source ("energy", "bass.energy"), or one
    of ``words``, which name no source ("none")."""
    named = (f"{source}.{feature}" for source in SOURCES for feature in features)
    return opt(default, choices=(*words, *features, *named), signal=features, words=words)


def split_signal(name: str) -> tuple[str, str]:
    """ "bass.energy" -> ("bass", "energy"); a plain "energy" -> ("mix", "energy")."""
    source, dot, feature = name.rpartition(".")
    return (source, feature) if dot else ("mix", name)


def source_of(name: str) -> str:
    """The source a signal name reads ("mix" for a plain feature or a word)."""
    return split_signal(name)[0]


def signal_error(key: str, value: object, meta: Any) -> str:
    """The one line that refuses ``value`` for the signal key ``key``: its valid features and
    sources, and the nearest source when the one named is unknown."""
    features, words = meta["signal"], meta.get("words", ())
    source = split_signal(value)[0] if isinstance(value, str) else ""
    hint = ""
    if source not in SOURCES:
        close = difflib.get_close_matches(source, SOURCES, n=1)
        hint = f" (unknown source {source!r}" + (f": did you mean {close[0]!r}?)" if close else ")")
    alone = "".join(f", or {word!r}" for word in words)
    return (
        f"{key} = {value!r} is not allowed{hint}: name a feature ({', '.join(features)}) of the "
        f"mix, or SOURCE.FEATURE with SOURCE one of {', '.join(SOURCES)} "
        f"(e.g. 'bass.{features[0]}'){alone}"
    )


def signal_keys(preset: Any) -> list[tuple[str, str]]:
    """(``section.key``, value) of every signal key of ``preset``, in section order."""
    found = []
    for field in dataclasses.fields(preset):
        section = getattr(preset, field.name)
        if not dataclasses.is_dataclass(section):
            continue
        for spec in dataclasses.fields(section):
            if spec.metadata.get("signal"):
                found.append((f"{field.name}.{spec.name}", getattr(section, spec.name)))
    return found


def sources_read(preset: Any) -> dict[str, str]:
    """Each source ``preset`` reads -> the first ``section.key = value`` that names it (the mix
    always, first)."""
    read = {"mix": ""}
    for key, value in signal_keys(preset):
        read.setdefault(source_of(value), f"{key} = {value!r}")
    return read


def stems_read(preset: Any) -> list[str]:
    """The stems ``preset`` reads, in the order its keys name them."""
    return [source for source in sources_read(preset) if source != "mix"]


def missing_source(preset: Any, given: Collection[str]) -> str | None:
    """Why ``preset`` cannot map with the stems ``given``: the first stem it reads that was not
    given and has no stand-in, in one line; None when it can."""
    for source, where in sources_read(preset).items():
        if source != "mix" and source not in given and source not in DERIVED_STEMS:
            return (
                f"the preset reads the {source} stem ({where}), which was not given and cannot "
                f"be derived from the mix (stand-ins exist for {', '.join(DERIVED_STEMS)}): "
                f"give it with --stems {source}=FILE, or name another source"
            )
    return None
