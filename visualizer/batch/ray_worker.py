"""The remote side of Ray batches: the worker actor (a `TrackWorker` holding its generator, plus
the steps of a split render) and the progress hub actor the driver drains.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from visualizer.batch.jobs import TrackJob, TrackOutcome, worker_id
from visualizer.batch.tracks import TrackWorker, failed_outcome, outcome_from_result, plan_track
from visualizer.errors import VisualizerError
from visualizer.progress import ProgressEvent

PUSH_SECONDS = 0.25  # how often a worker sends a track's progress (plus its last event)
NOSET_VISIBLE = "RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"


def actor_device(device: str, gpu_ids: Sequence[object], environ: Mapping[str, str]) -> str:
    """The device a worker actor renders on, given Ray's GPU ids for it and its environment.

    Ray normally sets CUDA_VISIBLE_DEVICES to the actor's own GPU, so "cuda" is that GPU. With
    RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES set it does not: every actor sees every GPU and
    "cuda" would put them all on the first. Then the actor's GPU id (a physical index, or an
    entry of a CUDA_VISIBLE_DEVICES set before Ray started) picks ``cuda:N``.
    """
    if device not in ("cuda", "auto") or not gpu_ids or not environ.get(NOSET_VISIBLE):
        return device
    gpu = str(gpu_ids[0])
    visible = [entry.strip() for entry in environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    visible = [entry for entry in visible if entry]
    index = visible.index(gpu) if gpu in visible else int(gpu)
    return f"cuda:{index}"


def import_ray() -> Any:
    """The ray module, or a VisualizerError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise VisualizerError(
            "--ray needs Ray: install the extra with pip install 'visualizer[ray]'"
        ) from None
    return ray


# ----------------------------------------------------------------------------- remote side


class ProgressHub:
    """A tiny actor holding the latest progress of every running track (or track part)."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, object], tuple[float, float | None]] = {}

    def push(self, name: str, part: object, done: float, total: float | None) -> None:
        self.events[(name, part)] = (done, total)

    def drain(self) -> dict[tuple[str, object], tuple[float, float | None]]:
        events, self.events = self.events, {}
        return events


class HubProgress:
    """A worker-side `ProgressCallback` forwarding "render" events to the hub, throttled."""

    def __init__(self, hub: Any, name: str, part: object = None, offset: float = 0) -> None:
        self.hub, self.name, self.part, self.offset = hub, name, part, offset
        self.last = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage != "render":
            return
        now = time.monotonic()
        if now - self.last >= PUSH_SECONDS or (event.total and event.done >= event.total):
            self.last = now
            self.hub.push.remote(self.name, self.part, event.done - self.offset, event.total)


class RayTrackWorker:
    """The worker actor: a `TrackWorker` (generator loaded once) plus the split-render steps."""

    def __init__(self, options: Any, hub_name: str) -> None:
        import ray

        # The hub is passed by name: an actor handle as a constructor argument would make Ray
        # warn that a restart might not find its arguments.
        self.hub = ray.get_actor(hub_name)
        device = actor_device(options.device, ray.get_gpu_ids(), os.environ)
        self.worker = TrackWorker(dataclasses.replace(options, device=device))

    def info(self) -> str:
        return worker_id()

    def run(self, job: TrackJob) -> TrackOutcome:
        return self.worker.run(job, HubProgress(self.hub, job.name))

    def plan(self, job: TrackJob) -> Any:
        """The track's `RenderPlan`, or a failed `TrackOutcome` (a corrupt track, say)."""
        try:
            return plan_track(job)
        except Exception as error:  # noqa: BLE001 - reported as the track's failure
            return failed_outcome(job, error, 0.0)

    def render(self, plan: Any, segment_ids: list[int], name: str, part: int) -> int:
        """Render some segments of a planned track; returns how many frames that was."""
        todo = [i for i in segment_ids if i in set(plan.pending())]
        frames = sum(plan.segments[i][1] - plan.segments[i][0] for i in todo)
        # render_segments counts every frame already complete; this part's bar starts at 0.
        offset = plan.n_frames - sum(
            plan.segments[i][1] - plan.segments[i][0] for i in plan.pending()
        )
        with self.worker.render_lock:
            self.worker.render(plan, todo, HubProgress(self.hub, name, part, offset))
        return frames

    def finish(self, plan: Any, job: TrackJob, wall_start: float, resumed: bool) -> TrackOutcome:
        from visualizer.pipeline.render import finish_render

        try:
            result = finish_render(plan)
        except Exception as error:  # noqa: BLE001 - reported as the track's failure
            return failed_outcome(job, error, time.time() - wall_start)
        return outcome_from_result(job, result, time.time() - wall_start, resumed)
