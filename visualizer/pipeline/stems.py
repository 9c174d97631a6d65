"""The stems of a job: ``--stems`` read into (name, file) pairs, checked once, analysed once.

``--stems`` is ``NAME=FILE[,NAME=FILE...]`` (NAME one of `visualizer.options.STEMS`), or a folder
whose files are named after the stems (``drums.wav``, ``bass.flac``, ``vocals.mp3``,
``other.wav``, as Demucs, Open-Unmix and Spleeter write them); the Python API also takes a
mapping ``{"drums": "d.wav"}`` and the parsed pairs themselves. A stem file is an input: never
an output, and part of the render's identity by its content (`visualizer.pipeline.workdir`,
`visualizer.batch.jobs`).

`check_stems` runs with the other checks, before any work: the files are regular files, the
preset reads no stem that is neither given nor derivable (`visualizer.mapping.routing`), and each
stem matches the mix's length within a frame (`visualizer.analysis.stems.check_stems`, from the
headers). `analyze_stems` then analyses, once each, the stems the preset reads
(`stems_to_analyze`).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visualizer.errors import StemError
from visualizer.inputs import check_input_file, check_path_text
from visualizer.options import AUDIO_SUFFIXES, DEFAULT_FPS, STEMS

if TYPE_CHECKING:
    from visualizer.analysis.features import Features
    from visualizer.pipeline.options import RenderOptions, ResolvedPreset
    from visualizer.progress import ProgressCallback

log = logging.getLogger("visualizer")

Stems = tuple[tuple[str, Path], ...]  # (name, file) in STEMS order
# what --stems, the API and an album entry give; a sequence of pairs is the parsed form itself
# (RenderOptions.stems, as `dataclasses.asdict` hands it back)
StemsSpec = str | os.PathLike | Mapping[str, Any] | tuple | list | None
MAX_STEM_BYTES = 1 << 40  # an audio file: no bound but the disk's


def parse_stems(spec: StemsSpec) -> Stems:
    """``spec`` (see the module's docstring; None or "" for none) as (name, file) pairs in
    `STEMS` order; StemError names an unknown or repeated name, or a folder without stems."""
    if spec is None or spec == "" or (isinstance(spec, Mapping | tuple | list) and not spec):
        return ()
    if isinstance(spec, Mapping):
        pairs = [(str(name), str(path)) for name, path in spec.items()]
    elif isinstance(spec, tuple | list):
        pairs = [_given_pair(pair) for pair in spec]
    elif isinstance(spec, str) and "=" in spec and not Path(spec).is_dir():
        pairs = [_pair(part) for part in spec.split(",") if part.strip()]
    else:
        return stems_in_folder(Path(spec))
    found: dict[str, Path] = {}
    for name, path in pairs:
        _check_name(name)
        if name in found:
            raise StemError(f"--stems names the {name} stem twice ({found[name]}, {path})")
        if not path:
            raise StemError(f"--stems: no file given for the {name} stem ({name}=FILE)")
        found[name] = Path(path).expanduser()
    return tuple((name, found[name]) for name in STEMS if name in found)


def _given_pair(pair: Any) -> tuple[str, str]:
    """One (name, file) pair of an already parsed spec."""
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise StemError(
            f"stems: {pair!r} is not a (NAME, FILE) pair (NAME one of {', '.join(STEMS)})"
        )
    return str(pair[0]), str(pair[1])


def _pair(part: str) -> tuple[str, str]:
    name, equals, path = part.partition("=")
    if not equals:
        raise StemError(
            f"--stems: {part.strip()!r} is not NAME=FILE (NAME one of {', '.join(STEMS)}); "
            "or give one folder holding drums.wav, bass.wav, ..."
        )
    return name.strip(), path.strip()


def _check_name(name: str) -> None:
    if name in STEMS:
        return
    close = difflib.get_close_matches(name, STEMS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    mix = "; the mix is the track itself" if name == "mix" else ""
    raise StemError(f"unknown stem {name!r}{hint}: stems are {', '.join(STEMS)}{mix}")


def stems_in_folder(folder: Path) -> Stems:
    """The stems in ``folder`` (not its sub-folders): its audio files named after a stem, any
    case (``Drums.WAV``); StemError when it is no folder, holds none, or two for one stem."""
    check_path_text(folder, "--stems folder", StemError)
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "not found"
        raise StemError(f"--stems {folder} {problem}: give a folder of stems or NAME=FILE,...")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        name = path.stem.lower()
        if name in STEMS and path.suffix.lower() in AUDIO_SUFFIXES:
            if name in found:
                raise StemError(f"--stems {folder} holds two {name} stems: {found[name]}, {path}")
            found[name] = path
    if not found:
        raise StemError(
            f"--stems {folder} holds no stems: expected files named "
            f"{', '.join(STEMS)} ({', '.join(AUDIO_SUFFIXES[:4])}, ...), as separators write them"
        )
    return tuple((name, found[name]) for name in STEMS if name in found)


def check_stems(track: Path, options: RenderOptions, preset: ResolvedPreset | None) -> None:
    """Every check of a render's stems, before any work (see the module's docstring); the
    stems' format differences from the mix are said once (logged)."""
    from visualizer.analysis.stems import check_stems as check_lengths
    from visualizer.mapping.routing import missing_source

    stems = dict(options.stems)
    for name, path in stems.items():
        check_input_file(path, f"stem {name}", limit=MAX_STEM_BYTES, error=StemError)
    if preset is not None and (missing := missing_source(preset.preset, stems)):
        raise StemError(missing)
    if stems:
        for note in check_lengths(track, stems, options.fps or DEFAULT_FPS):
            log.info(note)


def stems_to_analyze(options: RenderOptions, preset: ResolvedPreset) -> list[str]:
    """The stems given that the preset reads: those the analysis reads (the others given are
    not analysed; those it reads and were not given are stood in for by the mapping)."""
    from visualizer.mapping.routing import stems_read

    given = dict(options.stems)
    return [name for name in stems_read(preset.preset) if name in given]


def analyze_stems(
    track: Path,
    options: RenderOptions,
    names: list[str],
    mix: Features,
    progress: ProgressCallback | None = None,
) -> dict[str, Features]:
    """The Features of each stem of ``names`` (`stems_to_analyze`), once each, on the frames
    of ``mix``, the track's; each reported as its own analysis, labelled with its name."""
    from visualizer.analysis.stems import analyze_stem

    given = dict(options.stems)
    found = {}
    for name in names:
        labelled = _labelled(progress, name)
        found[name] = analyze_stem(
            name, given[name], mix, track=track, progress=labelled, tracker=options.beats,
            downbeat=options.downbeat,
        )  # fmt: skip
    return found


def _labelled(progress: ProgressCallback | None, name: str) -> ProgressCallback | None:
    """``progress`` with the analysis's label naming the stem ("analyze drums")."""
    if progress is None:
        return None
    forward = progress

    def labelled(event: Any) -> None:
        forward(dataclasses.replace(event, label=event.label.replace("analyze", f"analyze {name}")))

    return labelled
