"""The render stage: Timeline -> frames -> video.

- `plan`: `RenderOptions`, their checks, the plan and result of a render, and its identity
  (`IDENTITY_FIELDS`: what changes the picture or sound)
- `frames`: batches of Timeline rows through the generator on its device, streamed to a sink
- `video`: the ffmpeg encoder, segments, concatenation and the audio mux
- `workdir`: the resumable work folder beside an output
- `storyboard`: a contact sheet of frames sampled over the song
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    "RenderOptions": "plan",
    "IDENTITY_FIELDS": "plan",
    "generate": "frames",
    "stream": "frames",
    "SegmentWriter": "video",
    "concat_and_mux": "video",
    "render_storyboard": "storyboard",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
