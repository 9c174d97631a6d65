"""`visualizer presets`: list the built-in presets, show one resolved, search classes and themes."""

from __future__ import annotations

import argparse
import sys
import textwrap

from visualizer.options import SOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the built-in presets and what they look like")
    show = sub.add_parser("show", help="print a preset as resolved TOML (every key)")
    show.add_argument("preset", metavar="NAME|PATH", help="built-in preset name or TOML file")
    show.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one value (repeatable), e.g. --set classes.names=tiger,volcano",
    )
    classes = sub.add_parser(
        "classes", help="search the 1000 ImageNet class names, or list the curated themes"
    )
    classes.add_argument(
        "text", nargs="?", help="part of a class name, an index 0-999, or (with --themes) a theme"
    )
    classes.add_argument("-n", "--limit", type=int, default=20, help="at most this many")
    classes.add_argument(
        "--themes",
        action="store_true",
        help="list the themes (named sets of classes usable wherever classes are) with their "
        "classes; TEXT keeps the themes whose name or classes contain it",
    )


def run(args: argparse.Namespace) -> int:
    from visualizer.mapping import presets

    if args.action == "list":
        entries = presets.list_presets()
        width = max((len(name) for name, _ in entries), default=0)
        for name, description in entries:
            print(f"{name:<{width}}  {description}")
            print(f"{'':<{width}}  reacts to: {reacts_to(presets.load_preset(name))}")
        return 0
    if args.action == "show":
        preset = presets.load_preset(args.preset, args.overrides)
        print(presets.preset_to_toml(preset), end="")
        return 0
    if args.themes:
        return _themes(args.text or "")
    if args.text is None:
        print(
            "visualizer presets classes: error: give TEXT to search, or --themes", file=sys.stderr
        )
        return 2
    return _classes(args.text, args.limit)


SIGNALS = {"energy": "energy", "rise": "energy rise", "onset": "onset strength", "low": "bass"}
SIGNALS |= {"mid": "mids", "high": "highs"}


QUANTISED = {"beat": " on a beat", "bar": " on a bar line", "phrase": " on a phrase start"}
QUANTISED |= {"section": " on a section start", "none": ""}


def reacts_to(preset) -> str:
    """What in the music moves what in the picture, e.g. 'harmony -> classes; energy -> walk'."""
    from visualizer.mapping.musical import describe, per

    links: dict[str, list[str]] = {}

    def link(music: str, picture: str) -> None:
        source, _, feature = music.partition(".")  # a stem's signal: "bass.low" -> "bass bass"
        if source not in SOURCES:
            source, feature = "", music
        words = SIGNALS.get(feature, feature)
        if feature != "constant":
            links.setdefault(f"{source} {words}" if source else words, []).append(picture)

    def keyed(section) -> str:  # "every 4 bars", "sections on a bar line"
        key = section.key
        words = key if key in ("sections", "times") else describe(key, section.every)
        return words + QUANTISED[section.quantize]

    def counted(beats: float, bars: float) -> tuple[str, str]:  # ("downbeats", "every bar")
        unit, every = per(beats, bars)
        return ("downbeats" if unit == "bars" else "beats"), describe(unit, every)

    c, mode = preset.classes, preset.classes.mode
    if mode == "chroma":
        link(c.feature.replace("chroma", "harmony"), "classes")
    elif mode == "keyframes":
        link(keyed(preset.keyframes), "classes")
    elif mode == "breed":
        link(preset.breed.feature, "class mix")
    else:
        music, every = counted(preset.morph.beats, preset.morph.bars)
        link(music, f"a class {every}")
    if c.switch != "none":
        link(c.switch + QUANTISED[c.quantize], "palette")
    if preset.poses.seeds:
        link(keyed(preset.poses), "poses")
    still = mode == "morph" and preset.morph.still and not preset.poses.seeds
    if not still:
        if preset.walk.speed > 0:
            link(preset.walk.feature, "walk")
        if preset.pulse.trigger != "none" and preset.pulse.amount > 0:
            link(preset.pulse.trigger, "kicks")
        if preset.rotary.radius > 0:
            music, every = counted(preset.rotary.beats, preset.rotary.bars)
            link(music, f"a turn {every}")
        for name in ("zoom", "hallucinate"):
            if getattr(preset, name).amount > 0:
                link(getattr(preset, name).feature, name)
    if preset.truncation.min < preset.truncation.max:
        link(preset.truncation.feature, "truncation")
    return "; ".join(f"{music} -> {', '.join(what)}" for music, what in links.items()) or "-"


def _themes(text: str) -> int:
    from visualizer.errors import ClassNameError
    from visualizer.mapping.classes import class_name, themes

    key = text.strip().lower()
    shown = 0
    for theme in themes():
        names = [class_name(index) for index in theme.classes]
        if key and key not in theme.name and not any(key in name.lower() for name in names):
            continue
        print(f"{theme.name}  ({len(names)})  {theme.description}")
        print(textwrap.fill(", ".join(names), 96, initial_indent="    ", subsequent_indent="    "))
        shown += 1
    if not shown:
        raise ClassNameError(f"no theme matches '{text}'; list them all with --themes")
    return 0


def _classes(text: str, limit: int) -> int:
    from visualizer.errors import ClassNameError
    from visualizer.mapping.classes import class_name, search_classes

    if text.strip().isdigit():
        print(f"{int(text):>3}  {class_name(int(text))}")
        return 0
    found = search_classes(text, limit=limit)
    if not found:
        raise ClassNameError(f"no class name matches '{text}'")
    for index, name in found:
        print(f"{index:>3}  {name}")
    return 0
