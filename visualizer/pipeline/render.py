"""The render job: track -> Features -> Timeline -> frames -> video file, each stage once.

``render_track`` runs everything: `check_render` (options, outputs and track, once; the preset
resolved once), then `plan_job` (the work folder, the analysis and mapping or a saved Timeline,
the encoder, the segment list), the model, ``render_segments`` and ``finish_render``. The steps
are public so that a long track can be split across workers: ``plan_render`` (check + plan),
``render_segments`` (any subset of the segments, on any worker that can read the work folder)
and ``finish_render`` (join the segments without re-encoding, mux the original audio, rename
into place).

The video is encoded as fixed segments of ``segment_frames`` frames in a work folder beside the
output (``.OUT.mp4.parts/``). Each segment is renamed into place only when complete, so after a
kill ``resume=True`` continues from the first missing segment and the result is frame-identical
to an uninterrupted render (same segmentation, same deterministic encoder settings). The work
folder's contents and the resume checks live in `visualizer.pipeline.workdir`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import time
from pathlib import Path

from visualizer.errors import OutputError, RenderError
from visualizer.files import exclusive, remove_temporaries, write_text_atomic
from visualizer.memory import release_free_memory
from visualizer.model.catalog import resolution_of
from visualizer.model.inference import (
    BackgroundLoader,
    Generator,
    load_for_render,
    overlaps_analysis,
)
from visualizer.pipeline.checks import RenderJob, check_render, preset_path_for
from visualizer.pipeline.options import RenderOptions, RenderPlan, RenderResult
from visualizer.pipeline.timeline import MappedTrack, audio_window, map_track, subsample
from visualizer.pipeline.workdir import (
    batch_steps,
    check_same_render,
    manifest_for,
    preset_record,
    read_manifest,
    record_halving,
    restart_segments,
    resumed_timeline,
    saved_encoder_preset,
    shared_batch_size,
    source_key,
    start_work_dir,
    work_dir_for,
)
from visualizer.progress import ProgressCallback, report
from visualizer.rendering import encoders, frames, video
from visualizer.rendering.codecs import audio_args, resolve_codec
from visualizer.rendering.soundtrack import SoundtrackEncode, soundtrack_name, stale_soundtracks

log = logging.getLogger("visualizer")

DEFAULT_OPTIONS = RenderOptions()


def plan_render(
    track: str | os.PathLike,
    output: str | os.PathLike,
    options: RenderOptions = DEFAULT_OPTIONS,
    *,
    progress: ProgressCallback | None = None,
) -> RenderPlan:
    """`check_render` and `plan_job`: check a render of ``track`` into ``output``, then plan it."""
    return plan_job(check_render(Path(track), Path(output), options), progress=progress)


def plan_job(job: RenderJob, *, progress: ProgressCallback | None = None) -> RenderPlan:
    """Set up the work folder of a checked render, analyse and map its track (or load its saved
    Timeline, or the interrupted render's), and split it into segments.

    Raises OutputError for an interrupted render without resume/overwrite, and `ResumeMismatch`
    (an OutputError) for a resume whose settings differ from the interrupted render.
    """
    track, output, options = job.track, job.output, job.options
    for written in (output, preset_path_for(output)):  # what a run killed mid-write left
        remove_temporaries(written)
    work_dir = work_dir_for(output)
    cuda = _wants_cuda(options.device)
    size = options.size or (frame_side(options),) * 2
    saved = read_manifest(work_dir)
    if saved is not None and not options.resume:
        if not options.overwrite:
            raise OutputError(
                f"an interrupted render of {output.name} is in {work_dir}: "
                "use --resume to continue it or --overwrite to start over"
            )
        shutil.rmtree(work_dir)
        saved = None
    # A resumed 'auto' render keeps its encoder, so resumed segments match, unless it cannot
    # run here any more.
    kept = saved.get("encoder") if saved is not None and options.encoder == "auto" else None
    encoder = video.resolve_encoder(
        options.encoder, cuda=cuda, size=size, saved=kept, preset=options.encoder_preset,
        family=resolve_codec(options.codec, options.encoder), quality=options.quality,
    )  # fmt: skip
    kept_preset = saved_encoder_preset(saved) if saved is not None else None
    encoder_preset = video.resolve_preset(
        encoder, options.encoder_preset, cuda=cuda, saved=kept_preset
    )
    source = source_key(options, job.preset)
    if saved is not None:
        mapped = MappedTrack(resumed_timeline(work_dir, saved, source), None)
    else:
        mapped = map_track(track, options, progress, preset=job.preset)
    full = mapped.timeline
    if options.timeline_out is not None:
        from visualizer.mapping import timeline as timeline_io

        timeline_io.save(full, options.timeline_out)
    rendered = subsample(full, options.frame_step)
    audio_start, audio_duration = audio_window(track, options, full, mapped.audio_seconds)
    segments = [
        (start, min(start + options.segment_frames, rendered.n_frames))
        for start in range(0, rendered.n_frames, options.segment_frames)
    ]
    plan = RenderPlan(
        track, output, options, rendered, work_dir, segments, encoder, audio_start, audio_duration,
        encoder_preset,
    )  # fmt: skip
    manifest = manifest_for(plan, full, source)
    if saved is not None:
        if saved.get("encoder") != encoder:  # the saved one cannot run here (see above)
            restart_segments(plan, saved, encoder, encoder_preset)
        check_same_render(saved, manifest, output)
        log.info("resuming: %d of %d segments left", len(plan.pending()), len(segments))
    else:
        start_work_dir(work_dir, manifest, full)
    return plan


def frame_side(options: RenderOptions) -> int:
    """The side of the square frames the render makes: the model's, times ``--upscale``'s."""
    side = resolution_of(options.model)
    if options.upscale:
        from visualizer.model.upscale_loading import upscale_factor

        side *= upscale_factor(options.upscale)
    return side


def _wants_cuda(device: str) -> bool:
    if device == "cpu":
        return False
    import torch

    return torch.cuda.is_available() and (device == "auto" or device.startswith("cuda"))


def render_segments(
    plan: RenderPlan,
    segment_ids: list[int] | None,
    generator: Generator,
    *,
    progress: ProgressCallback | None = None,
) -> None:
    """Render and encode the given segments (None = all pending) with ``generator``.

    Complete segments are skipped, so calling this again after an interruption continues. A
    call for all pending segments also starts the soundtrack's encode (`start_soundtrack`),
    which runs beside the render and which `finish_render` waits for. Batches follow the work
    folder's grid: the first run's batch size and every halving after out-of-memory
    (`visualizer.pipeline.workdir.batch_steps`), so a resume batches as the first run did.
    """
    wanted = plan.pending() if segment_ids is None else segment_ids
    for index in wanted:
        if not 0 <= index < len(plan.segments):
            raise RenderError(f"no segment {index}: the plan has {len(plan.segments)}")
    todo = sorted(i for i in set(wanted) if not plan.segment_path(i).is_file())
    if not todo:
        return
    if segment_ids is None:
        start_soundtrack(plan)
    grid = batch_grid(plan, generator)
    encoding = plan.encoding()
    log.info(
        "rendering on %s, batch size %d, encoder %s (%s), %d at once",
        generator.device, grid.steps[0][1], plan.encoder, encoding.preset, encoding.encoders,
    )  # fmt: skip
    done = plan.n_frames - sum(plan.segments[i][1] - plan.segments[i][0] for i in plan.pending())
    for run in _runs(todo):
        start, stop = plan.segments[run[0]][0], plan.segments[run[-1]][1]
        sink = segment_sink(plan, run)
        try:
            batches = frames.generate(generator, plan.timeline, start, stop, grid=grid)
            done += frames.stream(
                batches, sink, total=plan.n_frames, done=done, progress=progress, label="render"
            )
            sink.check_complete()
        finally:
            sink.abort()


def batch_grid(plan: RenderPlan, generator: Generator) -> frames.BatchGrid:
    """The batches of this render: ``--batch-size``, or the generator's automatic size (for a
    compiled one, the size it was compiled for) as the first worker decided it, with the
    halvings recorded in the work folder; new halvings are recorded there too."""
    first = plan.options.batch_size or shared_batch_size(plan.work_dir, generator.batch_size)
    steps = batch_steps(plan.work_dir, first)
    return frames.BatchGrid(steps, functools.partial(record_halving, plan.work_dir))


def segment_sink(plan: RenderPlan, run: list[int]) -> encoders.SegmentSink:
    """The render stage's consumer of the frames of segments ``run`` (consecutive indices)."""
    return encoders.SegmentSink(
        plan.segments,
        [plan.segment_path(i) for i in range(len(plan.segments))],
        run,
        plan.encoding(),
        frames_dir=plan.options.frames_dir,
        frame_step=plan.options.frame_step,
    )


def _runs(indices: list[int]) -> list[list[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 1, 2], [5, 6]]: contiguous runs render in one stream."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def start_soundtrack(plan: RenderPlan) -> SoundtrackEncode | None:
    """Start encoding ``plan``'s soundtrack into its work folder, unless this process already
    did or a finished one is there (None: the render is silent). The encode of a changed track
    has another name: the old one is removed."""
    if plan.audio_duration <= 0:
        return None
    if plan.soundtrack is None:
        audio = audio_args(plan.output)  # Opus for WebM, else AAC
        name = soundtrack_name(plan.track, plan.audio_start, plan.audio_duration, audio)
        for stale in stale_soundtracks(plan.work_dir, keep=name):
            stale.unlink(missing_ok=True)
        plan.soundtrack = SoundtrackEncode(
            plan.track, plan.work_dir / name, start=plan.audio_start,
            duration=plan.audio_duration, audio=audio,
        )  # fmt: skip
    return plan.soundtrack


def finish_render(plan: RenderPlan, *, progress: ProgressCallback | None = None) -> RenderResult:
    """Join all segments and the soundtrack (encoded beside the render by `render_segments`,
    or now), rename into place, save the preset beside it: no stream is encoded again.

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
    soundtrack = start_soundtrack(plan)
    video.concat_and_mux(
        [plan.segment_path(i) for i in range(len(plan.segments))],
        plan.output,
        soundtrack=soundtrack.result() if soundtrack is not None else None,
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
    options: RenderOptions = DEFAULT_OPTIONS,
    *,
    generator: Generator | None = None,
    progress: ProgressCallback | None = None,
) -> RenderResult:
    """Render ``track`` into the video ``output``; the whole pipeline in one call.

    Without ``generator`` (from `visualizer.model.inference.load_generator`) the model is
    loaded: on an accelerator on a thread of its own while the track is analysed, compiled there
    too, and the frames rendered on that thread; on a CPU after the analysis (see
    `overlaps_analysis`).
    On an error or Ctrl-C no output file exists; the work folder stays for ``resume=True``.
    """
    started = time.perf_counter()
    job = check_render(Path(track), Path(output), options)  # the one check of this render
    with exclusive(output):  # a second run on this output fails now, naming this one
        overlap = generator is None and overlaps_analysis(options)
        loader = BackgroundLoader(options, progress) if overlap else None
        try:
            plan = plan_job(job, progress=progress)
        except Exception:
            if loader is not None:  # let it finish: no thread outlives the call (Ctrl-C: now)
                with contextlib.suppress(Exception):
                    loader.join()
            raise
        plan.started = started
        try:
            if plan.pending():
                if loader is not None:  # loaded and compiled while the track was analysed:
                    # render on its thread, where the warm-up recorded any CUDA graphs
                    loader.run(render_segments, plan, None, loader.join(), progress=progress)
                else:
                    if generator is None:
                        release_free_memory()  # the analysis's freed buffers, before the model
                        generator = load_for_render(options, progress)
                    render_segments(plan, None, generator, progress=progress)
            return finish_render(plan, progress=progress)
        except BaseException:
            if plan.soundtrack is not None:
                plan.soundtrack.stop()
            _drop_unresumable(plan)
            raise
        finally:
            if loader is not None:
                loader.close()


def _drop_unresumable(plan: RenderPlan) -> None:
    """After a failure, keep the work folder only when finished segments are worth resuming:
    otherwise the corrected command would be refused as "an interrupted render"."""
    if len(plan.pending()) == len(plan.segments):
        shutil.rmtree(plan.work_dir, ignore_errors=True)
