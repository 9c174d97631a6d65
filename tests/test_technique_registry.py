"""The technique seam: the registry is the only list of techniques, each draws from its own
random stream, and a new technique (one file + one registry call) moves nothing else.

The new techniques live in files written into a temporary folder and are registered in a fresh
interpreter (the preset schema is built from the registry once, at import), which maps every
built-in preset on generated music; this process maps the same Features without them.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_audio import SR, music_like
from visualizer.analysis.decode import Audio
from visualizer.analysis.features import FrameFeatures, load_features, save_features
from visualizer.analysis.track import analyze
from visualizer.errors import PresetError
from visualizer.mapping import build_timeline
from visualizer.mapping import timeline as timeline_io
from visualizer.mapping.preset_schema import SECTIONS
from visualizer.mapping.presets import list_presets, load_preset
from visualizer.mapping.registry import OTHER_SECTIONS, TECHNIQUES, register
from visualizer.mapping.technique import CLASS_MODES, STAGES, stable_hash, stream

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "visualizer" / "mapping"
PRESETS = [name for name, _ in list_presets()]
ARRAYS = ("class_vectors", "noise", "truncation")

# A latent technique: it draws at construction and on every frame, even while it is off.
SHIMMER = '''
"""Shimmer: the latent leans towards a drifting random direction as the highs rise."""

import math
from dataclasses import dataclass

from visualizer.mapping.technique import FEATURES, Drive, Technique, opt
from visualizer.mapping.warp import blend


@dataclass(frozen=True)
class ShimmerOptions:
    # Angle in radians towards the drifting direction at full signal, 0-1 (0 = off).
    amount: float = opt(0.0, 0.0, 1.0)
    # Signal that sets the angle.
    feature: str = opt("high", choices=FEATURES)
    # Time constant of the signal smoothing in seconds, 0-10.
    smoothing: float = opt(0.2, 0.0, 10.0)


class Shimmer(Technique):
    name, Options, stage = "shimmer", ShimmerOptions, "latent"

    def __init__(self, setup):
        super().__init__(setup)
        self._rng = setup.rng
        self._direction = setup.rng.standard_normal(128)

    def drive(self, options):
        return Drive(options.feature, options.smoothing)

    def step(self, frame, value):
        fresh = self._rng.standard_normal(128)  # drifts with the law kept: 0.8^2 + 0.6^2 = 1
        self._direction = 0.8 * self._direction + 0.6 * fresh
        return blend(value, self._direction, self.options.amount * frame.drives[self.name])
'''
# A class technique: a new word for classes.mode.
STROBE = '''
"""Strobe: two seeded random classes, swapped on every beat."""

from dataclasses import dataclass

from visualizer.mapping.classmix import one_hot
from visualizer.mapping.technique import Classes, Technique, opt


@dataclass(frozen=True)
class StrobeOptions:
    # Beats per swap, 1-16.
    every: int = opt(1, 1, 16)


class Strobe(Technique):
    name, Options, stage, mode = "strobe", StrobeOptions, "classes", "strobe"
    reads = ("is_beat",)

    def __init__(self, setup):
        super().__init__(setup)
        self._pair = one_hot(setup.rng.choice(1000, 2, replace=False))
        self._beats = 0

    def step(self, frame, value):
        self._beats += frame.row.is_beat
        side = self._beats // self.options.every % 2
        return Classes(self._pair[side], frame.row.is_beat)
'''
SCRIPT = """
import contextlib, io, json, sys
from pathlib import Path

out = Path(sys.argv[1])
sys.path.insert(0, str(out / "plugins"))
import shimmer, strobe  # noqa: E401
from visualizer.mapping.registry import register

class Clash(shimmer.Shimmer):
    name = "walk"

results = {}
try:
    register(Clash)
except ValueError as error:
    results["clash"] = str(error)
register(shimmer.Shimmer)  # the one registry call of each new technique
register(strobe.Strobe)

from visualizer.analysis.features import load_features
from visualizer.cli import main
from visualizer.live.control import parameter_specs
from visualizer.mapping import build_timeline, timeline
from visualizer.mapping.presets import list_presets, load_preset

features = load_features(out / "features.npz")
for name, _ in list_presets():
    for causal in (False, True):
        made = build_timeline(features, load_preset(name), causal=causal)
        timeline.save(made, out / f"{name}-{causal}.npz")
for label, overrides in [("shimmer", ["shimmer.amount=0.8"]), ("strobe", ["classes.mode=strobe"])]:
    timeline.save(build_timeline(features, load_preset("default", overrides)), out / f"{label}.npz")

def cli(*args):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(list(args))
    return [code, stdout.getvalue(), stderr.getvalue()]

results["show"] = cli("presets", "show", "pulse", "--set", "shimmer.amount=0.5")
results["unknown"] = cli("presets", "show", "pulse", "--set", "shimmer.amout=0.5")
results["range"] = cli("presets", "show", "pulse", "--set", "shimmer.amount=2")
results["mode"] = cli("presets", "show", "pulse", "--set", "classes.mode=strobe")
(out / "mine.toml").write_text('base = "pulse"\\n[shimmer]\\namount = 0.3\\n')
results["toml"] = load_preset(out / "mine.toml").shimmer.amount
results["controls"] = [s for s in parameter_specs(load_preset("pulse")) if "shimmer" in s["key"]]
try:
    register(shimmer.Shimmer)
except RuntimeError as error:
    results["late"] = str(error)
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def plugged(tmp_path_factory):
    """(folder of the Timelines mapped with two new techniques registered, the script's results,
    the Features both processes map)."""
    out = tmp_path_factory.mktemp("plugged")
    features = analyze(Audio(music_like(24.0, SR, seed=3), SR, None, 0.0), fps=Fraction(30))
    save_features(features, out / "features.npz")
    (out / "plugins").mkdir()
    (out / "plugins" / "shimmer.py").write_text(textwrap.dedent(SHIMMER))
    (out / "plugins" / "strobe.py").write_text(textwrap.dedent(STROBE))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VISUALIZER_CACHE": str(out / "cache")}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return out, json.loads(run.stdout.splitlines()[-1]), load_features(out / "features.npz")


@pytest.mark.parametrize("causal", [False, True])
def test_new_techniques_leave_every_builtin_timeline_bit_identical(plugged, causal):
    out, _, features = plugged
    for name in PRESETS:
        mine = build_timeline(features, load_preset(name), causal=causal)
        theirs = timeline_io.load(out / f"{name}-{causal}.npz")
        for key in ARRAYS:
            assert np.array_equal(getattr(mine, key), getattr(theirs, key)), (name, key)
        assert "[shimmer]" in theirs.preset and "[shimmer]" not in mine.preset


def test_new_techniques_run_when_their_section_asks(plugged):
    out, _, features = plugged
    plain = build_timeline(features, load_preset("default"))
    shimmer = timeline_io.load(out / "shimmer.npz")
    assert np.array_equal(shimmer.class_vectors, plain.class_vectors)
    assert np.array_equal(shimmer.truncation, plain.truncation)
    assert not np.allclose(shimmer.noise, plain.noise, atol=1e-3)  # the latent moved ...
    u = shimmer.noise / shimmer.truncation[:, None]
    assert 0.8 <= np.sqrt(np.mean(u**2)) <= 0.95 and np.abs(u).max() <= 2.0 + 1e-5  # ... lawfully
    strobe = timeline_io.load(out / "strobe.npz")
    assert np.array_equal(strobe.noise, plain.noise)
    shown = {int(i) for i in np.flatnonzero(strobe.class_vectors.sum(axis=0))}
    assert len(shown) == 2  # the seeded pair, swapped on beats (crossfaded: classes.crossfade)


def test_new_sections_reach_the_schema_the_cli_and_the_live_page(plugged):
    _, results, _ = plugged
    code, shown, _ = results["show"]
    assert code == 0 and '[shimmer]\namount = 0.5\nfeature = "high"\nsmoothing = 0.2\n' in shown
    assert "[strobe]\nevery = 1\n" in shown
    code, _, error = results["unknown"]
    assert code == 1 and "unknown preset key 'shimmer.amout' (did you mean 'amount'?)" in error
    code, _, error = results["range"]
    assert code == 1 and "shimmer.amount = 2 is out of range: allowed 0.0 to 1.0" in error
    code, shown, _ = results["mode"]
    assert code == 0 and 'mode = "strobe"' in shown
    assert results["toml"] == 0.3
    keys = {spec["key"]: spec for spec in results["controls"]}
    assert set(keys) == {"shimmer.amount", "shimmer.feature", "shimmer.smoothing"}
    assert keys["shimmer.amount"]["min"] == 0.0 and keys["shimmer.amount"]["max"] == 1.0
    assert "walk" in results["clash"] and "register techniques before" in results["late"]


def test_without_them_their_words_are_rejected():
    with pytest.raises(PresetError, match="unknown preset section or key 'shimmer.amount'"):
        load_preset("pulse", ["shimmer.amount=0.5"])
    with pytest.raises(PresetError, match="classes.mode = 'strobe' is not allowed"):
        load_preset("pulse", ["classes.mode=strobe"])


def test_sections_come_only_from_the_registry():
    """Every section belongs to a registered technique or is one of the registry's documented
    other sections (latent, loop), in that order; nothing else lists techniques."""
    assert list(SECTIONS) == [t.name for t in TECHNIQUES] + list(OTHER_SECTIONS)
    assert set(OTHER_SECTIONS) == {"latent", "loop"}
    for technique in TECHNIQUES:
        assert SECTIONS[technique.name] is technique.Options
        assert technique.stage in STAGES
        assert set(technique.reads) <= {f.name for f in dataclasses.fields(FrameFeatures)}
    for name, options in SECTIONS.items():
        for spec in dataclasses.fields(options):
            assert "lo" in spec.metadata, f"{name}.{spec.name} is not made with `opt`"
    assert [t.mode for t in TECHNIQUES if t.stage == "classes"] == CLASS_MODES
    names = {t.name for t in TECHNIQUES}
    for module in ("mapper", "preset_schema", "presets", "motion", "registry"):
        tree = ast.parse((MAPPING / f"{module}.py").read_text())
        words = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)} - set(STAGES)
        words |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}  # preset.walk
        assert not words & names, f"{module}.py names techniques: {sorted(words & names)}"
    defined = set()
    for path in MAPPING.glob("*.py"):
        tree = ast.parse(path.read_text())
        defined |= {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    option_classes = {name for name in defined if name.endswith("Options")}
    assert option_classes == {options.__name__ for options in SECTIONS.values()}


def test_each_technique_has_its_own_stream():
    digest = hashlib.sha256(b"walk").digest()[:8]
    assert stable_hash("walk") == int.from_bytes(digest, "big") == 0x7A6C4FAC6C5CD720
    expected = np.random.default_rng([7, stable_hash("walk")]).standard_normal(4)
    assert np.array_equal(stream(7, "walk").standard_normal(4), expected)
    assert not np.array_equal(stream(7, "pulse").standard_normal(4), expected)
    assert not np.array_equal(stream(8, "walk").standard_normal(4), expected)


def test_registering_after_the_schema_is_built_is_refused():
    with pytest.raises(RuntimeError, match="before the first preset is loaded"):
        register(TECHNIQUES[0])
