"""The live sources' registry: name -> `visualizer.live.source.Source` class.

A new source is a ``source_NAME.py`` with a `Source` subclass whose ``name`` is NAME, plus its
line in `SOURCES` (or a ``SOURCES.register(cls)`` call: a test's own source does that).
"""

from __future__ import annotations

from visualizer.live.registry import Registry
from visualizer.live.source import Source
from visualizer.live.source_clock import ClockSource
from visualizer.live.source_file import FileSource
from visualizer.live.source_soundcard import SoundcardSource

SOURCES: Registry[Source] = Registry("source", [FileSource, SoundcardSource, ClockSource])


def open_source(name: str, spec: str) -> Source:
    """The source called ``name`` opened on ``spec`` (a file, a device); a
    `visualizer.errors.VisualizerError` says why it cannot be."""
    return SOURCES.get(name).open(spec)
