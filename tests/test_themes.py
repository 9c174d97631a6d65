"""Class themes and class arithmetic: resolution, errors, and what reaches the class vector."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mapping_fixtures import synthetic_features
from visualizer.errors import ClassNameError, PresetError
from visualizer.mapping import build_timeline
from visualizer.mapping.arithmetic import parse_mix, spec_vector, spec_vectors
from visualizer.mapping.classes import (
    class_name,
    find_theme,
    resolve_class,
    resolve_classes,
    search_classes,
    themes,
)
from visualizer.mapping.presets import list_presets, load_preset

TIGER, VOLCANO, TABBY = 292, 980, 281


def test_at_least_16_curated_themes_with_descriptions():
    found = themes()
    assert len(found) >= 16
    for theme in found:
        assert theme.description and "\n" not in theme.description
        assert len(theme.classes) >= 5, theme.name
        assert len(set(theme.classes)) == len(theme.classes), theme.name
    by_name = {theme.name: theme for theme in found}
    assert {"big-cats", "landscapes", "architecture", "sea-life", "birds"} <= set(by_name)
    assert {"tiger", "lion", "leopard"} <= {class_name(i) for i in by_name["big-cats"].classes}
    landscapes = {class_name(i) for i in by_name["landscapes"].classes}
    assert {"volcano", "cliff", "valley", "lakeshore", "coral reef", "geyser"} <= landscapes
    architecture = {class_name(i) for i in by_name["architecture"].classes}
    assert {"church", "mosque", "palace", "monastery", "castle"} <= architecture


def test_no_theme_name_is_also_a_class_name_or_synonym():
    # themes() refuses such a name when it loads; a class index or name resolves as before.
    for theme in themes():
        assert not search_classes(theme.name) or search_classes(theme.name)[0][1] != theme.name
    assert resolve_classes(["tiger", 980]) == [TIGER, VOLCANO]


def test_theme_names_expand_wherever_classes_are_accepted():
    big_cats = find_theme("big-cats").classes
    assert resolve_classes(["big-cats"]) == list(big_cats)
    assert resolve_classes(["Big Cats", "volcano"]) == [*big_cats, VOLCANO]
    preset = load_preset("default", ["classes.names=landscapes"])
    assert preset.classes.names == ("landscapes",)
    y = build_timeline(synthetic_features(60), preset).class_vectors
    assert set(np.flatnonzero(y.sum(axis=0))) <= set(find_theme("landscapes").classes)
    # A palette is a set: the theme and one of its own classes give each class once.
    assert len(spec_vectors(["big-cats", "tiger"], unique=True)) == len(big_cats)
    load_preset("default", ['classes.names=["big-cats", "tiger"]'])


def test_unknown_theme_gets_did_you_mean_help():
    with pytest.raises(ClassNameError, match=r"unknown class 'big-cat' \(did you mean 'big-cats'"):
        resolve_classes(["big-cat"])
    with pytest.raises(PresetError, match=r"classes.names: unknown class 'landscape' \(did you"):
        load_preset("default", ["classes.names=landscape"])
    with pytest.raises(ClassNameError, match=r"'big-cats' is a theme of 8 classes, not one"):
        resolve_class("big-cats")


def test_a_theme_counts_as_its_classes_for_breed_and_keyframes():
    with pytest.raises(PresetError, match="breed.names needs exactly 2 classes .* got 8"):
        load_preset("default", ["breed.names=big-cats"])
    preset = load_preset("default", ["classes.mode=keyframes", "keyframes.names=big-cats"])
    assert preset.keyframes.names == ("big-cats",)


@pytest.mark.parametrize(
    ("spec", "weights"),
    [
        ("tiger + 0.5 volcano", {TIGER: 2 / 3, VOLCANO: 1 / 3}),
        ("0.7 * tiger + 0.3 volcano", {TIGER: 0.7, VOLCANO: 0.3}),
        ("tiger - 0.3 tabby cat", {TIGER: 1.0, TABBY: -0.3}),
        ("292 + 980", {TIGER: 0.5, VOLCANO: 0.5}),
        ("2 tiger", {TIGER: 1.0}),
    ],
)
def test_class_arithmetic_weights(spec, weights):
    assert parse_mix(spec) == pytest.approx(weights)
    vector = spec_vector(spec)
    assert set(np.flatnonzero(vector)) == set(weights)
    assert vector[vector > 0].sum() == pytest.approx(1.0)  # positive part normalised like a blend


def test_hyphenated_class_names_are_not_differences():
    assert np.flatnonzero(spec_vector("ring-tailed lemur")).tolist() == [383]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tiger - tiger", "no positive part"),
        ("tiger - 2 volcano", "subtracts more than it adds"),
        ("tiger + big-cats", "arithmetic takes single classes"),
        ("tiger + tigre", r"unknown class 'tigre' \(did you mean 'tiger'"),
        ("tiger + 0 volcano", "expected \\[COEFFICIENT > 0\\] CLASS"),
    ],
)
def test_class_arithmetic_errors(spec, message):
    with pytest.raises(ClassNameError, match=message):
        spec_vector(spec)
    with pytest.raises(PresetError, match="classes.names: "):
        load_preset("default", [f"classes.names={spec}"])


def test_class_arithmetic_reaches_the_class_vector():
    preset = load_preset(
        "default", ["classes.mode=breed", "breed.names=tiger + 0.5 volcano,goldfish"]
    )
    y = build_timeline(synthetic_features(30), preset).class_vectors
    # a * (2/3 tiger + 1/3 volcano) + (1 - a) * goldfish: tiger stays twice volcano.
    assert np.allclose(y[:, TIGER], 2 * y[:, VOLCANO], atol=1e-6)
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)


def test_cli_lists_themes_with_their_classes(capsys):
    from visualizer.cli import main

    assert main(["presets", "classes", "--themes"]) == 0
    out = capsys.readouterr().out
    for theme in themes():
        assert f"{theme.name}  ({len(theme.classes)})  {theme.description}" in out
    assert "volcano, cliff, valley" in out
    assert main(["presets", "classes", "--themes", "mosque"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("architecture  (") and "big-cats" not in out
    assert main(["presets", "classes", "--themes", "qqqzzzq"]) == 1
    assert "no theme matches 'qqqzzzq'" in capsys.readouterr().err
    assert main(["presets", "classes"]) == 2


def test_class_differences_reach_the_timeline_as_negative_weights():
    preset = load_preset("default", ["classes.names=tiger - 0.3 tabby cat,volcano"])
    y = build_timeline(synthetic_features(30), preset).class_vectors
    assert y[:, TABBY].min() < 0 and np.allclose(y[:, TABBY], -0.3 * y[:, TIGER], atol=1e-6)


@pytest.mark.parametrize("name", [name for name, _ in list_presets()])
def test_every_builtin_preset_shows_curated_classes(name):
    """No built-in preset draws random classes: each names its classes, themes or mixes, and
    every class that reaches its Timeline is one of them."""
    preset = load_preset(name)
    mode = preset.classes.mode
    own = {"keyframes": preset.keyframes.names, "breed": preset.breed.names}
    own["morph"] = preset.morph.names
    lists = [own.get(mode) or preset.classes.names, *preset.classes.palettes]
    assert all(lists), f"{name} leaves a class list empty (a random draw)"
    if preset.classes.switch == "sections":
        assert preset.classes.palettes, f"{name} switches to random palettes"
    allowed = set()
    for names in lists:
        allowed |= set(np.flatnonzero(spec_vectors(names).any(axis=0)).tolist())
    features = synthetic_features(300, sections=[0, 60, 120, 180, 240])
    shown = np.flatnonzero(np.abs(build_timeline(features, preset).class_vectors).sum(axis=0))
    assert set(shown.tolist()) <= allowed
