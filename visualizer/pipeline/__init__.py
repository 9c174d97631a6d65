"""The job layer: the only hub. It owns what a render is asked for, the checks, the render's
identity, the work folder and resume, and drives the stages, each once and in order:
analysis -> mapping -> model -> rendering. The stage packages only transform data and never
import this package.

- `options`: `RenderOptions`, the identity fields, `ResolvedPreset` and the seed rule,
  `RenderPlan` and `RenderResult`
- `checks`: option values, outputs and track, checked once per job (`check_render` -> `RenderJob`)
- `workdir`: the resumable work folder beside an output, `ResumeMismatch`
- `timeline`: track -> full-rate Timeline (analysis once, mapping once); the `timeline` command
- `render`: a track into a video: plan, segments (on any worker), finish; `render_track`
- `preview`: the storyboard and the draft's frame step
- `stems`: ``--stems`` read into (name, file) pairs, checked once, the stems a preset reads
  analysed once each
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.pipeline.checks import RenderJob as RenderJob
    from visualizer.pipeline.checks import check_outputs as check_outputs
    from visualizer.pipeline.checks import check_render as check_render
    from visualizer.pipeline.checks import check_track as check_track
    from visualizer.pipeline.checks import check_values as check_values
    from visualizer.pipeline.checks import inputs_of as inputs_of
    from visualizer.pipeline.checks import preset_path_for as preset_path_for
    from visualizer.pipeline.options import IDENTITY_FIELDS as IDENTITY_FIELDS
    from visualizer.pipeline.options import PRESET_FIELDS as PRESET_FIELDS
    from visualizer.pipeline.options import RUN_FIELDS as RUN_FIELDS
    from visualizer.pipeline.options import RenderOptions as RenderOptions
    from visualizer.pipeline.options import RenderPlan as RenderPlan
    from visualizer.pipeline.options import RenderResult as RenderResult
    from visualizer.pipeline.options import ResolvedPreset as ResolvedPreset
    from visualizer.pipeline.options import resolve_preset as resolve_preset
    from visualizer.pipeline.options import seed_for as seed_for
    from visualizer.pipeline.preview import DRAFT_FPS as DRAFT_FPS
    from visualizer.pipeline.preview import draft_step as draft_step
    from visualizer.pipeline.preview import render_preview as render_preview
    from visualizer.pipeline.render import finish_render as finish_render
    from visualizer.pipeline.render import plan_job as plan_job
    from visualizer.pipeline.render import plan_render as plan_render
    from visualizer.pipeline.render import render_segments as render_segments
    from visualizer.pipeline.render import render_track as render_track
    from visualizer.pipeline.render import segment_sink as segment_sink
    from visualizer.pipeline.render import start_soundtrack as start_soundtrack
    from visualizer.pipeline.stems import parse_stems as parse_stems
    from visualizer.pipeline.timeline import make_timeline as make_timeline
    from visualizer.pipeline.timeline import map_track as map_track
    from visualizer.pipeline.timeline import write_timeline as write_timeline
    from visualizer.pipeline.workdir import ResumeMismatch as ResumeMismatch
    from visualizer.pipeline.workdir import shared_batch_size as shared_batch_size
    from visualizer.pipeline.workdir import work_dir_for as work_dir_for

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
