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
import logging
import os
import shutil
import threading
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
    warm_up,
)
from visualizer.pipeline.checks import RenderJob, check_render, preset_path_for
from visualizer.pipeline.options import RenderOptions, RenderPlan, RenderResult
from visualizer.pipeline.timeline import MappedTrack, audio_window, map_track, subsample
from visualizer.pipeline.workdir import (
    check_same_render,
    manifest_for,
    preset_record,
    read_manifest,
    restart_segments,
    resumed_timeline,
    source_key,
    start_work_dir,
    work_dir_for,
)
from visualizer.progress import ProgressCallback, report
from visualizer.rendering import frames, video

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
    encoder = video.resolve_encoder(options.encoder, cuda=cuda, size=size, saved=kept)
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
        track, output, options, rendered, work_dir, segments, encoder, audio_start, audio_duration
    )
    manifest = manifest_for(plan, full, source)
    if saved is not None:
        if saved.get("encoder") != encoder:
            restart_segments(plan, saved, encoder)
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

    Complete segments are skipped, so calling this again after an interruption continues.
    """
    wanted = plan.pending() if segment_ids is None else segment_ids
    for index in wanted:
        if not 0 <= index < len(plan.segments):
            raise RenderError(f"no segment {index}: the plan has {len(plan.segments)}")
    todo = sorted(i for i in set(wanted) if not plan.segment_path(i).is_file())
    if not todo:
        return
    # The generator's automatic batch size (for a compiled one, the size it was compiled for).
    batch_size = plan.options.batch_size or shared_batch_size(plan.work_dir, generator.batch_size)
    log.info(
        "rendering on %s, batch size %d, encoder %s", generator.device, batch_size, plan.encoder
    )
    done = plan.n_frames - sum(plan.segments[i][1] - plan.segments[i][0] for i in plan.pending())
    for run in _runs(todo):
        start, stop = plan.segments[run[0]][0], plan.segments[run[-1]][1]
        sink = segment_sink(plan, run)
        try:
            batches = frames.generate(generator, plan.timeline, start, stop, batch_size=batch_size)
            done += frames.stream(
                batches, sink, total=plan.n_frames, done=done, progress=progress, label="render"
            )
            sink.check_complete()
        finally:
            sink.abort()


def segment_sink(plan: RenderPlan, run: list[int]) -> frames.SegmentSink:
    """The render stage's consumer of the frames of segments ``run`` (consecutive indices)."""
    return frames.SegmentSink(
        plan.segments,
        [plan.segment_path(i) for i in range(len(plan.segments))],
        run,
        plan.encoding(),
        frames_dir=plan.options.frames_dir,
        frame_step=plan.options.frame_step,
    )


def shared_batch_size(work_dir: Path, automatic: int) -> int:
    """The automatic batch size of this render: the first worker's, kept in the work folder.

    A resumed or split render must batch its frames as the first run did to compute them
    bit for bit alike, and free GPU memory (which the automatic size follows) changes.
    """
    path = work_dir / "batch_size"
    draft = work_dir / f".batch_size.{os.getpid()}.{threading.get_ident()}"
    draft.write_text(str(automatic))
    try:
        os.link(draft, path)  # atomic and exclusive: the first worker decides, whole
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return max(1, int(path.read_text()))


def _runs(indices: list[int]) -> list[list[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 1, 2], [5, 6]]: contiguous runs render in one stream."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


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
    options: RenderOptions = DEFAULT_OPTIONS,
    *,
    generator: Generator | None = None,
    progress: ProgressCallback | None = None,
) -> RenderResult:
    """Render ``track`` into the video ``output``; the whole pipeline in one call.

    Without ``generator`` (from `visualizer.model.inference.load_generator`) the model is
    loaded: on an accelerator on a second thread while the track is analysed, on a CPU after the
    analysis (see `overlaps_analysis`).
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
                if loader is not None:
                    generator = loader.join()
                elif generator is None:
                    release_free_memory()  # the analysis's freed buffers, before the model's peak
                    generator = load_for_render(options, progress)
                if loader is not None and generator.cuda_graphs:
                    generator = warm_up(generator, progress)  # recorded on the rendering thread
                render_segments(plan, None, generator, progress=progress)
            return finish_render(plan, progress=progress)
        except BaseException:
            _drop_unresumable(plan)
            raise


def _drop_unresumable(plan: RenderPlan) -> None:
    """After a failure, keep the work folder only when finished segments are worth resuming:
    otherwise the corrected command would be refused as "an interrupted render"."""
    if len(plan.pending()) == len(plan.segments):
        shutil.rmtree(plan.work_dir, ignore_errors=True)
