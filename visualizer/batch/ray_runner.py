"""Album batches on a Ray cluster: one worker actor per GPU (or per CPU slot), each holding its
loaded generator.

Ray does the scheduling, transport and actor restarts; this module only decides which track (or,
with ``split``, which range of a track's segments) goes to which actor, and retries work whose
actor died. Workers read the tracks and write the outputs by path, so every node must see the
tracks and the output folder at the same paths (a shared filesystem such as NFS).

Why a retried track never leaves a half-written output: the pipeline encodes into a work folder
beside the output and renames the finished video into place; a retry runs with ``resume=True``,
keeping the segments that were complete when the actor died.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from visualizer.batch.jobs import BatchOptions, TrackJob, TrackOutcome
from visualizer.batch.manifest import Manifest
from visualizer.batch.ray_worker import ProgressHub, RayTrackWorker, import_ray
from visualizer.batch.tracks import (
    AlbumProgress,
    failed_outcome,
    record_outcome,
    reused_segments,
    start_attempt,
)
from visualizer.errors import VisualizerError
from visualizer.progress import ProgressCallback

log = logging.getLogger("visualizer")

PER_ACTOR = 2  # tracks in flight per actor: one renders while the next is analysed
POLL_SECONDS = 0.2  # how often the driver drains progress events
MAX_UNAVAILABLE = 600  # probes (POLL_SECONDS apart) a restarting actor may refuse: 2 minutes


# ------------------------------------------------------------------------------ driver side


@dataclass(eq=False)
class _Slot:
    """One worker actor as the driver sees it."""

    actor: Any
    label: str = ""
    busy: int = 0
    probe: Any = None  # an info() call in flight after a failure: alive again, or gone?
    unavailable: int = 0  # probes answered "temporarily unavailable" in a row
    alive: bool = True


@dataclass
class _Pool:
    ray: Any
    slots: list[_Slot]
    hub: Any
    album: AlbumProgress
    retries: int
    attempts: Counter = field(default_factory=Counter)

    def ready(self) -> list[_Slot]:
        return [s for s in self.slots if s.alive and s.probe is None]

    def drain(self) -> None:
        events = self.ray.get(self.hub.drain.remote())
        for (name, part), (done, total) in events.items():
            self.album.track_event(name, "render", done, total, part)

    def died(self, slot: _Slot) -> None:
        """The slot's actor died under a call: ask it for its id; Ray restarts it if it can."""
        if slot.probe is None and slot.alive:
            slot.probe = slot.actor.info.remote()

    def check_probes(self, finished: Sequence[Any]) -> None:
        errors = self.ray.exceptions
        for slot in self.slots:
            if slot.probe is None or slot.probe not in finished:
                continue
            probe, slot.probe = slot.probe, None
            try:
                slot.label = self.ray.get(probe)
            except errors.ActorUnavailableError:
                # Between death and restart Ray may refuse calls for a moment: ask again.
                slot.unavailable += 1
                if slot.unavailable <= MAX_UNAVAILABLE:
                    time.sleep(POLL_SECONDS)
                    slot.probe = slot.actor.info.remote()
                else:
                    slot.alive = False
            except errors.RayActorError:
                slot.alive = False  # out of restarts
            else:
                slot.unavailable = 0
            if not slot.alive:
                log.warning("worker %s is gone for good", slot.label)

    def probes(self) -> list[Any]:
        return [s.probe for s in self.slots if s.probe is not None]

    def retry(self, job: TrackJob, error: BaseException) -> TrackJob | None:
        """The job to run again after its worker died, or None when out of attempts."""
        self.attempts[job.name] += 1
        if self.attempts[job.name] > self.retries:
            return None
        log.warning(
            "worker died rendering %s (%s); retrying", job.source.name, type(error).__name__
        )
        return dataclasses.replace(job, options=dataclasses.replace(job.options, resume=True))


def run_ray(
    jobs: Sequence[TrackJob],
    manifest: Manifest,
    base: Any,
    batch: BatchOptions,
    *,
    progress: ProgressCallback | None = None,
) -> None:
    """Render ``jobs`` on the Ray cluster at ``batch.ray`` ("auto", "local" or an address).

    Connects (or, for "local", starts a cluster on this machine) unless Ray is already
    initialised in this process, starts the worker actors, schedules, and disconnects.
    """
    if not jobs:
        return
    ray = import_ray()
    owns = not ray.is_initialized()
    if owns:
        _connect(ray, batch.ray)
    try:
        pool = _start_pool(ray, jobs, base, batch, AlbumProgress(progress, jobs))
        if batch.split:
            _run_split(pool, jobs, manifest)
        else:
            _run_tracks(pool, jobs, manifest)
    finally:
        if owns:
            ray.shutdown()


def _connect(ray: Any, address: str | None) -> None:
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address in (None, "local"):
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise VisualizerError(
            f"cannot connect to the Ray cluster at {address!r}: {error} "
            "(start one with `ray start --head`, or use --ray local)"
        ) from None


def _start_pool(
    ray: Any, jobs: Sequence[TrackJob], base: Any, batch: BatchOptions, album: AlbumProgress
) -> _Pool:
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = gpus > 0 and base.device != "cpu"
    count = gpus if use_gpu else max(1, int(resources.get("CPU", 1)))
    if batch.workers:
        count = min(count, batch.workers)
    if not batch.split:
        count = min(count, len(jobs))
    hub_name = f"visualizer-progress-{uuid.uuid4().hex[:12]}"
    hub = ray.remote(num_cpus=0)(ProgressHub).options(name=hub_name).remote()
    actor_class = ray.remote(
        num_cpus=1,
        num_gpus=1 if use_gpu else 0,
        max_restarts=batch.retries,
        max_task_retries=0,  # a track is retried by the driver, with resume, on any actor
        max_concurrency=PER_ACTOR + 2,  # two tracks, plus info() and a split finish
    )(RayTrackWorker)
    if use_gpu and base.device.startswith("cuda"):
        base = dataclasses.replace(base, device="cuda")  # each actor sees only its own GPU
    slots = [_Slot(actor_class.remote(base, hub_name)) for _ in range(count)]
    # Waiting here surfaces a generator that cannot load (bad weights) as one clear error.
    try:
        labels = ray.get([slot.actor.info.remote() for slot in slots])
    except ray.exceptions.RayActorError as error:
        # The creation task's traceback ends with "module.Error: message": show that line.
        lines = [line for line in (getattr(error, "error_msg", "") or str(error)).splitlines()]
        cause = next((line for line in reversed(lines) if line.strip()), "unknown error")
        raise VisualizerError(f"the Ray workers could not start: {cause.strip()}") from None
    for slot, label in zip(slots, labels, strict=True):
        slot.label = label
    log.info("rendering on %d Ray worker(s) (%s)", count, "GPU" if use_gpu else "CPU")
    return _Pool(ray, slots, hub, album, batch.retries)


def _finish_job(pool: _Pool, manifest: Manifest, outcome: TrackOutcome) -> None:
    record_outcome(manifest, outcome)
    pool.album.track_finished(outcome.name, outcome.frames)
    if not outcome.ok:
        log.warning("%s failed: %s", outcome.name, outcome.error)


NO_WORKERS = "every Ray worker is gone (out of restarts)"


def _gave_up(job: TrackJob, error: BaseException | str) -> TrackOutcome:
    if isinstance(error, str):
        message = error
    else:
        message = f"its worker died on every attempt ({type(error).__name__})"
    return TrackOutcome(job.name, False, error=message, worker="ray")


def _run_tracks(pool: _Pool, jobs: Sequence[TrackJob], manifest: Manifest) -> None:
    """Whole tracks to actors, up to `PER_ACTOR` each; dead actors' tracks go back in line."""
    ray = pool.ray
    pending = deque(jobs)
    running: dict[Any, tuple[TrackJob, _Slot]] = {}
    while pending or running:
        # Idle actors first, then a second track each (planned while the first renders).
        for level in range(PER_ACTOR):
            for slot in pool.ready():
                if pending and slot.busy <= level:
                    job = pending.popleft()
                    start_attempt(manifest, job.name, slot.label)
                    running[slot.actor.run.remote(job)] = (job, slot)
                    slot.busy += 1
        if not running and not pool.probes():
            for job in pending:
                _finish_job(pool, manifest, _gave_up(job, NO_WORKERS))
            return
        refs = list(running) + pool.probes()
        finished, _ = ray.wait(refs, num_returns=1, timeout=POLL_SECONDS)
        pool.drain()
        pool.check_probes(finished)
        for ref in finished:
            if ref not in running:
                continue
            job, slot = running.pop(ref)
            slot.busy -= 1
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayActorError as error:
                pool.died(slot)
                again = pool.retry(job, error)
                if again is not None:
                    pending.appendleft(again)
                    continue
                outcome = _gave_up(job, error)
            _finish_job(pool, manifest, outcome)
    pool.drain()


def _chunks(ids: list[int], parts: int) -> list[list[int]]:
    """Contiguous, near-equal runs of ``ids`` (contiguous runs encode in one stream)."""
    parts = max(1, min(parts, len(ids)))
    size, extra = divmod(len(ids), parts)
    out, start = [], 0
    for k in range(parts):
        stop = start + size + (1 if k < extra else 0)
        out.append(ids[start:stop])
        start = stop
    return [c for c in out if c]


def _run_split(pool: _Pool, jobs: Sequence[TrackJob], manifest: Manifest) -> None:
    """Track after track, each one's segments spread over every live actor, then joined."""
    planned = None  # the next track's plan, requested while the current one renders
    for position, job in enumerate(jobs):
        started = time.time()
        start_attempt(manifest, job.name, "ray (split)")
        plan_ref = planned or pool.ready()[0].actor.plan.remote(job)
        if position + 1 < len(jobs) and pool.ready():
            planned = pool.ready()[-1].actor.plan.remote(jobs[position + 1])
        else:
            planned = None
        outcome, workers = _split_one(pool, job, plan_ref, started)
        _finish_job(pool, manifest, outcome)
        if workers:
            manifest.update(job.name, worker=", ".join(sorted(workers)))
        if not pool.ready() and not pool.probes():
            for rest in jobs[position + 1 :]:
                _finish_job(pool, manifest, _gave_up(rest, NO_WORKERS))
            return


def _split_one(
    pool: _Pool, job: TrackJob, plan_ref: Any, started: float
) -> tuple[TrackOutcome, set[str]]:
    """Render one planned track in parts; returns its outcome and the workers that rendered."""
    ray = pool.ray
    workers: set[str] = set()
    try:
        plan = ray.get(plan_ref)
    except ray.exceptions.RayActorError as error:
        plan = ray.get(pool.ready()[0].actor.plan.remote(job)) if pool.ready() else None
        if plan is None:
            return _gave_up(job, error), workers
    if isinstance(plan, TrackOutcome):
        return plan, workers
    plan_obj = ray.put(plan)
    resumed = reused_segments(plan)
    todo = deque(enumerate(_chunks(plan.pending(), len(pool.ready()))))
    running: dict[Any, tuple[int, list[int], _Slot]] = {}
    while todo or running:
        for slot in pool.ready():
            if todo and slot.busy == 0:
                part, ids = todo.popleft()
                running[slot.actor.render.remote(plan_obj, ids, job.name, part)] = (part, ids, slot)
                slot.busy += 1
        if not running and not pool.probes():
            return _gave_up(job, NO_WORKERS), workers
        finished, _ = ray.wait(list(running) + pool.probes(), num_returns=1, timeout=POLL_SECONDS)
        pool.drain()
        pool.check_probes(finished)
        for ref in finished:
            if ref not in running:
                continue
            part, ids, slot = running.pop(ref)
            slot.busy -= 1
            try:
                ray.get(ref)
            except ray.exceptions.RayActorError as error:
                pool.died(slot)
                pool.attempts[job.name] += 1
                if pool.attempts[job.name] > pool.retries:
                    return _gave_up(job, error), workers
                todo.appendleft((part, ids))  # complete segments are kept, the rest redone
                continue
            except ray.exceptions.RayTaskError as error:
                cause = error.as_instanceof_cause()
                return failed_outcome(job, cause, time.time() - started), workers
            workers.add(slot.label)
    ready = pool.ready()
    if not ready:
        return _gave_up(job, NO_WORKERS), workers
    return ray.get(ready[0].actor.finish.remote(plan_obj, job, started, resumed)), workers
