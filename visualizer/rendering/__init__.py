"""The render stage: Timeline -> frames -> video. It transforms data only: the job layer
(`visualizer.pipeline`) decides what to render where, and hands over a `Timeline`, a `Generator`
and an `Encoding`.

- `frames`: batches of Timeline rows through the generator on its device, streamed to a sink
- `video`: the ffmpeg encoder, segments, concatenation and the audio mux, size and fit
- `codecs`: one row per ``--encoder``: ffmpeg encoder, quality arguments, containers
- `storyboard`: a contact sheet of frames sampled over the song
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.rendering.codecs import CODECS as CODECS
    from visualizer.rendering.frames import SegmentSink as SegmentSink
    from visualizer.rendering.frames import generate as generate
    from visualizer.rendering.frames import stream as stream
    from visualizer.rendering.storyboard import render_storyboard as render_storyboard
    from visualizer.rendering.video import Encoding as Encoding
    from visualizer.rendering.video import SegmentWriter as SegmentWriter
    from visualizer.rendering.video import concat_and_mux as concat_and_mux

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
