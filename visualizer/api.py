"""The Python API: a track to a video, its features or its Timeline, in one call each.

Re-exported from the package root (``visualizer.render``, ``visualizer.analyze``,
``visualizer.make_timeline``, ``visualizer.load_preset``), loaded on first use so that
``import visualizer`` stays instant. The arguments are the command line's options as keywords, in
Python types; ``progress=True`` draws ``tqdm.auto`` bars (widgets in Jupyter and Colab), or pass
any `visualizer.progress.ProgressCallback`.

    import visualizer
    result = visualizer.render("song.mp3", "song.mp4", preset="pulse", seed=7)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visualizer.errors import VisualizerError
from visualizer.mapping.presets import load_preset
from visualizer.options import DEFAULT_FPS
from visualizer.pipeline.options import RenderOptions, RenderResult
from visualizer.progress import ProgressBars, ProgressCallback

if TYPE_CHECKING:
    from visualizer.analysis.features import Features
    from visualizer.mapping.timeline import Timeline

__all__ = ["analyze", "load_preset", "make_timeline", "render"]

Overrides = Mapping[str, object] | Sequence[str]
StemsSpec = str | os.PathLike | Mapping[str, str | os.PathLike] | None
Progress = bool | ProgressCallback | None


def render(
    track: str | os.PathLike,
    output: str | os.PathLike,
    *,
    preset: str | os.PathLike = "default",
    overrides: Overrides = (),
    seed: int | None = None,
    model: str = "auto",
    weights: str | os.PathLike | None = None,
    device: str = "auto",
    fps: Fraction | int | float | str | None = None,
    start: float = 0.0,
    duration: float | None = None,
    size: tuple[int, int] | str | None = None,
    progress: Progress = False,
    **options: object,
) -> RenderResult:
    """Render ``track`` into the video ``output`` (``.mp4``, ``.mkv`` or ``.mov``); returns the
    `RenderResult` (path, frames, seconds of video and audio, wall time, exact fps).

    ``preset``: a built-in name or a TOML path; ``overrides``: {"section.key": value} or
    ["section.key=value", ...]; ``seed``: None = the preset's. ``model``: "auto" (biggan-deep-512
    on CUDA, biggan-deep-128 elsewhere) or a name; ``weights``: None = the cached download
    (downloaded on first use), a folder or file, or "random" (untrained, no download);
    ``device``: "auto" (CUDA, else Apple MPS, else CPU), "cpu", "cuda", "cuda:N", "mps".
    ``fps``: any rational rate, default 30; ``start``/``duration``: the excerpt in seconds;
    ``size``: (width, height) or "1920x1080". ``stems``: the track's stems, {"drums": path, ...},
    "drums=d.wav,bass=b.wav" or a folder of files named after them (a preset reads them as
    "drums.onsets", ...). ``downbeat``: seconds into the track (not from ``start``) where a bar
    begins, when the analysis put its bar lines on another beat. Every other `RenderOptions`
    field is accepted as a keyword (``overwrite=True``, ``quality=18``, ``batch_size=8``,
    ``precision="fp16"``, ...).
    Raises a `VisualizerError` naming any bad value; no output exists after an error.
    """
    from visualizer.model.devices import auto_model
    from visualizer.pipeline.render import render_track

    chosen = auto_model(device) if model == "auto" else model
    settings = _options(
        preset, overrides, seed, fps, start, duration, model=chosen, weights=weights,
        device=device, size=_size(size), **options,
    )  # fmt: skip
    with _callback(progress) as callback:
        return render_track(track, output, settings, progress=callback)


def analyze(
    track: str | os.PathLike,
    *,
    fps: Fraction | int | float | str = DEFAULT_FPS,
    start: float = 0.0,
    duration: float | None = None,
    progress: Progress = False,
    beats: str = "dsp",
    stems: StemsSpec = None,
    downbeat: float | None = None,
) -> Features | dict[str, Features]:
    """The `Features` of ``track`` on the frame clock of ``fps`` (one row per video frame), for
    the excerpt [start, start + duration) when given. Analyses are cached by audio content.
    ``beats`` picks the beat tracker: "dsp", "dsp:BPM" (the same, kept near the tempo you hear),
    "beat-this" (optional, `pip install ".[beats]"`) or "file:PATH" (a beat grid made elsewhere:
    README, "Beats from a file").
    ``downbeat``: seconds into the track (not from ``start``) where a bar begins, when the
    analysis put its bar lines on another beat: the bar grid shifts onto the beat nearest it.

    With ``stems`` (as `render` takes them): a dict of Features, "mix" (the track's) and one
    per stem given, each analysed whole on the track's frames (its own cache entry)."""
    from visualizer.analysis.features import excerpt, parse_fps_value
    from visualizer.analysis.stems import analyze_stem, check_stems
    from visualizer.analysis.track import analyze_file, analyze_window
    from visualizer.pipeline.stems import parse_stems

    rate, given = parse_fps_value(fps), dict(parse_stems(stems))
    with _callback(progress) as callback:
        if stems is None:
            return analyze_file(
                track, fps=rate, start=start, duration=duration, progress=callback, tracker=beats,
                downbeat=downbeat,
            )  # fmt: skip
        check_stems(Path(track), given, rate)
        whole, first, count = analyze_window(
            track, fps=rate, start=start, duration=duration, progress=callback, tracker=beats,
            downbeat=downbeat,
        )  # fmt: skip
        found = {"mix": whole}
        for name, path in given.items():
            found[name] = analyze_stem(
                name, path, whole, track=Path(track), progress=callback, tracker=beats,
                downbeat=downbeat,
            )  # fmt: skip
    if start == 0 and duration is None:
        return found
    return {name: excerpt(features, first, count) for name, features in found.items()}


def make_timeline(
    track: str | os.PathLike,
    *,
    preset: str | os.PathLike = "default",
    overrides: Overrides = (),
    seed: int | None = None,
    fps: Fraction | int | float | str | None = None,
    start: float = 0.0,
    duration: float | None = None,
    progress: Progress = False,
    stems: StemsSpec = None,
    downbeat: float | None = None,
    beats: str = "dsp",
) -> Timeline:
    """The `Timeline` (per-frame class vectors, noise and truncation) that `render` with the same
    arguments would draw, without loading a model or rendering; save it with
    `visualizer.mapping.timeline.save` and render it later with ``render(..., timeline=PATH)``.
    ``stems``, ``downbeat``, ``beats``: as `render` and `analyze` take them."""
    from visualizer.pipeline.timeline import make_timeline as timeline_of

    settings = _options(
        preset, overrides, seed, fps, start, duration, stems=stems, downbeat=downbeat, beats=beats
    )
    with _callback(progress) as callback:
        return timeline_of(track, settings, callback)


def _options(
    preset: str | os.PathLike,
    overrides: Overrides,
    seed: int | None,
    fps: Fraction | int | float | str | None,
    start: float,
    duration: float | None,
    **fields: Any,  # RenderOptions fields by name (checked below; values by check_values)
) -> RenderOptions:
    """`RenderOptions` from the API's keywords; VisualizerError for an unknown keyword."""
    from visualizer.analysis.features import parse_fps_value

    known = {f.name for f in dataclasses.fields(RenderOptions)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise VisualizerError(
            f"unknown option {unknown[0]!r}: expected one of {', '.join(sorted(known))}"
        )
    for name in ("timeline", "timeline_out", "frames_dir"):
        if fields.get(name) is not None:
            fields[name] = Path(fields[name])
    if "stems" in fields:
        from visualizer.pipeline.stems import parse_stems

        fields["stems"] = parse_stems(fields["stems"])
    return RenderOptions(
        preset=str(preset),
        overrides=_override_strings(overrides),
        seed=seed,
        fps=None if fps is None else parse_fps_value(fps),
        start=float(start),
        duration=None if duration is None else float(duration),
        **fields,
    )


def _override_strings(overrides: Overrides) -> tuple[str, ...]:
    """{"classes.names": ["tiger", "volcano"]} -> ('classes.names=["tiger", "volcano"]',).

    Values are written as TOML literals (JSON's spelling of strings, numbers, booleans and lists
    is also TOML's), so a value means what it would in a preset file.
    """
    if isinstance(overrides, str):
        return (overrides,)
    if isinstance(overrides, Mapping):
        return tuple(f"{key}={json.dumps(value)}" for key, value in overrides.items())
    return tuple(str(item) for item in overrides)


def _size(size: tuple[int, int] | str | None) -> tuple[int, int] | None:
    from visualizer.rendering.video import parse_size

    if size is None or not isinstance(size, str):
        return None if size is None else (int(size[0]), int(size[1]))
    return parse_size(size)


@contextlib.contextmanager
def _callback(progress: Progress) -> Iterator[ProgressCallback | None]:
    """The callback ``progress`` asks for; bars drawn by it are closed when the call ends."""
    if progress is True:
        bars = ProgressBars(notebook=True)
        try:
            yield bars
        finally:
            bars.close()
    else:
        yield progress or None
