"""Album batches: many tracks, one look, a manifest that makes re-runs cheap and safe.

`run_batch` is the entry point of `visualizer batch`:

1. `prepare_batch` resolves the inputs to tracks and output names (`batch_plan`), applies the
   album TOML, hashes each track's content and settings, and decides per track against the
   manifest (`batch_manifest`): skip (done, unchanged, output present), resume (interrupted),
   render (new, failed, or changed settings). Bad inputs raise before any work starts.
2. The jobs run either here (`run_local`: one `TrackWorker`, its generator loaded once, the next
   track's analysis and mapping overlapping the current track's render on a second thread) or on
   a Ray cluster (`visualizer.batch.ray_runner`: one worker actor per GPU or CPU slot).
3. Every state change is written to OUTDIR/manifest.json at once; a failed track records its
   reason and the others go on.

Progress events: stage ``"album"`` (frames done over the album's estimated frames, label
``"k/n tracks"``) and one stage ``"track:<name>"`` per running track (frames of that track).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from visualizer.batch.jobs import (
    BatchOptions,
    BatchResult,
    PreparedBatch,
    TrackJob,
    TrackOutcome,
    prepare_batch,
    worker_id,
)
from visualizer.batch.manifest import Manifest
from visualizer.errors import Cancelled, OutputError, VisualizerError
from visualizer.progress import ProgressCallback, ProgressEvent, report

__all__ = [
    "AlbumProgress",
    "BatchOptions",
    "BatchResult",
    "PreparedBatch",
    "TrackJob",
    "TrackOutcome",
    "TrackWorker",
    "prepare_batch",
    "run_batch",
    "run_local",
]

log = logging.getLogger("visualizer")


# ----------------------------------------------------------------------------------- worker


class TrackWorker:
    """Renders tracks with one generator, loaded once (here, or inside a Ray actor).

    `run` may be called from two threads at once: analysis and mapping (`plan_render`) run
    unlocked, so the next track is planned while the current one renders; rendering holds a lock
    (one generator, one render at a time); joining and muxing (`finish_render`) run unlocked again.
    """

    def __init__(self, options: Any) -> None:
        from visualizer.pipeline import load_generator

        # Per-track overrides never touch model, weights or device: one generator fits all.
        self.generator = load_generator(options)
        self._render_lock = threading.Lock()

    def run(
        self,
        job: TrackJob,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> TrackOutcome:
        """Plan, render and finish one track; any failure becomes a failed `TrackOutcome`.

        `Cancelled` and KeyboardInterrupt propagate (also when ``cancel`` is set once planned).
        """
        start = time.monotonic()
        try:
            from visualizer.pipeline import finish_render, render_segments

            plan = plan_track(job)
            resumed = reused_segments(plan)
            with self._render_lock:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("batch stopped")
                render_segments(plan, None, self.generator, progress=progress)
            result = finish_render(plan, progress=progress)
        except (Cancelled, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - one bad track must not stop the album
            return failed_outcome(job, error, time.monotonic() - start)
        return outcome_from_result(job, result, time.monotonic() - start, resumed)


def plan_track(job: TrackJob) -> Any:
    """`plan_render` for a job; an interrupted render that cannot be resumed (its work folder
    was made with other settings) is started over, since the batch owns that work folder."""
    from visualizer.pipeline import plan_render

    try:
        return plan_render(job.source, job.output, job.options)
    except OutputError as error:
        if not (job.options.resume and str(error).startswith("cannot resume")):
            raise
        log.warning("%s: %s; starting it over", job.name, error)
        fresh = dataclasses.replace(job.options, resume=False, overwrite=True)
        return plan_render(job.source, job.output, fresh)


def failed_outcome(job: TrackJob, error: BaseException, wall: float) -> TrackOutcome:
    if isinstance(error, VisualizerError):
        message = str(error)
    else:
        log.debug("track %s failed", job.name, exc_info=error)
        message = f"{type(error).__name__}: {error}"
    return TrackOutcome(job.name, False, error=message, wall_seconds=wall, worker=worker_id())


def reused_segments(plan: Any) -> bool:
    """True when the plan continues an interrupted render (some segments already complete)."""
    return len(plan.pending()) < len(plan.segments)


def outcome_from_result(job: TrackJob, result: Any, wall: float, resumed: bool) -> TrackOutcome:
    return TrackOutcome(
        job.name,
        True,
        frames=int(result.n_frames),
        video_seconds=float(result.video_seconds),
        audio_seconds=float(result.audio_seconds),
        wall_seconds=wall,
        worker=worker_id(),
        resumed=resumed,
    )


# ---------------------------------------------------------------------------------- running


class AlbumProgress:
    """Turns per-track events into the album's events: ``album`` and ``track:<name>``.

    A track rendered in parts (Ray ``--split``) reports each part's frames under its own
    ``part`` key; the track's bar shows their sum.
    """

    def __init__(self, progress: ProgressCallback | None, jobs: Sequence[TrackJob]) -> None:
        self.progress = progress
        self.n_tracks = len(jobs)
        self.finished = 0
        self.failed = 0
        self._done: dict[tuple[str, object], float] = {}
        self._total: dict[str, float] = {}
        self._lock = threading.Lock()

    def for_track(self, name: str, part: object = None) -> ProgressCallback:
        def callback(event: ProgressEvent) -> None:
            self.track_event(name, event.stage, event.done, event.total, part)

        return callback

    def track_event(
        self, name: str, stage: str, done: float, total: float | None, part: object = None
    ) -> None:
        if stage != "render":
            return  # the bars count frames; analysis, encode and mux are short beside them
        with self._lock:
            self._done[(name, part)] = done
            if total:
                self._total[name] = total
            track_done = sum(d for (n, _), d in self._done.items() if n == name)
        report(self.progress, f"track:{name}", track_done, total, "frame", name)
        self._album()

    def track_finished(self, name: str, frames: int | None) -> None:
        with self._lock:
            self.finished += 1
            for key in [k for k in self._done if k[0] == name]:
                del self._done[key]
            if frames is not None:
                self._done[(name, None)] = self._total[name] = frames
            else:  # failed: its frames will never come
                self.failed += 1
                self._total.pop(name, None)
        self._album()

    def _album(self) -> None:
        with self._lock:
            done = sum(self._done.values())
            known = list(self._total.values())
            # Tracks not planned yet are estimated at the mean length of the known ones.
            mean = sum(known) / len(known) if known else None
            unknown = self.n_tracks - len(known) - self.failed
            total = None if mean is None else sum(known) + mean * unknown
            label = f"{self.finished}/{self.n_tracks} tracks"
        report(self.progress, "album", done, total, "frame", label)


def start_attempt(manifest: Manifest, name: str, worker: str) -> None:
    """Mark a track ``running`` on ``worker`` and count the attempt (across runs)."""
    attempts = int((manifest.get(name) or {}).get("attempts") or 0) + 1
    manifest.update(name, status="running", worker=worker, attempts=attempts)


def record_outcome(manifest: Manifest, outcome: TrackOutcome) -> dict:
    """Write a finished track's outcome into the manifest."""
    if outcome.ok:
        return manifest.update(
            outcome.name,
            status="done",
            last_run="resumed" if outcome.resumed else "rendered",
            frames=outcome.frames,
            video_seconds=outcome.video_seconds,
            audio_seconds=outcome.audio_seconds,
            wall_seconds=round(outcome.wall_seconds, 3),
            worker=outcome.worker,
            error=None,
        )
    return manifest.update(
        outcome.name,
        status="failed",
        last_run="failed",
        wall_seconds=round(outcome.wall_seconds, 3),
        worker=outcome.worker,
        error=outcome.error,
    )


def run_local(
    jobs: Sequence[TrackJob],
    manifest: Manifest,
    base: Any,
    *,
    progress: ProgressCallback | None = None,
    worker_factory: Callable[[], TrackWorker] | None = None,
) -> None:
    """Render ``jobs`` in this process: one generator, two threads (plan next / render current).

    Ctrl-C or a `Cancelled` from ``progress`` stops both threads at their next frame batch and is
    re-raised; the tracks that were running stay ``running`` in the manifest, to be resumed.
    """
    if not jobs:
        return
    album = AlbumProgress(progress, jobs)
    worker = (worker_factory or (lambda: TrackWorker(base)))()
    stop = threading.Event()

    def watched(name: str) -> ProgressCallback:
        forward = album.for_track(name)

        def callback(event: ProgressEvent) -> None:
            if stop.is_set():
                raise Cancelled("batch stopped")
            forward(event)

        return callback

    def one(job: TrackJob) -> None:
        if stop.is_set():
            return
        start_attempt(manifest, job.name, worker_id())
        outcome = worker.run(job, watched(job.name), cancel=stop)
        record_outcome(manifest, outcome)
        album.track_finished(job.name, outcome.frames)
        if not outcome.ok:
            log.warning("%s failed: %s", job.source.name, outcome.error)

    # Two threads and one render lock: while one thread renders, the other analyses the next
    # track. The pool takes jobs in album order.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch")
    try:
        for future in [pool.submit(one, job) for job in jobs]:
            future.result()
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_batch(
    inputs: Sequence[str | os.PathLike],
    base: Any,
    batch: BatchOptions,
    *,
    progress: ProgressCallback | None = None,
) -> BatchResult:
    """Render an album into ``batch.outdir``; returns every track's manifest entry.

    ``base`` is the `visualizer.pipeline.RenderOptions` applied to every track (the album TOML
    adds per-track overrides). Raises a `VisualizerError` for bad inputs before any work; a track
    that fails is recorded (status ``failed`` with its reason) and the others still render.
    """
    prepared = prepare_batch(inputs, base, batch)
    if batch.ray is not None:
        from visualizer.batch.ray_runner import run_ray

        run_ray(prepared.jobs, prepared.manifest, base, batch, progress=progress)
    else:
        run_local(prepared.jobs, prepared.manifest, base, progress=progress)
    entries = prepared.manifest.snapshot()
    return BatchResult([{"name": name, **entries[name]} for name in prepared.names])
