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
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(
        (
            "RenderOptions",
            "RenderPlan",
            "RenderResult",
            "ResolvedPreset",
            "IDENTITY_FIELDS",
            "PRESET_FIELDS",
            "RUN_FIELDS",
            "resolve_preset",
            "seed_for",
        ),
        "options",
    ),
    **dict.fromkeys(
        (
            "RenderJob",
            "check_render",
            "check_values",
            "check_outputs",
            "check_track",
            "inputs_of",
            "preset_path_for",
        ),
        "checks",
    ),
    **dict.fromkeys(("ResumeMismatch", "work_dir_for"), "workdir"),
    **dict.fromkeys(("make_timeline", "map_track", "write_timeline"), "timeline"),
    **dict.fromkeys(
        (
            "render_track",
            "plan_render",
            "plan_job",
            "render_segments",
            "finish_render",
            "segment_sink",
            "shared_batch_size",
        ),
        "render",
    ),
    **dict.fromkeys(("render_preview", "draft_step", "DRAFT_FPS"), "preview"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
