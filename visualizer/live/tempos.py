"""The live tempo sources' registry: name -> `visualizer.live.tempo.TempoSource` class.

A new tempo source is a ``tempo_NAME.py`` with a `TempoSource` subclass whose ``name`` is NAME,
plus its line in `TEMPOS`; ``--tempo NAME[:SPEC]`` then opens it. ``audio`` and ``tap`` are
always there; a show adds the one ``--tempo`` names.
"""

from __future__ import annotations

from visualizer.live.registry import Registry
from visualizer.live.tempo import TempoSource
from visualizer.live.tempo_audio import AudioTempo
from visualizer.live.tempo_link import LinkTempo
from visualizer.live.tempo_midi import MidiClockTempo
from visualizer.live.tempo_tap import TapTempo

TEMPOS: Registry[TempoSource] = Registry(
    "tempo source", [AudioTempo, TapTempo, MidiClockTempo, LinkTempo]
)
ALWAYS = ("audio", "tap")  # opened in every show: nothing to connect to


def open_tempo(choice: str) -> TempoSource:
    """The tempo source ``choice`` names ("NAME" or "NAME:SPEC", e.g. "midi:XDJ",
    "link:128"), opened; a `visualizer.errors.VisualizerError` says why it cannot be."""
    name, _, spec = choice.partition(":")
    return TEMPOS.get(name).open(spec)


def tempo_help() -> str:
    """The tempo sources in words, for --help."""
    return ", ".join(f"{source.name} ({source.summary})" for source in TEMPOS)
