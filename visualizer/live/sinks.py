"""The live sinks' registry: name -> `visualizer.live.sink.Sink` class.

A new sink is a ``sink_NAME.py`` with a `Sink` subclass whose ``name`` is NAME, plus its line in
`SINKS` (or a ``SINKS.register(cls)`` call: a test's own sink does that). ``--output`` offers
the sinks whose ``output_choice`` is true; the others have an option of their own (``--record``,
``--osc-out``, ``--midi-out``).
"""

from __future__ import annotations

from visualizer.live.registry import Registry
from visualizer.live.sink import Sink, SinkSetup
from visualizer.live.sink_camera import CameraSink
from visualizer.live.sink_midi import MidiSink
from visualizer.live.sink_ndi import NdiSink
from visualizer.live.sink_osc import OscSink
from visualizer.live.sink_page import PageSink
from visualizer.live.sink_record import RecordSink

SINKS: Registry[Sink] = Registry(
    "output", [PageSink, NdiSink, CameraSink, RecordSink, OscSink, MidiSink]
)


def output_names() -> tuple[str, ...]:
    """The sinks ``--output NAME`` opens (not the page, always on, nor the recording)."""
    return tuple(sink.name for sink in SINKS if sink.output_choice)


def output_help() -> str:
    """``--output``'s choices in words, e.g. "ndi (an NDI source), camera (a virtual camera)"."""
    return ", ".join(f"{sink.name} ({sink.summary})" for sink in SINKS if sink.output_choice)


def open_sink(name: str, setup: SinkSetup) -> Sink:
    """The sink called ``name``, opened; a `visualizer.errors.VisualizerError` says why not."""
    return SINKS.get(name).open(setup)
