"""The clip-pack job: seamless loops of whole bars for VJ clip libraries (`visualizer clips`).

A pack of a track is ``count`` clips, each ``bars`` bars long, starting on bar lines
(`Features.downbeats`) chosen across the track's sections, so each shows another part of the
music, and each with its own seed (the pack's seed + its number), so each has its own look. A
clip is exactly the render ``visualizer render TRACK --start S --duration D --loop --seed X``
would give for its bars: the whole track analysed and mapped, the clip's frames kept and
closed into a loop (`visualizer.mapping.loop`), so its last frame flows into its first. Its
length is ``bars`` bars at its tempo, in whole frames: the track's tempo when the clip's own
bar lines agree with it (within 1 %), else its own bar lines (a tempo change inside it). The
index records the tempo that length gives exactly, ``60 * bars * meter * fps / frames``.

The pack folder holds the clips (``STEM_NN_BPMbpm_Kbars.mov``, HAP unless the options name
another codec, each with its preset beside it),
``index.json`` (start, bars, bpm, preset, seed per clip) and ``contact.png`` (each clip's first
frame). Every file follows the output rules: all are checked before the first clip renders,
each is written under a temporary name, an existing one is replaced only with ``overwrite``,
no output is an input, and one run per folder holds its lock.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from visualizer.errors import FeaturesError, OutputError, RenderError
from visualizer.files import check_folder_writable, check_output, exclusive, write_text_atomic
from visualizer.options import DEFAULT_FPS
from visualizer.pipeline.checks import check_track, check_values, inputs_of, preset_path_for
from visualizer.pipeline.options import RenderOptions
from visualizer.progress import ProgressCallback, report

if TYPE_CHECKING:
    from visualizer.analysis.features import Features

log = logging.getLogger("visualizer")

LOCK_NAME = ".clips.lock"  # inside the pack folder while a run writes it
INDEX_NAME = "index.json"
SHEET_NAME = "contact.png"
CLIP_SUFFIX = ".mov"  # QuickTime holds every codec VJ software plays (HAP, ProRes, DNxHR, H.264)
TEMPO_TOLERANCE = 0.01  # a clip keeps the track's tempo while its bars agree this closely
THUMBNAIL = 256  # longest side of a contact-sheet tile, pixels


@dataclass(frozen=True)
class ClipSpan:
    """Where a clip lies in the track: frames [first, first + frames), ``bars`` bars."""

    first: int  # the track's frame of the clip's first bar line (a downbeat)
    frames: int  # its length in frames: ``bars`` bars
    bars: int
    section: int  # index of the track's section it starts in
    bpm: float  # the tempo at which ``bars`` bars fill exactly ``frames`` frames


@dataclass(frozen=True)
class ClipPack:
    """What `render_clips` wrote."""

    folder: Path
    clips: list[Path]
    index: Path
    sheet: Path


def choose_clips(features: Features, *, bars: int, count: int) -> list[ClipSpan]:
    """Up to ``count`` non-overlapping spans of ``bars`` bars, in track order, starting on
    downbeats and spread over the sections: one per section first (sections spaced evenly
    through the track when there are more than ``count``), then round the sections again.
    Within a section a phrase start is preferred to any other bar line.

    FeaturesError when the track has no bars, or none of ``bars`` bars fits in it.
    """
    if bars < 1 or count < 1:
        raise RenderError(f"invalid clips: {count} clips of {bars} bars (expected >= 1 of each)")
    downbeats = [int(d) for d in features.downbeats]
    if features.meter < 1 or len(downbeats) < 2 or features.tempo <= 0:
        raise FeaturesError("no bar lines found in the track (no steady beat): clips need bars")
    phrases = {int(p) for p in features.phrases}
    sections = [int(s) for s in features.sections] or [0]
    by_section: list[list[ClipSpan]] = [[] for _ in sections]
    for index in range(len(downbeats)):
        span = clip_span(features, downbeats, index, bars)
        if span is not None:
            by_section[span.section].append(span)
    for spans in by_section:
        spans.sort(key=lambda s: (s.first not in phrases, s.first))
    if not any(by_section):
        raise FeaturesError(
            f"no {bars} bars fit in the track ({len(downbeats)} bar lines): use fewer --bars"
        )
    chosen: list[ClipSpan] = []
    for section in _visiting_order(len(sections), count):
        span = next((s for s in by_section[section] if not _overlaps(s, chosen)), None)
        if span is not None:
            chosen.append(span)
            if len(chosen) == count:
                break
    if len(chosen) < count:
        log.warning(
            "only %d clips of %d bars fit in the track (asked for %d)", len(chosen), bars, count
        )
    return sorted(chosen, key=lambda s: s.first)


def clip_span(features: Features, downbeats: list[int], index: int, bars: int) -> ClipSpan | None:
    """The span of ``bars`` bars from ``downbeats[index]``, or None when it runs past the end."""
    fps = Fraction(features.fps)
    beats = bars * features.meter
    nominal = max(1, round(beats * 60 * fps / Fraction(features.tempo)))
    first = downbeats[index]
    own = downbeats[index + bars] - first if index + bars < len(downbeats) else None
    frames = nominal
    if own is not None and abs(own - nominal) > max(1, TEMPO_TOLERANCE * nominal):
        frames = own  # the tempo changes inside the clip: its own bars decide
    if first + frames > features.n_frames:
        return None
    section = int(np.searchsorted(features.sections, first, side="right")) - 1
    bpm = float(beats * 60 * fps / frames)
    return ClipSpan(first, frames, bars, max(0, section), bpm)


def _visiting_order(n_sections: int, count: int) -> list[int]:
    """Sections to take a clip from, in turn: ``count`` evenly spread ones first, then every
    section round and round (each visit takes that section's next unused span)."""
    spread = sorted({round(x) for x in np.linspace(0, n_sections - 1, min(count, n_sections))})
    rest = [s for s in range(n_sections) if s not in spread]
    return spread + rest + list(range(n_sections)) * count


def _overlaps(span: ClipSpan, chosen: list[ClipSpan]) -> bool:
    end = span.first + span.frames
    return any(span.first < c.first + c.frames and c.first < end for c in chosen)


def clip_name(stem: str, number: int, span: ClipSpan, suffix: str = CLIP_SUFFIX) -> str:
    """``STEM_NN_BPMbpm_Kbars.mov``: the number in the pack, the tempo (two decimals at most),
    the length in bars, as VJ libraries name loops."""
    return f"{stem}_{number:02d}_{bpm_text(span.bpm)}bpm_{span.bars}bars{suffix}"


def clip_suffix(options: RenderOptions) -> str:
    """.mov, or for a codec QuickTime does not hold (AV1, VP9) the codec's own container."""
    from visualizer.rendering.codecs import containers_for, default_suffix

    if CLIP_SUFFIX in containers_for(options.encoder, options.codec):
        return CLIP_SUFFIX
    return default_suffix(options.codec, options.encoder)


def bpm_text(bpm: float) -> str:
    """128.0 -> '128', 127.664 -> '127.66'."""
    return f"{bpm:.2f}".rstrip("0").rstrip(".")


def clip_options(
    template: RenderOptions, span: ClipSpan, fps: Fraction, seed: int
) -> RenderOptions:
    """The render of one clip: ``template`` with the clip's window, its seed and the loop."""
    return dataclasses.replace(
        template,
        fps=fps,
        start=float(Fraction(span.first) / fps),
        duration=float(Fraction(span.frames) / fps),
        seed=seed,
        overrides=(*template.overrides, "loop.enabled=true"),
    )


def render_clips(
    track: str | os.PathLike,
    folder: str | os.PathLike,
    options: RenderOptions,
    *,
    bars: int = 8,
    count: int = 8,
    generator: Any = None,
    progress: ProgressCallback | None = None,
) -> ClipPack:
    """Write a pack of ``count`` seamless loops of ``bars`` bars of ``track`` into ``folder``.

    ``options`` are the renders' (preset, model, codec, size, ...; ``start``/``duration`` are
    the clips'); their seed, or the preset's, is clip 1's, and clip k takes seed + k - 1. The
    generator is loaded once for all clips (or ``generator`` is used).
    """
    from visualizer.analysis.track import analyze_window
    from visualizer.model.inference import load_for_render
    from visualizer.pipeline.render import render_track

    track, folder = Path(track), Path(folder)
    check_track(track)
    if options.start or options.duration is not None or options.timeline is not None:
        raise RenderError(
            "clips choose their own bars: --start, --duration and --timeline do not apply"
        )
    if options.resume:
        raise RenderError("clips have no --resume: run the command again with --overwrite")
    preset = check_values(options)
    assert preset is not None  # no --timeline, so the preset is resolved
    fps = options.fps or DEFAULT_FPS
    features, _, _ = analyze_window(
        track, fps=fps, progress=progress, tracker=options.beats, downbeat=options.downbeat
    )
    spans = choose_clips(features, bars=bars, count=count)
    suffix = clip_suffix(options)
    paths = [folder / clip_name(track.stem, k + 1, span, suffix) for k, span in enumerate(spans)]
    _check_pack(folder, paths, options, track)
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder, "clip pack folder", lock=folder / LOCK_NAME):
        if generator is None:
            generator = load_for_render(options, progress)
        entries = []
        for k, (span, path) in enumerate(zip(spans, paths, strict=True)):
            report(progress, "clips", k, len(spans), "clip", "clips")
            seed = preset.seed + k
            render_track(
                track,
                path,
                clip_options(options, span, fps, seed),
                generator=generator,
                progress=progress,
            )
            entries.append(_entry(path, span, fps, options, seed))
        report(progress, "clips", len(spans), len(spans), "clip", "clips")
        sheet = _write_sheet(folder / SHEET_NAME, paths, entries)
        index = _write_index(folder / INDEX_NAME, track, features, fps, bars, entries)
    return ClipPack(folder, paths, index, sheet)


def _check_pack(folder: Path, paths: list[Path], options: RenderOptions, track: Path) -> None:
    """Every file of the pack follows the output rules, before the first clip renders."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"clip pack folder {folder} is a file")
    check_folder_writable(folder, "clip pack", make=True)
    inputs = inputs_of(options, track)
    rules = {"overwrite": options.overwrite, "make_folder": True}
    for path in paths:
        check_output(path, inputs, what="clip", **rules)
        check_output(preset_path_for(path), inputs, what="preset copy", **rules)
    for name in (INDEX_NAME, SHEET_NAME):
        check_output(folder / name, inputs, what=name, **rules)


def _entry(path: Path, span: ClipSpan, fps: Fraction, options: RenderOptions, seed: int) -> dict:
    start = Fraction(span.first) / fps
    return {
        "file": path.name,
        "start": round(float(start), 6),
        "start_frame": span.first,
        "frames": span.frames,
        "seconds": round(float(span.frames / fps), 6),
        "bars": span.bars,
        "bpm": round(span.bpm, 4),
        "section": span.section,
        "preset": options.preset,
        "overrides": list(options.overrides),
        "seed": seed,
    }


def _write_index(
    path: Path, track: Path, features: Features, fps: Fraction, bars: int, clips: list[dict]
) -> Path:
    index = {
        "track": track.name,
        "fps": str(fps),
        "tempo": round(features.tempo, 4),
        "meter": features.meter,
        "bars": bars,
        "loop": True,
        "clips": clips,
    }
    return write_text_atomic(path, json.dumps(index, indent=2) + "\n")


def _write_sheet(path: Path, clips: list[Path], entries: list[dict]) -> Path:
    """A contact sheet of each clip's first frame, captioned with its number, start and tempo."""
    from visualizer.rendering.storyboard import contact_sheet, save_image, timestamp

    tiles = [_thumbnail(_first_frame(clip)) for clip in clips]
    captions = [
        f"{k + 1:02d} {timestamp(e['start'])} {bpm_text(e['bpm'])} BPM"
        for k, e in enumerate(entries)
    ]
    return save_image(contact_sheet(tiles, captions), path, overwrite=True)


def _first_frame(video: Path) -> np.ndarray:
    """The first frame of ``video`` as uint8 (H, W, 3), decoded by ffmpeg (any codec)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24")
    try:
        meta = next(reader)
        width, height = meta["size"]
        return np.frombuffer(next(reader), np.uint8).reshape(height, width, 3).copy()
    finally:
        reader.close()


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """``frame`` scaled so its longest side is at most `THUMBNAIL` pixels."""
    from PIL import Image

    height, width = frame.shape[:2]
    scale = min(1.0, THUMBNAIL / max(height, width))
    if scale == 1.0:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))
