"""Album batches: many tracks, one look, a manifest that makes re-runs cheap and safe.

`run_batch` is the entry point of `visualizer batch`:

1. `prepare_batch` resolves the inputs to tracks and output names (`visualizer.batch.album`),
   applies the album TOML, hashes each track's content and settings, and decides per track
   against the manifest (`visualizer.batch.manifest`): skip (done, unchanged, output present),
   resume (interrupted), render (new, failed, or changed settings). Bad inputs raise before any
   work starts.
2. The jobs run either here (`run_local`: one `TrackWorker`, its generator loaded once, the next
   track's analysis and mapping overlapping the current track's render on a second thread) or on
   a Ray cluster (`visualizer.batch.ray_runner`: one worker actor per GPU or CPU slot).
3. Every state change is written to OUTDIR/manifest.json at once; a failed track records its
   reason and the others go on.

Progress events: stage ``"album"`` (frames done over the album's estimated frames, label
``"k/n tracks"``) and one stage ``"track:<name>"`` per running track (frames of that track).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
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
from visualizer.batch.tracks import (
    AlbumProgress,
    TrackWorker,
    record_outcome,
    start_attempt,
)
from visualizer.errors import Cancelled
from visualizer.progress import ProgressCallback, ProgressEvent

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

    ``base`` is the `visualizer.pipeline.options.RenderOptions` applied to every track (the
    album TOML adds per-track overrides). Raises a `VisualizerError` for bad inputs before any
    work; a track that fails is recorded (status ``failed`` with its reason) and the others
    still render.
    """
    with contextlib.ExitStack() as held:  # the batch folder's lock, for the whole run
        prepared = prepare_batch(inputs, base, batch, held=held)
        if batch.ray is not None:
            from visualizer.batch.ray_runner import run_ray  # ray: only when asked for

            run_ray(prepared.jobs, prepared.manifest, base, batch, progress=progress)
        else:
            run_local(prepared.jobs, prepared.manifest, base, progress=progress)
    entries = prepared.manifest.snapshot()
    return BatchResult([{"name": name, **entries[name]} for name in prepared.names])
