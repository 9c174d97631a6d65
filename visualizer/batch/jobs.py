"""The jobs of a batch run, decided against the manifest.

`prepare_batch` resolves the album (`visualizer.batch.album`), applies per-track overrides, hashes
each track's content and its render identity (`visualizer.pipeline.options.IDENTITY_FIELDS`),
and
decides per track: skip (done, unchanged, output present), resume (interrupted, unchanged), or
render (new, failed, changed). The data types here are picklable: `TrackJob` goes to Ray actors
and `TrackOutcome` comes back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visualizer.batch.album import (
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
from visualizer.batch.manifest import Manifest
from visualizer.content import beats_identity
from visualizer.errors import AudioError, OutputError, VisualizerError
from visualizer.files import exclusive
from visualizer.pipeline.checks import check_outputs, check_values
from visualizer.pipeline.options import IDENTITY_FIELDS, PRESET_FIELDS, resolve_preset
from visualizer.pipeline.stems import check_stems, parse_stems
from visualizer.rendering.codecs import check_output_suffix

LOCK_NAME = ".batch.lock"  # inside OUTDIR while a batch runs there
# RenderOptions fields that name files: hashed by what the file holds, not by its name.
PATH_FIELDS = frozenset({"weights", "timeline", "upscale"})
# Identity fields added after albums were rendered: they enter the settings hash only when set,
# so a track rendered before one existed keeps its hash (and is not rendered again).
LATER_FIELDS = frozenset({"upscale", "codec", "stems", "downbeat"})
# Album TOML `classes` go to the names of the class technique the track's preset uses.
# Which preset key an album track's `classes = [...]` sets, per classes.mode.
CLASS_KEYS = {
    "chroma": "classes.names",
    "keyframes": "keyframes.names",
    "breed": "breed.names",
    "morph": "morph.names",
}


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
    # a folder holding a folder of stems per track, named after the track's file without its
    # suffix (as Demucs writes them: separated/MODEL/TRACK/drums.wav); None: no stems
    stems_root: Path | None = None


@dataclass(frozen=True)
class TrackJob:
    """One track of the album, with everything a worker needs (picklable, sent to Ray actors)."""

    index: int  # 1-based position in the album
    name: str  # output name relative to OUTDIR; the manifest key
    source: Path
    output: Path
    options: Any  # visualizer.pipeline.options.RenderOptions of this track (overwrite/resume set)
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
    inputs: Sequence[str | os.PathLike],
    base: Any,
    batch: BatchOptions,
    *,
    held: contextlib.ExitStack | None = None,
) -> PreparedBatch:
    """Resolve the album and decide each track against the manifest.

    With ``held``, the batch folder's lock (`LOCK_NAME` inside it) is taken onto that stack
    before the manifest is read, so a second batch on the folder fails at once with an
    `OutputError` naming the running one (two runs marked each other's finished tracks failed).

    The manifest is updated at once: jobs are ``pending``, skipped tracks are marked
    ``last_run: skipped``, unreadable tracks ``failed``. Raises a `VisualizerError` for any bad
    input (missing files, duplicate names, album TOML errors) before anything is rendered.
    """
    check_base_options(base)
    tracks = collect_tracks(inputs)
    names = output_names(tracks, batch.name_template)
    for name in names:  # a template's container must hold the --encoder's video
        check_output_suffix(Path(name), base.encoder, base.codec)
    album = load_album(batch.album) if batch.album else None
    overrides = album.overrides_for(tracks) if album else [TrackOverrides()] * len(tracks)
    outdir = check_outdir(Path(batch.outdir))
    if held is not None:
        held.enter_context(exclusive(outdir, "batch folder", lock=outdir / LOCK_NAME))
    manifest = Manifest.load(outdir)
    identities: dict[object, object] = {}  # weights/timeline path -> content identity, once
    jobs: list[TrackJob] = []
    skipped: list[str] = []
    for index, (track, name, extra) in enumerate(zip(tracks, names, overrides, strict=True), 1):
        output = outdir / name
        options = _per_track_paths(track_options(base, extra, batch.stems_root, track), output)
        output.parent.mkdir(parents=True, exist_ok=True)  # a template may name sub-folders
        previous = manifest.get(name) or {}
        entry = {"index": index, "source": str(track), "output": str(output), "error": None}
        entry["stems"] = {name: str(path) for name, path in options.stems} or None
        try:
            digest = file_digest(track, previous if previous.get("source") == str(track) else None)
        except AudioError as error:
            # Unreadable now: recorded as failed at once, the rest of the album goes on.
            failed = {**entry, "status": "failed", "last_run": "failed", "error": str(error)}
            manifest.update(name, **failed)
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
        try:  # its outputs and stems now, not after the generator has loaded for the album
            check_outputs(output, options, track)
            check_stems(track, options, resolve_preset(options))
        except VisualizerError as error:
            failed = {**entry, "status": "failed", "last_run": "failed", "error": str(error)}
            manifest.update(name, **failed)
            continue
        manifest.update(name, **entry, status="pending", last_run=None)
        jobs.append(TrackJob(index, name, track, output, options, digest_hash))
    return PreparedBatch(jobs, names, skipped, manifest)


def check_base_options(base: Any) -> None:
    """Reject render options that cannot apply to a whole album, and bad values, up front.

    Each track's own outputs are checked when it is planned; here, the option values and the
    two folders that hold one entry per track.
    """
    if base.timeline is not None:
        raise AlbumError("a saved --timeline belongs to one track; batch analyses every track")
    check_values(base)
    for folder, flag in ((base.frames_dir, "--frames-dir"), (base.timeline_out, "--timeline-out")):
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            raise OutputError(f"{flag} {folder} is a file; in a batch it names a folder")


def _per_track_paths(options: Any, output: Path) -> Any:
    """``frames_dir`` and ``timeline_out`` name folders in a batch: one entry per track."""
    changes: dict[str, Path] = {}
    if options.frames_dir is not None:
        changes["frames_dir"] = Path(options.frames_dir) / output.stem
    if options.timeline_out is not None:
        changes["timeline_out"] = Path(options.timeline_out) / f"{output.stem}.timeline.npz"
    return dataclasses.replace(options, **changes) if changes else options


def track_options(
    base: Any, extra: TrackOverrides, stems_root: Path | None = None, track: Path | None = None
) -> Any:
    """The album's `RenderOptions` with one track's album-TOML overrides applied.

    ``classes`` set the palette of the class technique the track's preset uses (chroma,
    keyframes, breed or morph). The track's stems: the album's ``stems``, else its folder in
    ``stems_root`` (``stems_root / track.stem``) when there is one. Raises `PresetError` for an
    unknown preset or a bad override.
    """
    from visualizer.mapping.presets import load_preset

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
        downbeat=extra.downbeat if extra.downbeat is not None else base.downbeat,
        beats=extra.beats if extra.beats is not None else base.beats,
        stems=extra.stems or _stems_in_root(stems_root, track) or base.stems,
    )


def _stems_in_root(root: Path | None, track: Path | None) -> tuple[tuple[str, Path], ...]:
    """The stems in ``root / track.stem`` when that folder is there, else none."""
    if root is None or track is None or not (Path(root) / track.stem).is_dir():
        return ()
    return parse_stems(Path(root) / track.stem)


def resolved_preset(options: Any) -> dict[str, object]:
    """The preset and seed a track renders with, resolved (so editing a preset file, or a
    built-in preset changing, changes the settings hash). Raises `PresetError`."""
    resolved = resolve_preset(options)
    return {"preset": resolved.toml(), "seed": resolved.seed}


def _hashed_settings(options: Any, identities: dict[object, object]) -> dict[str, object]:
    """The render's identity (`IDENTITY_FIELDS`), files replaced by their content; the preset
    fields enter through `resolved_preset`."""
    settings: dict[str, object] = {}
    for name in IDENTITY_FIELDS:
        if name in PRESET_FIELDS:
            continue
        value = getattr(options, name)
        if name in LATER_FIELDS and value in (None, ()):
            continue
        if name in PATH_FIELDS:
            if value not in identities:
                identities[value] = path_identity(value)
            value = identities[value]
        elif name == "stems":  # by their content, as the track
            value = {stem: path_identity(path) for stem, path in value}
        elif name == "beats":  # a beats file by its content
            value = beats_identity(value)
        settings[name] = value
    return settings
