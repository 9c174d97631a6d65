from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from visualizer.cli import main
from visualizer.errors import PresetError
from visualizer.mapping.arithmetic import is_mix
from visualizer.mapping.classes import find_theme
from visualizer.mapping.preset_schema import Preset
from visualizer.mapping.presets import (
    list_presets,
    load_preset,
    preset_from_toml,
    preset_to_toml,
)
from visualizer.mapping.truncation import TruncationOptions

REPO = Path(__file__).resolve().parent.parent


def test_builtins_listed_with_descriptions():
    presets = dict(list_presets())
    assert {"default", "pulse", "dreamy", "zoom", "breed", "sections"} <= set(presets)
    assert len(presets) >= 6
    for name, description in presets.items():
        assert description and "\n" not in description, name


@pytest.mark.parametrize("name", [name for name, _ in list_presets()])
def test_builtin_roundtrips_through_toml(name, tmp_path):
    preset = load_preset(name)
    text = preset_to_toml(preset)
    assert preset_from_toml(text) == preset
    path = tmp_path / "copy.toml"
    path.write_text(text)
    assert load_preset(path) == preset


def test_builtins_differ_and_cover_every_technique():
    presets = {name: load_preset(name) for name, _ in list_presets()}
    assert len({preset_to_toml(p) for p in presets.values()}) == len(presets)
    used = set()
    for p in presets.values():
        used.add(p.classes.mode)  # a chroma, b keyframes, c breed
        used |= {"walk"} if p.walk.speed > 0 else set()
        used |= {f"pulse-{p.pulse.trigger}"} if p.pulse.amount > 0 else set()
        used |= {"truncation"} if p.truncation.min < p.truncation.max else set()
        used |= {"hallucinate"} if p.hallucinate.amount > 0 else set()
        used |= {"zoom"} if p.zoom.amount > 0 else set()
        used |= {"rotary"} if p.rotary.radius > 0 else set()
        used |= {"switch"} if p.classes.switch == "sections" else set()
        if p.classes.mode == "keyframes":
            used.add(f"interp-{p.keyframes.interpolation}")
        used |= {"poses"} if p.poses.seeds else set()  # m latent keyframes
        used |= {"still"} if p.classes.mode == "morph" and p.morph.still else set()  # l
        used |= {"loop"} if p.loop.enabled else set()
        used |= {"crossfade"} if p.classes.crossfade > 0 else set()
        lists = [p.classes.names, p.keyframes.names, p.breed.names, *p.classes.palettes]
        items = [item for names in lists for item in names]
        used |= {"arithmetic"} if any(is_mix(item) for item in items) else set()  # k
        used |= {"themes"} if any(find_theme(item) for item in items) else set()
    for technique in [
        "chroma", "keyframes", "breed", "walk", "pulse-onsets", "pulse-beats", "truncation",
        "hallucinate", "zoom", "rotary", "switch", "interp-linear", "interp-slerp", "morph",
        "poses", "still", "loop", "crossfade", "arithmetic", "themes",
    ]:  # fmt: skip
        assert technique in used


def test_base_inheritance(tmp_path):
    child = tmp_path / "child.toml"
    child.write_text('description = "c"\nbase = "pulse"\n[rotary]\nbeats = 8.0\n')
    preset = load_preset(child)
    pulse = load_preset("pulse")
    assert preset.rotary.beats == 8.0
    assert preset.rotary.radius == pulse.rotary.radius  # inherited from pulse
    assert preset.pulse == pulse.pulse  # pulse itself inherits from default
    assert preset.description == "c"


def test_base_loop_is_an_error(tmp_path):
    (tmp_path / "a.toml").write_text('base = "b.toml"\n')
    (tmp_path / "b.toml").write_text('base = "a.toml"\n')
    with pytest.raises(PresetError, match="loop"):
        load_preset(tmp_path / "a.toml")


def test_overrides():
    preset = load_preset(
        "default",
        [
            "classes.names=tiger,volcano",
            "walk.speed=1",
            "truncation.invert=true",
            "seed=42",
            'description="x"',
            "keyframes.times=[1, 2.5]",
            "classes.palettes=tiger,volcano;goldfish",
            "classes.switch=sections",
        ],
    )
    assert preset.classes.names == ("tiger", "volcano")
    assert preset.walk.speed == 1.0 and isinstance(preset.walk.speed, float)
    assert preset.truncation.invert is True
    assert preset.seed == 42 and preset.description == "x"
    assert preset.keyframes.times == (1.0, 2.5)
    assert preset.classes.palettes == (("tiger", "volcano"), ("goldfish",))
    assert load_preset("default", ["classes.names=292"]).classes.names == (292,)
    assert load_preset("default", ['classes.names=["tiger", 3]']).classes.names == ("tiger", 3)
    assert load_preset("default", ["classes.names="]).classes.names == ()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("walk.sped=1", r"unknown preset key 'walk.sped' \(did you mean 'speed'\?\); valid: speed"),
        ("wlk.speed=1", r"unknown preset section or key 'wlk.speed' \(did you mean 'walk'"),
        ("walk.speed=100", r"walk.speed = 100 is out of range: allowed 0.0 to 20.0"),
        ("walk.speed=fast", r"walk.speed must be a number, got 'fast'"),
        ("classes.count=2.5", r"classes.count must be an integer"),
        ("truncation.invert=1", r"truncation.invert must be true or false"),
        ("truncation.min=0", r"truncation.min = 0 is out of range: allowed 0.02 to 1.0"),
        ("truncation.min=0.9", r"truncation.min = 0.9 must not exceed truncation.max = 0.7"),
        ("classes.mode=cubist", r"classes.mode = 'cubist' is not allowed: choose one of chroma"),
        ("classes.names=tigre", r"classes.names: unknown class 'tigre' \(did you mean 'tiger'"),
        ("classes.names=crane", r"classes.names: ambiguous class 'crane'"),
        (
            "classes.names=big-cat",
            r"classes.names: unknown class 'big-cat' \(did you mean 'big-cats'",
        ),
        ("breed.names=tiger", r"breed.names needs exactly 2 classes"),
        ("keyframes.times=[3, 1]", r"keyframes.times = \[3.0, 1.0\] must be increasing"),
        ("seed=-1", r"seed = -1 is out of range"),
        ("walk.speed", r"invalid override 'walk.speed': expected SECTION.KEY=VALUE"),
        ("classes.palettes=tiger", r"classes.palettes is only used with classes.switch"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(PresetError, match=message):
        load_preset("default", [override])


def test_bad_combinations():
    with pytest.raises(PresetError, match="keyframes.names needs at least 2"):
        load_preset("default", ["classes.mode=keyframes", "keyframes.names=tiger"])
    with pytest.raises(PresetError, match="keyframes.times must list"):
        load_preset("default", ["classes.mode=keyframes", "keyframes.key=times"])
    with pytest.raises(PresetError, match="truncation.min = 0.9 must not exceed"):
        Preset().replace(truncation=TruncationOptions(min=0.9, max=0.5))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[colours]\nx = 1\n", r"unknown preset section or key 'colours'"),
        ("[walk]\nsped = 1\n", r"unknown preset key 'walk.sped'"),
        ("[walk]\nspeed = 'fast'\n", r"walk.speed must be a number"),
        ("walk = 3\n", r"\[walk\] must be a table"),
        ("[walk\nspeed = 1\n", r"not valid TOML"),
        ("description = 3\n", r"description must be a string"),
        ('base = "nope"\n', r"unknown preset 'nope'"),
    ],
)
def test_bad_files_name_the_file_or_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PresetError, match=message) as info:
        load_preset(path)
    if "TOML" in message:
        assert "bad.toml" in str(info.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(PresetError, match=r"preset file not found: .*missing.toml"):
        load_preset(tmp_path / "missing.toml")
    with pytest.raises(PresetError, match=r"unknown preset 'defualt' \(did you mean 'default'\?\)"):
        load_preset("defualt")


def test_presets_are_never_executed(tmp_path):
    path = tmp_path / "evil.toml"
    path.write_text("description = \"__import__('os').system('false')\"\n")
    assert load_preset(path).description.startswith("__import__")  # kept as inert text


def test_cli_list_show_and_errors(capsys):
    assert main(["presets", "list"]) == 0
    out = capsys.readouterr().out
    assert "default" in out and "dreamy" in out
    assert "harmony -> classes" in out and "tempo -> a class every 4 beats" in out  # reacts to
    assert main(["presets", "show", "zoom", "--set", "classes.names=tiger,volcano"]) == 0
    shown = capsys.readouterr().out
    assert preset_from_toml(shown).classes.names == ("tiger", "volcano")
    assert preset_from_toml(shown).zoom == load_preset("zoom").zoom
    assert main(["presets", "show", "default", "--set", "walk.sped=1"]) == 1
    assert "error: unknown preset key 'walk.sped'" in capsys.readouterr().err
    assert main(["presets", "classes", "crane"]) == 0
    assert "134  crane bird" in capsys.readouterr().out
    assert main(["presets", "classes", "qqqzzzq"]) == 1


@pytest.mark.slow
def test_wheel_ships_the_presets(tmp_path):
    """A real wheel, installed with --no-deps into a throwaway venv, lists the built-ins."""
    wheels, env = tmp_path / "wheels", tmp_path / "venv"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", str(REPO), "--no-deps", "-w", str(wheels)], check=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], check=True)
    python = env / "bin" / "python"
    wheel = next(wheels.glob("visualizer-*.whl"))
    subprocess.run([python, "-m", "pip", "-q", "install", "--no-deps", str(wheel)], check=True)
    code = (
        "import visualizer, visualizer.mapping.presets as p; print(visualizer.__file__);"
        "print(sorted(n for n, _ in p.list_presets())); print(p.load_preset('dreamy').seed);"
        "from visualizer.mapping.classes import resolve_class, themes;"
        "print(resolve_class('tiger')); print(len(themes()))"
    )
    out = subprocess.run(
        [python, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert str(env) in out[0]  # the installed copy, not the repository
    assert "dreamy" in out[1] and "default" in out[1]
    assert out[2] == "2" and out[3] == "292"  # class names ship in the wheel too
    assert int(out[4]) >= 16  # and the themes


@pytest.mark.parametrize(
    "description",
    ['quote " and \\ backslash', "delete \x7f and nul \x00", "tab\tnew\nline", "✓ 😀"],
)
def test_saved_preset_loads_back_for_any_description(description):
    preset = load_preset("default").replace(description=description)
    assert preset_from_toml(preset_to_toml(preset)) == preset
