"""The one place that knows every stage: track -> features -> Timeline -> frames -> video file.

``render_track`` runs everything. The three steps it is made of are public so that a long track
can be split across workers: ``plan_render`` (analysis + mapping, or a saved Timeline; the
segment list; the work folder), ``render_segments`` (any subset of the segments, on any worker
that can read the work folder) and ``finish_render`` (join the segments without re-encoding, mux
the original audio, rename into place).

The video is encoded as fixed segments of ``segment_frames`` frames in a work folder beside the
output (``.OUT.mp4.parts/``). Each segment is renamed into place only when complete, so after a
kill ``resume=True`` continues from the first missing segment and the result is frame-identical
to an uninterrupted render (same segmentation, same deterministic encoder settings). The work
folder's contents and the resume checks live in `visualizer.render.workdir`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from visualizer.errors import AudioError, OutputError, RenderError, TimelineError, WeightsError
from visualizer.files import write_text_atomic
from visualizer.mapping.timeline import Timeline
from visualizer.progress import ProgressCallback, report
from visualizer.render import video
from visualizer.render.workdir import (
    check_same_render,
    manifest_for,
    preset_path_for,
    preset_record,
    read_manifest,
    resolve_preset,
    resumed_timeline,
    start_work_dir,
    work_dir_for,
)

log = logging.getLogger("visualizer")

DEFAULT_FPS = Fraction(30)
# Mirrors visualizer.model.weights.COMPILE_MODES (not imported: that would load torch here).
COMPILE_MODES = ("off", "auto", "default", "max-autotune", "reduce-overhead")


@dataclass(frozen=True)
class RenderOptions:
    """Everything that decides a render. Fields that change the picture are checked on resume."""

    model: str = "biggan-deep-128"  # biggan-deep-128 | -256 | -512
    weights: str | None = None  # folder or file, "random" (seeded untrained), None = cached
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
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
    precision: str = "auto"  # auto (fp16 on CUDA, fp32 on CPU) | fp32 | fp16 | bf16
    # torch.compile of the generator: off | auto (reduce-overhead on CUDA, off on CPU) | default |
    # max-autotune | reduce-overhead. Not checked on resume: it changes rounding only.
    compile: str = "off"


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


def check_options(output: Path, options: RenderOptions) -> None:
    """Reject bad option values and combinations before any work (errors name the value)."""
    video.check_output_suffix(output)
    if options.size is not None:
        video.check_size(options.size)
    if options.fit not in video.FITS:
        raise RenderError(f"unknown fit {options.fit!r}: expected one of {', '.join(video.FITS)}")
    if options.encoder not in video.ENCODERS:
        raise RenderError(
            f"unknown encoder {options.encoder!r}: expected one of {', '.join(video.ENCODERS)}"
        )
    if not 0 <= options.quality <= 51:
        raise RenderError(f"invalid quality {options.quality}: expected 0 (best) to 51")
    if options.batch_size is not None and options.batch_size < 1:
        raise RenderError(f"invalid batch size {options.batch_size}: expected >= 1")
    if options.precision not in ("auto", "fp32", "fp16", "bf16"):
        raise RenderError(
            f"unknown precision {options.precision!r}: expected auto, fp32, fp16, bf16"
        )
    if options.compile not in COMPILE_MODES:
        raise RenderError(
            f"unknown compile mode {options.compile!r}: expected {', '.join(COMPILE_MODES)}"
        )
    if options.segment_frames < 1 or options.frame_step < 1:
        raise RenderError("segment_frames and frame_step must be >= 1")
    if options.fps is not None and not 0 < options.fps <= 240:
        raise RenderError(f"invalid fps {options.fps}: expected a value in (0, 240]")
    if options.start < 0 or (options.duration is not None and options.duration <= 0):
        raise RenderError("start must be >= 0 and duration > 0 seconds")
    if output.exists() and not options.overwrite:
        raise OutputError(f"output exists: {output} (use --overwrite to replace it)")
    if not output.parent.is_dir():
        raise OutputError(f"output folder does not exist: {output.parent}")
    if options.weights not in (None, "random") and not Path(options.weights).exists():
        raise WeightsError(f"weights not found: {options.weights}")
    if options.timeline is None:
        # A bad preset or --set value fails now, before the model loads (seconds at 512 px).
        from visualizer.mapping.presets import load_preset

        load_preset(options.preset, list(options.overrides))


def plan_render(
    track: str | os.PathLike,
    output: str | os.PathLike,
    options: RenderOptions = RenderOptions(),
    *,
    progress: ProgressCallback | None = None,
) -> RenderPlan:
    """Analyse and map ``track`` (or load ``options.timeline``), set up the work folder.

    Raises OutputError for an existing output without overwrite, an interrupted render without
    resume/overwrite, or a resume whose settings differ from the interrupted render.
    """
    track, output = Path(track), Path(output)
    check_options(output, options)
    if not track.is_file():
        raise AudioError(f"audio file not found: {track}")
    work_dir = work_dir_for(output)
    cuda = _wants_cuda(options.device)
    encoder = video.resolve_encoder(options.encoder, cuda=cuda)
    saved = read_manifest(work_dir)
    if saved is not None and not options.resume:
        if not options.overwrite:
            raise OutputError(
                f"an interrupted render of {output.name} is in {work_dir}: "
                "use --resume to continue it or --overwrite to start over"
            )
        shutil.rmtree(work_dir)
        saved = None
    if saved is not None and options.encoder == "auto":
        encoder = saved.get("encoder", encoder)  # the same encoder keeps resumed segments alike

    full = resumed_timeline(work_dir, saved, options) if saved else None
    if full is None:
        full = make_timeline(track, options, progress)
    if options.timeline_out is not None:
        from visualizer.mapping import timeline as timeline_io

        timeline_io.save(full, options.timeline_out)
    rendered = _subsample(full, options.frame_step)
    audio_start, audio_duration = _audio_window(track, options, full)
    segments = [
        (start, min(start + options.segment_frames, rendered.n_frames))
        for start in range(0, rendered.n_frames, options.segment_frames)
    ]
    plan = RenderPlan(
        track, output, options, rendered, work_dir, segments, encoder, audio_start, audio_duration
    )
    manifest = manifest_for(plan, full)
    if saved is not None:
        check_same_render(saved, manifest, output)
        log.info("resuming: %d of %d segments left", len(plan.pending()), len(segments))
    else:
        start_work_dir(work_dir, manifest, full)
    return plan


def _wants_cuda(device: str) -> bool:
    if device == "cpu":
        return False
    import torch

    return torch.cuda.is_available() and (device == "auto" or device.startswith("cuda"))


def make_timeline(
    track: str | os.PathLike, options: RenderOptions, progress: ProgressCallback | None = None
) -> Timeline:
    """The full-rate Timeline a render of ``track`` with ``options`` uses (or options.timeline).

    Deterministic: the storyboard and draft video call this and see the final render's frames.
    """
    track = Path(track)
    if options.timeline is not None:
        from visualizer.mapping import timeline as timeline_io

        loaded = timeline_io.load(options.timeline)
        if options.fps is not None and options.fps != loaded.fps:
            raise TimelineError(
                f"--fps {options.fps} differs from the timeline's {loaded.fps}: leave --fps out"
            )
        return loaded
    from visualizer.analysis.track import analyze_file
    from visualizer.mapping import build_timeline

    preset, seed = resolve_preset(options)
    fps = options.fps or DEFAULT_FPS
    features = analyze_file(
        track, fps=fps, start=options.start, duration=options.duration, progress=progress
    )
    timeline = build_timeline(features, preset, seed=seed)
    if not timeline.preset:
        from visualizer.mapping.presets import preset_to_toml

        timeline = Timeline(
            timeline.class_vectors,
            timeline.noise,
            timeline.truncation,
            timeline.fps,
            timeline.seed,
            preset_to_toml(preset),
        )
    return timeline


def _subsample(timeline: Timeline, step: int) -> Timeline:
    if step == 1:
        return timeline
    return Timeline(
        timeline.class_vectors[::step],
        timeline.noise[::step],
        timeline.truncation[::step],
        timeline.fps / step,
        timeline.seed,
        timeline.preset,
    )


def _audio_window(track: Path, options: RenderOptions, timeline: Timeline) -> tuple[float, float]:
    """[start, start + duration) of the soundtrack that goes with ``timeline``'s frames."""
    from visualizer.analysis.decode import probe_duration

    available = max(0.0, probe_duration(track) - options.start)
    wanted = options.duration if options.duration is not None else available
    # The frame count was set from this same duration, so it is the audio that decides.
    return options.start, max(0.0, min(available, wanted))


def render_segments(
    plan: RenderPlan,
    segment_ids: list[int] | None,
    generator: Any,
    *,
    progress: ProgressCallback | None = None,
) -> None:
    """Render and encode the given segments (None = all pending) with ``generator``.

    Complete segments are skipped, so calling this again after an interruption continues.
    """
    from visualizer.render import frames as render

    wanted = plan.pending() if segment_ids is None else segment_ids
    for index in wanted:
        if not 0 <= index < len(plan.segments):
            raise RenderError(f"no segment {index}: the plan has {len(plan.segments)}")
    todo = sorted(i for i in set(wanted) if not plan.segment_path(i).is_file())
    if not todo:
        return
    device = _device_of(generator)
    # A warmed-up compiled generator keeps the batch size it was compiled for (no recompile).
    batch_size = (
        plan.options.batch_size
        or getattr(generator, "warm_batch_size", None)
        or render.auto_batch_size(device, _resolution(generator, plan.options.model))
    )
    log.info("rendering on %s, batch size %d, encoder %s", device, batch_size, plan.encoder)
    done = plan.n_frames - sum(plan.segments[i][1] - plan.segments[i][0] for i in plan.pending())
    for run in _runs(todo):
        start, stop = plan.segments[run[0]][0], plan.segments[run[-1]][1]
        sink = render.SegmentSink(plan, run)
        try:
            batches = render.generate(
                generator, plan.timeline, start, stop, device=device, batch_size=batch_size
            )
            done += render.stream(
                batches, sink, total=plan.n_frames, done=done, progress=progress, label="render"
            )
            sink.check_complete()
        finally:
            sink.abort()


def _runs(indices: list[int]) -> list[list[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 1, 2], [5, 6]]: contiguous runs render in one stream."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _device_of(generator: Any) -> Any:
    import torch

    if isinstance(getattr(generator, "device", None), torch.device):
        return generator.device
    try:
        return next(generator.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _resolution(generator: Any, model: str) -> int:
    value = getattr(generator, "resolution", None)
    if value is None:
        value = getattr(getattr(generator, "config", None), "output_dim", None)
    return int(value or model.rsplit("-", 1)[-1])


def finish_render(plan: RenderPlan, *, progress: ProgressCallback | None = None) -> RenderResult:
    """Join all segments, mux the original audio, rename into place, save the preset beside it.

    Removes the work folder afterwards. RenderError if a segment is missing.
    """
    missing = plan.pending()
    if missing:
        raise RenderError(
            f"cannot finish {plan.output.name}: {len(missing)} of {len(plan.segments)} segments "
            "are not rendered yet"
        )
    if plan.output.exists() and not plan.options.overwrite:
        raise OutputError(f"output exists: {plan.output} (use --overwrite to replace it)")
    report(progress, "mux", 0, 1, "file", "mux")
    audio = plan.track if plan.audio_duration > 0 else None
    video.concat_and_mux(
        [plan.segment_path(i) for i in range(len(plan.segments))],
        plan.output,
        audio=audio,
        audio_start=plan.audio_start,
        audio_duration=plan.audio_duration,
    )
    write_text_atomic(preset_path_for(plan.output), preset_record(plan))
    shutil.rmtree(plan.work_dir, ignore_errors=True)
    report(progress, "mux", 1, 1, "file", "mux")
    return RenderResult(
        output=plan.output,
        n_frames=plan.n_frames,
        video_seconds=float(plan.n_frames / plan.fps),
        audio_seconds=plan.audio_duration,
        wall_seconds=time.perf_counter() - plan.started,
        fps=plan.fps,
    )


def render_track(
    track: str | os.PathLike,
    output: str | os.PathLike,
    options: RenderOptions = RenderOptions(),
    *,
    generator: Any = None,
    progress: ProgressCallback | None = None,
) -> RenderResult:
    """Render ``track`` into the video ``output``; the whole pipeline in one call.

    Without ``generator`` the model is loaded on a second thread while the track is analysed.
    On an error or Ctrl-C no output file exists; the work folder stays for ``resume=True``.
    """
    started = time.perf_counter()
    check_options(Path(output), options)
    if not Path(track).is_file():
        raise AudioError(f"audio file not found: {track}")
    loader = None if generator is not None else _Loader(options, progress)
    try:
        plan = plan_render(track, output, options, progress=progress)
    except Exception:
        if loader is not None:  # let it finish, so no thread outlives the call (Ctrl-C: exit now)
            with contextlib.suppress(Exception):
                loader.join()
        raise
    plan.started = started
    if plan.pending():
        if loader is not None:
            generator = loader.join()
        render_segments(plan, None, generator, progress=progress)
    return finish_render(plan, progress=progress)


class _Loader:
    """Loads the generator on a thread, so that model loading overlaps analysis and mapping."""

    def __init__(self, options: RenderOptions, progress: ProgressCallback | None) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._load, args=(options, progress), name="visualizer-load", daemon=True
        )
        self.thread.start()

    def _load(self, options: RenderOptions, progress: ProgressCallback | None) -> None:
        try:
            generator = load_generator(options, progress=progress)
            if getattr(generator, "compile_mode", None) is not None:
                warm_up(generator, options, progress)
            self.result = generator
        except BaseException as error:  # noqa: BLE001 (re-raised by join)
            self.error = error

    def join(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


def load_generator(options: RenderOptions, *, progress: ProgressCallback | None = None) -> Any:
    """The generator ``options`` ask for (model, weights, device), in eval mode on its device."""
    from visualizer.model.weights import load_generator as load
    from visualizer.model.weights import prepare_for_inference

    # seed 0: "random" weights are one fixed network; the render's seed moves the Timeline.
    model = load(options.model, options.weights, device=options.device, seed=0, progress=progress)
    return prepare_for_inference(
        model, model.device, precision=options.precision, compile=options.compile
    )


def warm_up(
    generator: Any, options: RenderOptions, progress: ProgressCallback | None = None
) -> int:
    """Compile ``generator`` for the render's batch size by running dummy batches; returns it.

    The batch size is stored in ``generator.warm_batch_size`` so that the render uses the shape
    that was compiled. Called on the loader thread: the compile overlaps analysis and mapping.
    """
    import torch

    from visualizer.render import frames as render

    device = _device_of(generator)
    batch = options.batch_size or render.auto_batch_size(
        device, _resolution(generator, options.model)
    )
    label = f"compiling the generator (batch {batch})"
    report(progress, "compile", 0, 1, "step", label)
    config = generator.config
    z = torch.zeros(batch, config.z_dim, device=device)
    y = torch.zeros(batch, config.num_classes, device=device)
    y[:, 0] = 1.0
    truncation = torch.full((batch,), 0.5, device=device)
    # reduce-overhead: the first call compiles and warms up, the second records the CUDA graph.
    try:
        for _ in range(2 if generator.compile_mode == "reduce-overhead" else 1):
            generator.frames_uint8(z, y, truncation)
    except Exception as error:  # no C++ compiler, an unsupported GPU, ...: render eagerly
        if render.is_out_of_memory(error):
            raise
        log.warning(f"torch.compile failed, rendering without it: {str(error).splitlines()[0]}")
        del generator.synthesize  # back to the class's eager method
        generator.compile_mode = None
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    generator.warm_batch_size = batch
    report(progress, "compile", 1, 1, "step", label)
    return batch
