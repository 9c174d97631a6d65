"""The work folder of a render and what makes a resume safe.

A render encodes its segments in ``.OUT.mp4.parts/`` beside the output (`work_dir_for`). This
module owns that folder's contents - ``timeline.npz``, ``preset.toml``, the ``render.json``
manifest of every setting that changes the picture, and the batch grid (the first batch size
and the halvings after out-of-memory errors) - and the checks that a resume asks for the
same render (`check_same_render`, `resumed_timeline`), which raise `ResumeMismatch` when it
does not. It also owns the preset record saved beside a finished video (`preset_record`).
`visualizer.pipeline.render` drives the render and calls in here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visualizer.content import beats_identity, file_sha256, text_sha256
from visualizer.errors import OutputError
from visualizer.files import check_own_folder, write_text_atomic
from visualizer.mapping.timeline import Timeline
from visualizer.pipeline.options import IDENTITY_FIELDS, PRESET_FIELDS, resolve_preset

log = logging.getLogger("visualizer")

if TYPE_CHECKING:
    from visualizer.pipeline.options import RenderOptions, RenderPlan, ResolvedPreset

MANIFEST = "render.json"
MANIFEST_VERSION = 2  # 2: the track by its content (sha256), no longer by its size


class ResumeMismatch(OutputError):
    """A resume asked for another render than the interrupted one in the work folder (another
    preset, seed, timeline or identity setting): its segments cannot be continued."""


def work_dir_for(output: Path) -> Path:
    return output.parent / f".{output.name}.parts"


def resumed_timeline(work_dir: Path, saved: dict, source: str) -> Timeline:
    """The interrupted render's Timeline, after checking that ``source`` (`source_key` of the
    resume) is the one it was made from."""
    from visualizer.mapping import timeline as timeline_io

    if saved.get("source") != source:
        raise ResumeMismatch(
            f"cannot resume in {work_dir}: the preset, seed or timeline differs from the "
            "interrupted render (use the same --preset/--set/--seed, or --overwrite to start over)"
        )
    return timeline_io.load(work_dir / "timeline.npz")


def source_key(options: RenderOptions, preset: ResolvedPreset | None) -> str:
    """What decides the Timeline besides the track: the saved timeline, or the resolved preset
    and seed (``preset``; resolved here when not given)."""
    if options.timeline is not None:
        return "timeline:" + file_sha256(options.timeline)[:16]
    chosen = preset or resolve_preset(options)
    return f"preset:{_digest(chosen.toml())}:seed:{chosen.seed}"


def _digest(text: str) -> str:
    return text_sha256(text)[:16]


def manifest_for(plan: RenderPlan, full: Timeline, source: str) -> dict[str, Any]:
    """The ``render.json`` record of ``plan``: its identity (`IDENTITY_FIELDS`), which a resume
    must not change, with the track (its path and the sha256 of its bytes: a track replaced by
    another of the same size is another track; sha256 ran at 1.4 GB/s on the 2-core test
    machine, so a one-hour 635 MB wav costs about 0.5 s plus reading it), the frame count, the
    resolved fps, seed and encoder, and ``source`` (`source_key`)."""
    options = plan.options
    record: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "track": str(plan.track.resolve()),
        "track_sha256": file_sha256(plan.track),
        "n_frames": plan.n_frames,
    }
    for name in IDENTITY_FIELDS:
        if name == "beats":  # a beats file by its content
            record[name] = beats_identity(options.beats)
        elif name not in (*PRESET_FIELDS, "timeline", "stems"):  # these: "source" and below
            record[name] = _json_value(getattr(options, name))
    record.update(
        stems={name: file_sha256(path) for name, path in options.stems},  # by their content
        weights=str(options.weights),
        fps=str(full.fps),  # --fps, or the saved timeline's
        encoder=plan.encoder,  # "auto" resolved
        encoder_preset=plan.encoder_preset,  # "auto" resolved
        seed=full.seed,
        source=source,  # the timeline, or the resolved preset and seed
    )
    return record


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def check_same_render(saved: dict, current: dict, output: Path) -> None:
    """ResumeMismatch naming the first setting that differs from the interrupted render."""
    for key, value in current.items():
        before = saved.get(key, _ADDED.get(key))
        if key == "stems" and before != value:
            raise ResumeMismatch(
                f"cannot resume {output.name}: {_stems_changed(before or {}, value)} (use the "
                "stems it was started with, or --overwrite to start over)"
            )
        if before != value and key in _CHANGED:
            raise ResumeMismatch(
                f"cannot resume {output.name}: {_CHANGED[key]} (use --overwrite to start over)"
            )
        if before != value:
            raise ResumeMismatch(
                f"cannot resume {output.name}: {key} was {saved.get(key)!r}, now {value!r} "
                "(use the same options, or --overwrite to start over)"
            )


_ADDED: dict[str, Any] = {
    "stems": {},
    "downbeat": None,
}  # keys added to the manifest since its version, as older renders had them


def _stems_changed(before: dict, now: dict) -> str:
    """What changed in the stems (name -> sha256 of the file) since the interrupted render."""
    for name in sorted(before.keys() | now.keys()):
        if name not in now:
            return f"the interrupted render read a {name} stem, this one has none"
        if name not in before:
            return f"the interrupted render had no {name} stem"
        if before[name] != now[name]:
            return f"the {name} stem's content is not the interrupted render's"
    return "the stems differ"


_CHANGED = {  # what a change of these means, said in words (their values are not for reading)
    "version": "its work folder was made by another version of visualizer",
    "track_sha256": "the track's content is not the interrupted render's (same name, new audio)",
    "beats": "its beats are not the interrupted render's (another --beats, or a beats file edited)",
}


def read_manifest(work_dir: Path) -> dict | None:
    """The saved manifest, or None when the folder holds no completed one."""
    path = work_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None  # never completed: the folder holds nothing worth resuming
    if not isinstance(manifest, dict):
        raise OutputError(f"{path}: not a render manifest (use --overwrite to start over)")
    return manifest


def start_work_dir(work_dir: Path, manifest: dict, timeline: Timeline) -> None:
    """Create ``work_dir`` afresh with the full-rate Timeline, its preset and the manifest."""
    from visualizer.mapping import timeline as timeline_io

    check_own_folder(work_dir, "work folder")  # never emptied or filled through a link
    if work_dir.exists():
        shutil.rmtree(work_dir)
    try:
        work_dir.mkdir(parents=True)
    except FileExistsError:  # put there since the line above: someone else's
        raise OutputError(f"work folder {work_dir} appeared while starting: remove it") from None
    # Compressed: a 150,000-frame timeline is 677 MB raw, a 1 MB saved file deflated.
    timeline_io.save(timeline, work_dir / "timeline.npz", compressed=True)
    write_text_atomic(work_dir / "preset.toml", timeline.preset)
    # The manifest is written last: a folder without one is not resumable and is started over.
    write_text_atomic(work_dir / MANIFEST, json.dumps(manifest, indent=1))


def restart_segments(
    plan: RenderPlan, saved: dict, encoder: str, encoder_preset: str | None
) -> None:
    """Delete the finished segments and record ``encoder`` and its preset in ``saved`` and its
    manifest.

    For a resume whose saved encoder no longer opens here: segments of two H.264 encoders have
    different parameter sets, which a join without re-encoding cannot mix.
    """
    finished = [i for i in range(len(plan.segments)) if plan.segment_path(i).is_file()]
    log.info(
        "%s cannot run here: rendering %d finished segment(s) again with %s",
        saved.get("encoder"),
        len(finished),
        encoder,
    )
    for index in finished:
        plan.segment_path(index).unlink()
    saved["encoder"], saved["encoder_preset"] = encoder, encoder_preset
    write_text_atomic(plan.work_dir / MANIFEST, json.dumps(saved, indent=1))


def saved_encoder_preset(saved: dict) -> str | None:
    """The preset an interrupted render encoded with; a work folder from before presets were
    a choice used the codec's default one."""
    from visualizer.rendering.codecs import CODECS

    if "encoder_preset" in saved:
        return saved["encoder_preset"]
    row = CODECS.get(saved.get("encoder", ""))
    saved["encoder_preset"] = row.preset if row else None
    return saved["encoder_preset"]


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


HALVED = "batch-halved-at-"  # + the first frame (9 digits): the batch size from that frame on


def batch_steps(work_dir: Path, first: int) -> list[tuple[int, int]]:
    """The batch grid a render of this work folder uses: ``first`` frames a batch from frame 0,
    then every halving an out-of-memory error made (`record_halving`), as [(frame, size)]."""
    steps = {0: first}
    for path in Path(work_dir).glob(f"{HALVED}*"):
        with contextlib.suppress(ValueError, OSError):
            steps[int(path.name[len(HALVED) :])] = max(1, int(path.read_text()))
    return sorted(steps.items())


def record_halving(work_dir: Path, frame: int, size: int) -> None:
    """Keep "from ``frame`` on, batches of ``size``" in the work folder, so that a resume
    batches every frame as this render did (written whole; the first record of a frame wins)."""
    path = Path(work_dir) / f"{HALVED}{frame:09d}"
    draft = Path(work_dir) / f".{path.name}.{os.getpid()}.{threading.get_ident()}"
    draft.write_text(str(size))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def preset_record(plan: RenderPlan) -> str:
    """The text of OUT.preset.toml: the rendered Timeline's preset under a how-to header."""
    timeline = plan.timeline
    header = (
        f"# Resolved preset of {plan.output.name}, rendered from {plan.track.name}\n"
        f"# seed = {timeline.seed}, fps = {timeline.fps}, model = {plan.options.model}\n"
        f"# Reproduce: visualizer render TRACK --preset THIS_FILE --seed {timeline.seed}\n"
    )
    return header + timeline.preset
