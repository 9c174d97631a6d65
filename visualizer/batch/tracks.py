"""One track of a batch on a worker: the worker that holds the generator, planning and
rendering a track, turning results and failures into outcomes, and recording them in the
manifest. Shared by the local runner (`visualizer.batch.runner`) and the Ray runner
(`visualizer.batch.ray_runner`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from visualizer.batch.jobs import TrackJob, TrackOutcome, worker_id
from visualizer.batch.manifest import Manifest
from visualizer.errors import Cancelled, VisualizerError
from visualizer.pipeline.workdir import ResumeMismatch
from visualizer.progress import ProgressCallback, ProgressEvent, report

log = logging.getLogger("visualizer")


# ----------------------------------------------------------------------------------- worker


class TrackWorker:
    """Renders tracks with one generator, loaded once (here, or inside a Ray actor).

    `run` may be called from two threads at once: analysis and mapping (`plan_render`) run
    unlocked, so the next track is planned while the current one renders; rendering holds a lock
    (one generator, one render at a time); joining and muxing (`finish_render`) run unlocked again.
    """

    def __init__(self, options: Any) -> None:
        from visualizer.model.inference import load_generator, warm_up
        from visualizer.model.thread import GeneratorThread

        # Per-track overrides never touch model, weights or device: one generator fits all.
        # Warm-up and every render run on one thread, whichever thread asks for a track: a
        # compiled generator keeps one batch shape and CUDA graphs are replayed where recorded.
        self.thread = GeneratorThread("visualizer-render")
        self.generator = self.thread.call(warm_up, load_generator(options))
        self.render_lock = threading.Lock()

    def render(self, plan: Any, segment_ids: list[int] | None, progress: Any = None) -> None:
        """`render_segments` of ``plan`` on the generator's thread."""
        from visualizer.pipeline.render import render_segments

        self.thread.call(
            render_segments,
            plan,
            segment_ids,
            self.generator,
            progress=self.thread.progress(progress),
        )

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
            from visualizer.pipeline.render import finish_render

            plan = plan_track(job)
            resumed = reused_segments(plan)
            with self.render_lock:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("batch stopped")
                self.render(plan, None, progress)
            result = finish_render(plan, progress=progress)
        except (Cancelled, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - one bad track must not stop the album
            return failed_outcome(job, error, time.monotonic() - start)
        return outcome_from_result(job, result, time.monotonic() - start, resumed)


def plan_track(job: TrackJob) -> Any:
    """`plan_render` for a job; an interrupted render that cannot be resumed (its work folder
    was made with other settings: `ResumeMismatch`) is started over, since the batch owns that
    work folder."""
    from visualizer.pipeline.render import plan_render

    try:
        return plan_render(job.source, job.output, job.options)
    except ResumeMismatch as error:
        if not job.options.resume:
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
