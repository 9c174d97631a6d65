"""The render stage: Timeline -> frames -> video. It transforms data only: the job layer
(`visualizer.pipeline`) decides what to render where, and hands over a `Timeline`, a `Generator`
and an `Encoding`.

- `frames`: batches of Timeline rows through the generator on its device, streamed to a sink
- `video`: the ffmpeg encoder, segments, concatenation and the audio mux, size and fit
- `codecs`: one row per ``--encoder``: ffmpeg encoder, quality arguments, containers
- `storyboard`: a contact sheet of frames sampled over the song
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    "generate": "frames",
    "stream": "frames",
    "SegmentSink": "frames",
    "Encoding": "video",
    "SegmentWriter": "video",
    "concat_and_mux": "video",
    "CODECS": "codecs",
    "render_storyboard": "storyboard",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
