"""The timeline job: a track (or a saved Timeline) -> the full-rate Timeline a render draws.

The analysis is entered once per source (`visualizer.analysis.track.analyze_window`: the whole
track's Features, the excerpt's frames and the audio's length, the window checked before
analysing; then each stem the preset reads, whole, `visualizer.pipeline.stems.analyze_stems`),
the mapping once (the whole track mapped with its stems, the excerpt's frames kept, the loop
closed). `render`, `preview` and the `timeline` command (`write_timeline`) all draw this same
Timeline.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from visualizer.errors import OutputError, TimelineError
from visualizer.files import check_output
from visualizer.mapping.timeline import Timeline
from visualizer.options import DEFAULT_FPS
from visualizer.pipeline.checks import check_track, check_values, inputs_of
from visualizer.pipeline.options import RenderOptions, ResolvedPreset, resolve_preset
from visualizer.pipeline.stems import analyze_stems, check_stems, stems_to_analyze
from visualizer.progress import ProgressCallback


@dataclass(frozen=True)
class MappedTrack:
    """A track's Timeline and what the analysis learnt of its audio."""

    timeline: Timeline  # full rate: the excerpt's frames, or the saved timeline
    audio_seconds: float | None  # the track's decoded length; None when nothing was analysed


def make_timeline(
    track: str | os.PathLike,
    options: RenderOptions,
    progress: ProgressCallback | None = None,
    *,
    preset: ResolvedPreset | None = None,
) -> Timeline:
    """The full-rate Timeline a render of ``track`` with ``options`` uses (or options.timeline).

    ``preset``: the resolved preset and seed when the caller has them (else resolved here).
    Deterministic: the storyboard and draft video call this and see the final render's frames.
    """
    return map_track(track, options, progress, preset=preset).timeline


def write_timeline(
    track: str | os.PathLike,
    output: str | os.PathLike,
    options: RenderOptions,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Timeline:
    """Check, make ``track``'s Timeline and save it to ``output`` (.npz); returns it.

    Everything is checked before anything is analysed: the track, the output (never an input,
    kept without ``overwrite``), the option values.
    """
    from visualizer.mapping import timeline as timeline_io

    track, output = Path(track), Path(output)
    check_track(track)
    check_output(output, inputs_of(options, track), overwrite=overwrite, what="timeline")
    if output.suffix.lower() != ".npz":
        raise OutputError(f"invalid output {output}: a Timeline is a .npz file")
    preset = check_values(options)
    check_stems(track, options, preset)
    timeline = make_timeline(track, options, progress, preset=preset)
    timeline_io.save(timeline, output)
    return timeline


def map_track(
    track: str | os.PathLike,
    options: RenderOptions,
    progress: ProgressCallback | None = None,
    *,
    preset: ResolvedPreset | None = None,
) -> MappedTrack:
    """`make_timeline` with the audio's length the analysis found (for the soundtrack)."""
    if options.timeline is not None:
        return MappedTrack(_load_timeline(Path(options.timeline), options.fps), None)
    from visualizer.analysis.track import analyze_window
    from visualizer.mapping.loop import close_loop
    from visualizer.mapping.mapper import build_timeline

    chosen = preset or resolve_preset(options)
    if preset is None:  # not checked by a job: the stems before any work
        check_stems(Path(track), options, chosen)
    read = stems_to_analyze(options, chosen)  # asked of the mapping before the analysis
    # An excerpt is the same video as those seconds of the full render: map the whole track
    # (its walk, pulses and sections run from its start) and keep the excerpt's frames.
    features, first, count = analyze_window(
        track,
        fps=options.fps or DEFAULT_FPS,
        start=options.start,
        duration=options.duration,
        progress=progress,
        tracker=options.beats,
        downbeat=options.downbeat,
    )
    stems = analyze_stems(Path(track), options, read, features, progress)
    timeline = build_timeline(features, chosen.preset, seed=chosen.seed, loop=False, stems=stems)
    if options.start or options.duration is not None:
        timeline = timeline.slice(first, first + count)
    if chosen.preset.loop.enabled:  # close the clip actually rendered, excerpt or whole track
        timeline = close_loop(timeline, chosen.preset.loop.seconds)
    # Where the frames lie on the track, saved with them: `render --timeline` then muxes the
    # same seconds of sound. The excerpt starts on frame `first`'s time; its sound is the
    # window asked for, cut at the track's end.
    start = float(Fraction(first) / timeline.fps)
    wanted = options.duration if options.duration is not None else math.inf
    timeline = dataclasses.replace(
        timeline,
        preset=timeline.preset or chosen.toml(),
        start=start,
        audio_seconds=max(0.0, min(features.duration - start, wanted)),
    )
    return MappedTrack(timeline, features.duration)


def _load_timeline(path: Path, fps: Fraction | None) -> Timeline:
    from visualizer.mapping import timeline as timeline_io

    loaded = timeline_io.load(path)
    if fps is not None and fps != loaded.fps:
        raise TimelineError(
            f"--fps {fps} differs from the timeline's {loaded.fps}: leave --fps out"
        )
    return loaded


def subsample(timeline: Timeline, step: int) -> Timeline:
    """Every ``step``-th frame at fps / step (a draft video); ``timeline`` itself for step 1."""
    if step == 1:
        return timeline
    return dataclasses.replace(
        timeline,
        class_vectors=timeline.class_vectors[::step],
        noise=timeline.noise[::step],
        truncation=timeline.truncation[::step],
        fps=timeline.fps / step,
        audio_seconds=None,  # the draft's frames: its sound is cut to them (`audio_window`)
    )


def audio_window(
    track: Path, options: RenderOptions, timeline: Timeline, audio_seconds: float | None
) -> tuple[float, float]:
    """[start, start + duration) of the soundtrack that goes with ``timeline``'s frames: where
    the Timeline lies on the track (saved with it), cut to the track's end and to the frames,
    so that sound and picture differ by less than a frame.

    ``audio_seconds``: the track's length as analysed; None (a saved or resumed timeline, not
    analysed in this run) reads it from the file. A saved ``--timeline`` with ``--start`` or
    ``--duration`` takes the sound from there (files written before the window was saved).
    """
    start, wanted = timeline.start, timeline.sound_seconds
    if options.timeline is not None and options.start:
        start = options.start
    if options.timeline is not None and options.duration is not None:
        wanted = min(wanted, options.duration)
    if audio_seconds is None:
        from visualizer.analysis.decode import probe_duration

        audio_seconds = probe_duration(track)
    available = max(0.0, audio_seconds - start)
    return start, max(0.0, min(available, wanted))
