"""Album batches: many tracks, one look, a manifest that makes re-runs cheap and safe.

`run_batch` is the entry point of `visualizer batch`:

1. `prepare_batch` resolves the inputs to tracks and output names (`batch_plan`), applies the
   album TOML, hashes each track's content and settings, and decides per track against the
   manifest (`batch_manifest`): skip (done, unchanged, output present), resume (interrupted),
   render (new, failed, or changed settings). Bad inputs raise before any work starts.
2. The jobs run either here (`run_local`: one `TrackWorker`, its generator loaded once, the next
   track's analysis and mapping overlapping the current track's render on a second thread) or on
   a Ray cluster (`visualizer.batch_ray`: one worker actor per GPU or CPU slot).
3. Every state change is written to OUTDIR/manifest.json at once; a failed track records its
   reason and the others go on.

Progress events: stage ``"album"`` (frames done over the album's estimated frames, label
``"k/n tracks"``) and one stage ``"track:<name>"`` per running track (frames of that track).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visualizer.batch_manifest import Manifest
from visualizer.batch_plan import (
    AlbumError,
    TrackOverrides,
    check_outdir,
    collect_tracks,
    file_digest,
    load_album,
    output_names,
    path_identity,
    settings_hash,
)
from visualizer.errors import AudioError, Cancelled, OutputError, VisualizerError
from visualizer.progress import ProgressCallback, ProgressEvent, report

log = logging.getLogger("visualizer")

# RenderOptions fields that do not change the picture or the sound: left out of the settings hash
# (the Timeline alone decides the frames, so batch size and device do not change them). The
# preset, its overrides and the seed enter as the resolved preset and seed.
NOT_HASHED = frozenset(
    {"device", "batch_size", "frames_dir", "timeline_out", "overwrite", "resume"}
    | {"preset", "overrides", "seed"}
)
# RenderOptions fields that name files: hashed by what the file holds, not by its name.
PATH_FIELDS = frozenset({"weights", "timeline"})
# Album TOML `classes` go to the names of the class technique the track's preset uses.
CLASS_KEYS = {"chroma": "classes.names", "keyframes": "keyframes.names", "breed": "breed.names"}


@dataclass(frozen=True)
class BatchOptions:
    """How the album is run (the render settings themselves are a `RenderOptions`)."""

    outdir: Path
    name_template: str = "{stem}.mp4"  # fields {stem} {name} {parent} {index}
    album: Path | None = None  # album TOML with per-track overrides
    ray: str | None = None  # None: this process; "auto", "local" or a cluster address
    workers: int | None = None  # cap on Ray worker actors (default: one per GPU / CPU slot)
    split: bool = False  # Ray: spread each track's segments over all workers
    retries: int = 2  # extra attempts for a track whose worker died


@dataclass(frozen=True)
class TrackJob:
    """One track of the album, with everything a worker needs (picklable, sent to Ray actors)."""

    index: int  # 1-based position in the album
    name: str  # output name relative to OUTDIR; the manifest key
    source: Path
    output: Path
    options: Any  # visualizer.pipeline.RenderOptions for this track (overwrite/resume decided)
    settings_hash: str


@dataclass(frozen=True)
class TrackOutcome:
    """What a worker reports for one track (picklable)."""

    name: str
    ok: bool
    error: str | None = None
    frames: int | None = None
    video_seconds: float | None = None
    audio_seconds: float | None = None
    wall_seconds: float = 0.0
    worker: str = ""
    resumed: bool = False


@dataclass(frozen=True)
class BatchResult:
    """The manifest entries of this run's tracks, in album order (each has ``name``)."""

    tracks: list[dict]

    @property
    def failed(self) -> list[dict]:
        return [t for t in self.tracks if t.get("status") != "done"]

    @property
    def ok(self) -> bool:
        return not self.failed


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------------------------- prepare


@dataclass
class PreparedBatch:
    jobs: list[TrackJob]  # tracks to render, in album order
    names: list[str]  # output names of every track of this run, in album order
    skipped: list[str]  # names of tracks already done with unchanged settings
    manifest: Manifest


def prepare_batch(
    inputs: Sequence[str | os.PathLike], base: Any, batch: BatchOptions
) -> PreparedBatch:
    """Resolve the album and decide each track against the manifest.

    The manifest is updated at once: jobs are ``pending``, skipped tracks are marked
    ``last_run: skipped``, unreadable tracks ``failed``. Raises a `VisualizerError` for any bad
    input (missing files, duplicate names, album TOML errors) before anything is rendered.
    """
    check_base_options(base)
    tracks = collect_tracks(inputs)
    names = output_names(tracks, batch.name_template)
    album = load_album(batch.album) if batch.album else None
    overrides = album.overrides_for(tracks) if album else [TrackOverrides()] * len(tracks)
    outdir = check_outdir(Path(batch.outdir))
    manifest = Manifest.load(outdir)
    identities: dict[object, object] = {}  # weights/timeline path -> content identity, once
    jobs: list[TrackJob] = []
    skipped: list[str] = []
    for index, (track, name, extra) in enumerate(zip(tracks, names, overrides, strict=True), 1):
        output = outdir / name
        options = _per_track_paths(track_options(base, extra), output)
        output.parent.mkdir(parents=True, exist_ok=True)  # a template may name sub-folders
        previous = manifest.get(name) or {}
        entry = {"index": index, "source": str(track), "output": str(output), "error": None}
        try:
            digest = file_digest(track, previous if previous.get("source") == str(track) else None)
        except AudioError as error:
            # Unreadable now: recorded as failed at once, the rest of the album goes on.
            manifest.update(name, **entry, status="failed", last_run="failed", error=str(error))
            continue
        settings = {**_hashed_settings(options, identities), **resolved_preset(options)}
        digest_hash = settings_hash(str(digest["source_sha256"]), settings)
        entry.update(digest, settings_hash=digest_hash)
        same = previous.get("settings_hash") == digest_hash
        if same and previous.get("status") == "done" and output.exists():
            manifest.update(name, **entry, last_run="skipped")
            skipped.append(name)
            continue
        # A previous run of this batch wrote this output (or its work folder): ours to replace
        # when the settings changed; with unchanged settings an interrupted render resumes.
        ours = previous.get("output") == str(output)
        options = dataclasses.replace(
            options,
            overwrite=bool(options.overwrite or ours),
            resume=bool(options.resume or (same and previous.get("status") != "done")),
        )
        manifest.update(name, **entry, status="pending", last_run=None)
        jobs.append(TrackJob(index, name, track, output, options, digest_hash))
    return PreparedBatch(jobs, names, skipped, manifest)


def check_base_options(base: Any) -> None:
    """Reject render options that cannot apply to a whole album, and bad values, up front."""
    from visualizer.pipeline import check_options

    if base.timeline is not None:
        raise AlbumError("a saved --timeline belongs to one track; batch analyses every track")
    # Any existing folder will do: only the option values are checked here, not the output.
    probe = dataclasses.replace(base, overwrite=True)
    check_options(Path(tempfile.gettempdir()) / "batch-probe.mp4", probe)


def _per_track_paths(options: Any, output: Path) -> Any:
    """``frames_dir`` and ``timeline_out`` name folders in a batch: one entry per track."""
    changes: dict[str, Path] = {}
    if options.frames_dir is not None:
        changes["frames_dir"] = Path(options.frames_dir) / output.stem
    if options.timeline_out is not None:
        changes["timeline_out"] = Path(options.timeline_out) / f"{output.stem}.timeline.npz"
    return dataclasses.replace(options, **changes) if changes else options


def track_options(base: Any, extra: TrackOverrides) -> Any:
    """The album's `RenderOptions` with one track's album-TOML overrides applied.

    ``classes`` set the palette of the class technique the track's preset uses (chroma,
    keyframes or breed). Raises `PresetError` for an unknown preset or a bad override.
    """
    from visualizer.presets import load_preset

    preset = extra.preset if extra.preset is not None else base.preset
    overrides = tuple(base.overrides)
    if extra.classes:
        mode = load_preset(preset, list(overrides + extra.overrides)).classes.mode
        overrides += (f"{CLASS_KEYS[mode]}={json.dumps(list(extra.classes))}",)
    overrides += extra.overrides
    return dataclasses.replace(
        base,
        preset=preset,
        overrides=overrides,
        start=extra.start if extra.start is not None else base.start,
        duration=extra.duration if extra.duration is not None else base.duration,
        seed=extra.seed if extra.seed is not None else base.seed,
    )


def resolved_preset(options: Any) -> dict[str, object]:
    """The preset and seed a track renders with, resolved (so editing a preset file, or a
    built-in preset changing, changes the settings hash). Raises `PresetError`."""
    from visualizer.presets import load_preset, preset_to_toml

    preset = load_preset(options.preset, list(options.overrides))
    seed = options.seed if options.seed is not None else int(preset.seed)
    return {"preset": preset_to_toml(preset), "seed": seed}


def _hashed_settings(options: Any, identities: dict[object, object]) -> dict[str, object]:
    """RenderOptions fields that change the picture or sound, files replaced by their content."""
    settings: dict[str, object] = {}
    for item in dataclasses.fields(options):
        if item.name in NOT_HASHED:
            continue
        value = getattr(options, item.name)
        if item.name in PATH_FIELDS:
            if value not in identities:
                identities[value] = path_identity(value)
            value = identities[value]
        settings[item.name] = value
    return settings


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
            with self._render_lock:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("batch stopped")
                render_segments(plan, None, self.generator, progress=progress)
            result = finish_render(plan, progress=progress)
        except (Cancelled, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - one bad track must not stop the album
            return failed_outcome(job, error, time.monotonic() - start)
        return outcome_from_result(job, result, time.monotonic() - start)


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


def outcome_from_result(job: TrackJob, result: Any, wall: float) -> TrackOutcome:
    return TrackOutcome(
        job.name,
        True,
        frames=int(result.n_frames),
        video_seconds=float(result.video_seconds),
        audio_seconds=float(result.audio_seconds),
        wall_seconds=wall,
        worker=worker_id(),
        resumed=bool(job.options.resume),
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
        from visualizer.batch_ray import run_ray

        run_ray(prepared.jobs, prepared.manifest, base, batch, progress=progress)
    else:
        run_local(prepared.jobs, prepared.manifest, base, progress=progress)
    entries = prepared.manifest.snapshot()
    return BatchResult([{"name": name, **entries[name]} for name in prepared.names])
