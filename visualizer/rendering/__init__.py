"""The render stage: Timeline -> frames -> video. It transforms data only: the job layer
(`visualizer.pipeline`) decides what to render where, and hands over a `Timeline`, a `Generator`
and an `Encoding`.

- `frames`: batches of Timeline rows through the generator on its device (`BatchGrid`),
  streamed to a consumer
- `encoders`: the consumer: several segment encoders at once within a memory budget
- `video`: the ffmpeg segment encoder, the encoder layout, concatenation and mux, size and fit
- `soundtrack`: the track's audio in the video's window, encoded once, in parallel
- `codecs`: one row per ``--encoder``: ffmpeg encoder, quality arguments, containers
- `storyboard`: a contact sheet of frames sampled over the song
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.rendering.codecs import CODECS as CODECS
    from visualizer.rendering.encoders import SegmentSink as SegmentSink
    from visualizer.rendering.frames import BatchGrid as BatchGrid
    from visualizer.rendering.frames import generate as generate
    from visualizer.rendering.frames import stream as stream
    from visualizer.rendering.soundtrack import SoundtrackEncode as SoundtrackEncode
    from visualizer.rendering.storyboard import render_storyboard as render_storyboard
    from visualizer.rendering.video import Encoding as Encoding
    from visualizer.rendering.video import SegmentWriter as SegmentWriter
    from visualizer.rendering.video import concat_and_mux as concat_and_mux

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
