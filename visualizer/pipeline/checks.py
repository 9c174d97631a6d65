"""The checks a render runs before any work, once: its option values (`check_values`), the files
it will write (`check_outputs`) and its track (`check_track`). `check_render` runs them all and
returns the `RenderJob` the render then carries: the checked options with the preset resolved
once, so nothing later loads or checks them again.

Errors name the bad value and what is valid. Torch-free.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from visualizer.analysis.bars import check_anchor
from visualizer.analysis.beat_file import read_beat_file
from visualizer.errors import (
    AudioError,
    OutputError,
    RenderError,
    TimelineError,
    VisualizerError,
    WeightsError,
)
from visualizer.files import check_folder_writable, check_output, check_own_folder, same_file
from visualizer.inputs import check_input_file, check_path_text
from visualizer.mapping.timeline import MAX_FILE_BYTES, check_headers, fps_problem
from visualizer.model.devices import check_named_precision
from visualizer.model.upscaler import check_upscale_spec, upscale_input
from visualizer.options import COMPILE_MODES, CUDNN_MODES, FITS, beat_file_of, split_tracker
from visualizer.pipeline.options import RenderOptions, ResolvedPreset, resolve_preset
from visualizer.pipeline.stems import check_stems
from visualizer.pipeline.workdir import work_dir_for
from visualizer.rendering import codecs
from visualizer.rendering.video import check_size


@dataclass(frozen=True)
class RenderJob:
    """A render whose options, outputs and track passed `check_render` (picklable)."""

    track: Path
    output: Path
    options: RenderOptions
    preset: ResolvedPreset | None  # None: options.timeline brings its own preset and seed


def check_render(track: Path, output: Path, options: RenderOptions) -> RenderJob:
    """Every check of a render of ``track`` into ``output``, before any work."""
    track, output = Path(track), Path(output)
    preset = check_values(options)
    codecs.check_output_suffix(output, options.encoder, options.codec)
    check_outputs(output, options, track, preset=preset)
    check_track(track)
    check_stems(track, options, preset)
    return RenderJob(track, output, options, preset)


def check_values(options: RenderOptions) -> ResolvedPreset | None:
    """Reject bad option values and combinations (errors name the value); return the preset
    and seed they resolve to (None for a saved timeline), loaded here once.

    Checks values only, no output: batch checks its album's options with it before any track.
    The excerpt's length against the track is the analysis's check (it knows the track).
    """
    if options.size is not None:
        check_size(options.size)
    if options.fit not in FITS:
        raise RenderError(f"unknown fit {options.fit!r}: expected one of {', '.join(FITS)}")
    try:
        split_tracker(options.beats)
    except ValueError as error:
        raise RenderError(str(error)) from None
    if (beat_file := beat_file_of(options.beats)) is not None:
        read_beat_file(beat_file)  # FeaturesError naming the line, before any frame
    family = codecs.resolve_codec(options.codec, options.encoder)  # names the choices
    codecs.check_quality(family, options.quality)  # lossless where the codec has it
    if options.encoder != "auto":
        codecs.codec(options.encoder).check_preset(options.encoder_preset)  # names the choices
    elif options.encoder_preset not in codecs.ENCODER_PRESETS:
        raise RenderError(
            f"invalid --encoder-preset {options.encoder_preset!r}: expected one of "
            f"{', '.join(codecs.ENCODER_PRESETS)}"
        )
    best, worst = codecs.BEST_QUALITY, codecs.WORST_QUALITY
    if not best <= options.quality <= worst:
        raise RenderError(f"invalid quality {options.quality}: expected {best} (best) to {worst}")
    if options.batch_size is not None and options.batch_size < 1:
        raise RenderError(f"invalid batch size {options.batch_size}: expected >= 1")
    check_named_precision(options.device, options.precision)  # e.g. bf16 on a Mac's GPU
    if options.compile not in COMPILE_MODES:
        raise RenderError(
            f"unknown compile mode {options.compile!r}: expected {', '.join(COMPILE_MODES)}"
        )
    if options.cudnn not in CUDNN_MODES:
        raise RenderError(
            f"unknown cudnn mode {options.cudnn!r}: expected {', '.join(CUDNN_MODES)}"
        )
    if options.segment_frames < 1 or options.frame_step < 1:
        raise RenderError("segment_frames and frame_step must be >= 1")
    if options.fps is not None and fps_problem(options.fps):
        raise RenderError(f"invalid {fps_problem(options.fps)}")
    if options.start < 0 or (options.duration is not None and options.duration <= 0):
        raise RenderError("start must be >= 0 and duration > 0 seconds")
    if options.downbeat is not None:
        check_anchor(options.downbeat)  # its place in the track: once the track is analysed
    if options.timeline is not None:
        check_timeline_file(Path(options.timeline))
        if options.stems:
            raise RenderError(
                "--stems and --timeline: a saved Timeline was mapped already (give the stems "
                "when it is made)"
            )
        if options.downbeat is not None:
            raise RenderError(
                "--downbeat and --timeline: a saved Timeline was mapped already (give --downbeat "
                "when it is made)"
            )
    if options.weights not in (None, "random"):
        weights = check_path_text(options.weights, "weights", WeightsError)
        if not weights.exists():
            raise WeightsError(f"weights not found: {options.weights}")
        if not (weights.is_file() or weights.is_dir()):  # a FIFO would hold the load for ever
            raise WeightsError(f"weights {weights} are not a regular file or a folder")
    if options.upscale is not None:
        check_upscale_spec(options.upscale)
    # A bad preset or --set value fails now, before the model loads (seconds at 512 px).
    return None if options.timeline is not None else resolve_preset(options)


def check_track(track: Path) -> None:
    """AudioError unless ``track`` is a regular file (not a folder, FIFO or device) whose path
    is UTF-8 text."""
    check_path_text(track, "audio file", AudioError)
    if not track.exists():
        raise AudioError(f"audio file not found: {track}")
    if not track.is_file():
        raise AudioError(f"not a regular audio file: {track} (a folder, FIFO or device)")


def preset_path_for(output: Path) -> Path:
    """Where the resolved preset is saved beside a finished video: OUT.preset.toml."""
    return output.with_suffix(".preset.toml")


def inputs_of(
    options: RenderOptions, track: Path | None = None, preset: ResolvedPreset | None = None
) -> list[Path]:
    """Every file a render reads: no output may be one of them. ``preset``: the resolved
    preset when the caller has it (else the preset is loaded here)."""
    named = (
        track,
        *(path for _, path in options.stems),
        options.timeline,
        options.weights,
        upscale_input(options.upscale),
        *preset_inputs(options, preset),
    )
    return [Path(p) for p in named if p not in (None, "random") and Path(p).exists()]


def preset_inputs(options: RenderOptions, preset: ResolvedPreset | None = None) -> list[Path]:
    """The files the preset reads: its own file and its `base` chain's, and the pose files
    its ``poses.seeds`` name (none for a saved timeline, whose preset is text inside it)."""
    if options.timeline is not None:
        return []
    from visualizer.mapping.presets import load_preset, preset_files

    files = [Path(options.preset)]  # a name, or a path: kept even when it is no preset
    try:
        files += preset_files(options.preset)
        chosen = preset.preset if preset else load_preset(options.preset, list(options.overrides))
        seeds = chosen.poses.seeds
    except VisualizerError:  # not a preset: the preset check says so, once the outputs pass
        return files
    for seed in seeds:
        if isinstance(seed, str):  # "pose.npy", or "timeline.npz@FRAME"
            files.append(Path(seed.rpartition("@")[0] if ".npz@" in seed else seed))
    return files


def check_outputs(
    output: Path,
    options: RenderOptions,
    track: Path | None = None,
    *,
    preset: ResolvedPreset | None = None,
) -> None:
    """Every file the render will write follows the output rules (`visualizer.files`), and
    its work folder, if one is there, is a real folder of this user's (``preset``: the
    resolved preset, when the caller has it: it is not loaded again)."""
    inputs = inputs_of(options, track, preset)
    overwrite = options.overwrite
    check_output(output, inputs, overwrite=overwrite)
    check_output(preset_path_for(output), inputs, overwrite=overwrite, what="preset copy")
    check_own_folder(work_dir_for(output), "work folder")
    if options.timeline_out is not None:
        written = [*inputs, output, preset_path_for(output)]
        check_output(options.timeline_out, written, overwrite=overwrite, what="--timeline-out")
    if options.frames_dir is not None:
        check_frames_dir(Path(options.frames_dir), inputs, options, output)


def check_frames_dir(
    folder: Path, inputs: list[Path], options: RenderOptions, output: Path
) -> None:
    folder = check_path_text(folder, "--frames-dir", OutputError)
    if any(same_file(folder, p) or folder.absolute() in Path(p).absolute().parents for p in inputs):
        raise OutputError(f"--frames-dir {folder} holds or is one of the inputs")
    work_dir = work_dir_for(output).absolute()
    if folder.absolute() == work_dir or work_dir in folder.absolute().parents:
        raise OutputError(
            f"--frames-dir {folder} lies in the render's work folder {work_dir}, which is "
            "removed when the render ends: choose a folder outside it"
        )
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--frames-dir {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (options.overwrite or options.resume):
        raise OutputError(f"--frames-dir {folder} is not empty (use --overwrite to replace it)")
    check_folder_writable(folder if folder.is_dir() else _existing_parent(folder), "--frames-dir")


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")


def check_timeline_file(path: Path) -> None:
    """A cheap look before the model loads: a timeline .npz is a zip archive whose headers
    describe at least one frame."""
    check_input_file(path, "timeline file", limit=MAX_FILE_BYTES, error=TimelineError)
    if not zipfile.is_zipfile(path):
        raise TimelineError(f"{path}: not a timeline .npz (not a zip archive)")
    if check_headers(path) == 0:
        raise TimelineError(f"{path}: the timeline holds no frames: there is nothing to render")
