"""What a render is: its options (`RenderOptions`), the checks run before any work
(`check_options`), the plan `visualizer.pipeline.plan_render` makes (`RenderPlan`) and its result.

Torch-free: the CLI, batch and the work folder read these without loading the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from visualizer.analysis.track import check_window_length
from visualizer.errors import OutputError, RenderError, WeightsError
from visualizer.files import check_folder_writable, check_output, same_file
from visualizer.mapping.timeline import Timeline, fps_problem
from visualizer.model.devices import check_named_precision
from visualizer.options import COMPILE_MODES, DEFAULT_FPS, FITS
from visualizer.rendering import codecs, video


@dataclass(frozen=True)
class RenderOptions:
    """Everything that decides a render; `IDENTITY_FIELDS` are those that change the picture."""

    model: str = "biggan-deep-128"  # biggan-deep-128 | -256 | -512
    weights: str | None = None  # folder or file, "random" (seeded untrained), None = cached
    device: str = "auto"  # auto (CUDA, else Apple MPS, else CPU) | cpu | cuda | cuda:N | mps
    preset: str = "default"  # built-in preset name or TOML path
    overrides: tuple[str, ...] = ()  # "section.key=value" preset overrides, applied in order
    seed: int | None = None  # None = the preset's seed
    fps: Fraction | None = None  # frames per second, any rational > 0; None = 30 (or --timeline's)
    start: float = 0.0  # seconds into the track where the video starts, >= 0
    duration: float | None = None  # seconds of track to render, > 0; None = to the end
    batch_size: int | None = None  # frames per generator call, >= 1; None = automatic
    size: tuple[int, int] | None = None  # output (width, height), even; None = square model size
    fit: str = "pad"  # how square frames fill --size: pad | crop | mirror
    quality: int = 18  # H.264 constant quality (crf / cq), 0 (lossless) - 51 (worst)
    encoder: str = (
        "auto"  # auto (NVENC on CUDA when available, else libx264) | libx264 | h264_nvenc
    )
    frames_dir: Path | None = None  # also write every frame as PNG here (square, model size)
    timeline: Path | None = None  # render this saved Timeline .npz instead of analysing the track
    timeline_out: Path | None = None  # save the Timeline used to this .npz
    overwrite: bool = False  # replace an existing output / discard an interrupted render
    resume: bool = False  # continue an interrupted render of the same output
    segment_frames: int = 256  # frames per video segment (resume and split granularity), >= 1
    frame_step: int = 1  # render every Nth Timeline frame at fps / N (draft videos), >= 1
    precision: str = "auto"  # auto (fp16 on CUDA, fp32 elsewhere) | fp32 | fp16 | bf16 (not MPS)
    # torch.compile of the generator: off | auto (reduce-overhead on CUDA, off on CPU) | default |
    # max-autotune | reduce-overhead. Not part of the identity: it changes rounding only.
    compile: str = "off"


# A render's identity: the RenderOptions fields that change its picture or its sound. A resume
# and every part of a split render must keep them (the work folder's render.json,
# `visualizer.rendering.workdir.manifest_for`); the batch renders a finished track again when one
# changes (`visualizer.batch.jobs` settings hash). Files count by what they hold, and
# `PRESET_FIELDS` as the preset and seed they resolve to.
IDENTITY_FIELDS = (
    "model",
    "weights",
    "preset",
    "overrides",
    "seed",
    "timeline",
    "fps",
    "start",
    "duration",
    "frame_step",
    "size",
    "fit",
    "quality",
    "encoder",
    "segment_frames",
    "precision",
)
PRESET_FIELDS = ("preset", "overrides", "seed")
# The rest: where and how fast the frames are computed (device, batch size and compile give the
# same picture up to float rounding), what else is written, and whether to replace or resume.
RUN_FIELDS = (
    "device",
    "batch_size",
    "compile",
    "frames_dir",
    "timeline_out",
    "overwrite",
    "resume",
)


@dataclass(frozen=True)
class RenderResult:
    output: Path  # the finished video
    n_frames: int  # video frames written
    video_seconds: float  # n_frames / fps
    audio_seconds: float  # seconds of soundtrack muxed
    wall_seconds: float  # wall-clock time of the whole call
    fps: Fraction  # the video's exact frame rate


@dataclass
class RenderPlan:
    """What `plan_render` decided; picklable, so workers can receive it."""

    track: Path
    output: Path
    options: RenderOptions
    timeline: Timeline  # the Timeline actually rendered (after frame_step)
    work_dir: Path
    segments: list[tuple[int, int]]  # [start, stop) frame ranges, in order
    encoder: str  # resolved encoder name
    audio_start: float
    audio_duration: float
    started: float = field(default_factory=time.perf_counter)

    @property
    def fps(self) -> Fraction:
        return self.timeline.fps

    @property
    def n_frames(self) -> int:
        return self.timeline.n_frames

    def segment_path(self, index: int) -> Path:
        return self.work_dir / f"segment-{index:05d}.mp4"

    def pending(self) -> list[int]:
        """Indices of segments not yet complete."""
        return [i for i in range(len(self.segments)) if not self.segment_path(i).is_file()]


def check_options(output: Path, options: RenderOptions, track: Path | None = None) -> None:
    """Reject bad option values and combinations before any work (errors name the value)."""
    codecs.check_output_suffix(
        output, options.encoder if options.encoder in codecs.ENCODERS else "auto"
    )
    if options.size is not None:
        video.check_size(options.size)
    if options.fit not in FITS:
        raise RenderError(f"unknown fit {options.fit!r}: expected one of {', '.join(FITS)}")
    if options.encoder != "auto":
        codecs.codec(options.encoder)  # RenderError naming the choices
    if not 0 <= options.quality <= 51:
        raise RenderError(f"invalid quality {options.quality}: expected 0 (best) to 51")
    if options.batch_size is not None and options.batch_size < 1:
        raise RenderError(f"invalid batch size {options.batch_size}: expected >= 1")
    check_named_precision(options.device, options.precision)  # e.g. bf16 on a Mac's GPU
    if options.compile not in COMPILE_MODES:
        raise RenderError(
            f"unknown compile mode {options.compile!r}: expected {', '.join(COMPILE_MODES)}"
        )
    if options.segment_frames < 1 or options.frame_step < 1:
        raise RenderError("segment_frames and frame_step must be >= 1")
    if options.fps is not None and fps_problem(options.fps):
        raise RenderError(f"invalid {fps_problem(options.fps)}")
    if options.start < 0 or (options.duration is not None and options.duration <= 0):
        raise RenderError("start must be >= 0 and duration > 0 seconds")
    if options.timeline is None:  # a saved timeline brings its own frame clock
        check_window_length(track or "--duration", options.duration, options.fps or DEFAULT_FPS)
    check_outputs(output, options, track)
    if options.timeline is not None:
        check_timeline_file(Path(options.timeline))
    if options.weights not in (None, "random") and not Path(options.weights).exists():
        raise WeightsError(f"weights not found: {options.weights}")
    if options.timeline is None:
        # A bad preset or --set value fails now, before the model loads (seconds at 512 px).
        from visualizer.mapping.presets import load_preset

        load_preset(options.preset, list(options.overrides))


def preset_path_for(output: Path) -> Path:
    """Where the resolved preset is saved beside a finished video: OUT.preset.toml."""
    return output.with_suffix(".preset.toml")


def inputs_of(options: RenderOptions, track: Path | None = None) -> list[Path]:
    """Every file a render reads: no output may be one of them."""
    named = (track, options.timeline, options.weights, options.preset)
    return [Path(p) for p in named if p not in (None, "random") and Path(p).exists()]


def check_outputs(output: Path, options: RenderOptions, track: Path | None = None) -> None:
    """Every file the render will write follows the output rules (`visualizer.files`)."""
    inputs = inputs_of(options, track)
    overwrite = options.overwrite
    check_output(output, inputs, overwrite=overwrite)
    check_output(preset_path_for(output), inputs, overwrite=overwrite, what="preset copy")
    if options.timeline_out is not None:
        written = [*inputs, output, preset_path_for(output)]
        check_output(options.timeline_out, written, overwrite=overwrite, what="--timeline-out")
    if options.frames_dir is not None:
        check_frames_dir(Path(options.frames_dir), inputs, options)


def check_frames_dir(folder: Path, inputs: list[Path], options: RenderOptions) -> None:
    if any(same_file(folder, p) or folder.absolute() in Path(p).absolute().parents for p in inputs):
        raise OutputError(f"--frames-dir {folder} holds or is one of the inputs")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--frames-dir {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (options.overwrite or options.resume):
        raise OutputError(f"--frames-dir {folder} is not empty (use --overwrite to replace it)")
    check_folder_writable(folder if folder.is_dir() else _existing_parent(folder), "--frames-dir")


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")


def check_timeline_file(path: Path) -> None:
    """A cheap look before the model loads: a timeline .npz is a zip archive."""
    import zipfile

    from visualizer.errors import TimelineError

    if not path.is_file():
        raise TimelineError(f"timeline file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise TimelineError(f"{path}: not a timeline .npz (not a zip archive)")
