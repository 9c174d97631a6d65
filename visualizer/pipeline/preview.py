"""The preview jobs: the look of the whole song before the long render, from the very Timeline
the final render draws (same preset, seed and fps).

- `render_preview`: a storyboard, a contact sheet of frames sampled across the song;
- `draft_step`: the ``frame_step`` of a draft video (every Nth frame of that Timeline, rendered
  by `visualizer.pipeline.render`).

Light at import (the CLI reads `DRAFT_FPS` for ``--help``).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from visualizer.options import DEFAULT_FPS

if TYPE_CHECKING:
    from visualizer.pipeline.options import RenderOptions
    from visualizer.progress import ProgressCallback

DRAFT_FPS = 10  # a draft shows about this many frames per second of the full-rate Timeline


def draft_step(fps: Fraction | None) -> int:
    """Every how many Timeline frames a draft at ``fps`` (None = the default) keeps one."""
    return max(1, round((fps or DEFAULT_FPS) / DRAFT_FPS))


def render_preview(
    track: str | os.PathLike,
    output: str | os.PathLike,
    options: RenderOptions,
    *,
    count: int = 12,
    columns: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> int:
    """Write a storyboard of ``count`` frames of ``track``'s Timeline to the image ``output``
    (.png or .jpg), ``columns`` per row (None: about 16:9). Returns the frames on the sheet.

    The options, the image path and the track are checked before anything is analysed.
    """
    from visualizer.files import check_output
    from visualizer.model.inference import load_generator
    from visualizer.pipeline.checks import check_track, check_values, inputs_of
    from visualizer.pipeline.stems import check_stems
    from visualizer.pipeline.timeline import make_timeline
    from visualizer.rendering.storyboard import check_image_suffix, render_storyboard, save_image

    track, output = Path(track), Path(output)
    check_track(track)
    check_image_suffix(output)
    check_output(output, inputs_of(options, track), overwrite=overwrite, what="storyboard")
    preset = check_values(options)
    check_stems(track, options, preset)
    timeline = make_timeline(track, options, progress, preset=preset)
    generator = load_generator(options, progress=progress)
    image = render_storyboard(timeline, generator, count=count, columns=columns)
    save_image(image, output, overwrite=overwrite)
    return min(count, timeline.n_frames)
