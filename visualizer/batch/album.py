"""What a batch renders: which tracks, under which names, with which settings.

Everything here runs before any rendering and touches nothing but small files, so a bad input
(a missing file, a duplicate output name, a typo in the album TOML) is reported before the night's
work starts:

- `collect_tracks`: command-line inputs (folders, audio files, playlists) -> ordered audio paths;
- `output_names`: the name template (``{stem}.mp4``, ``{index}``, ``{parent}``) -> unique names;
- `load_album`: the album TOML -> per-track overrides, keyed by file stem or path;
- `settings_hash`: what a render depends on (track content + settings) -> one hex string.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from visualizer.content import file_sha256, text_sha256
from visualizer.errors import AudioError, OutputError, VisualizerError
from visualizer.files import check_folder_writable
from visualizer.inputs import MAX_LIST_BYTES, check_path_text, load_toml, read_text_input
from visualizer.options import AUDIO_SUFFIXES, beat_file_of, tracker_spec
from visualizer.rendering.codecs import VIDEO_SUFFIXES

PLAYLIST_SUFFIXES = (".m3u", ".m3u8", ".txt")
TEMPLATE_FIELDS = ("stem", "index", "parent", "name")


class AlbumError(VisualizerError):
    """The batch inputs, name template or album TOML are invalid."""


# ----------------------------------------------------------------------------------- inputs


def collect_tracks(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Resolve command-line inputs to an ordered list of distinct audio files.

    A folder contributes its audio files (by suffix, recursively, sorted by path); a playlist
    (``.m3u``/``.m3u8``/``.txt``: one path per line, ``#`` comments) contributes its entries, with
    relative paths resolved against the playlist's folder; any other file is taken as audio.
    A file listed twice is kept once, at its first position. Raises `AlbumError` for a missing
    input or playlist entry and when nothing is found.
    """
    tracks: list[Path] = []
    seen: set[Path] = set()
    for raw in inputs:
        if is_url(str(raw)):  # before Path(), which would show "http:/host" with one slash
            raise AlbumError(f"{raw}: {NOT_A_FILE}")
        for path in _expand(check_path_text(raw, "input", AlbumError)):
            resolved = check_path_text(path.resolve(), "track", AlbumError)
            if resolved not in seen:
                seen.add(resolved)
                tracks.append(resolved)
    if not tracks:
        shown = ", ".join(str(i) for i in inputs) or "(none)"
        raise AlbumError(
            f"no audio files found in {shown} (searched for {', '.join(AUDIO_SUFFIXES)})"
        )
    return tracks


NOT_A_FILE = "URLs are not supported; download the file first"  # what a URL input is told


def is_url(text: str) -> bool:
    """True for ``scheme://...`` (http, https, ftp, s3, ...): not a file on this machine."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text) is not None


def _expand(path: Path) -> Iterable[Path]:
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES]
        return sorted(found, key=lambda p: str(p.relative_to(path)).lower())
    if not path.exists():
        raise AlbumError(f"input not found: {path}")
    if path.suffix.lower() in PLAYLIST_SUFFIXES:
        return read_playlist(path)
    if not path.is_file():  # a FIFO or a device would hold the hashing of the album for ever
        raise AlbumError(f"input {path} is not a regular file (a FIFO or device)")
    return [path]


def read_playlist(path: Path) -> list[Path]:
    """The entries of an m3u/m3u8/plain-text playlist, relative paths against its folder."""
    text = read_text_input(path, "playlist", limit=MAX_LIST_BYTES, error=AlbumError)
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue  # blank lines, comments and #EXTINF-style directives
        if line.startswith("file://"):
            line = line[len("file://") :]
        elif is_url(line):
            raise AlbumError(f"playlist {path} line {number}: {line}: {NOT_A_FILE}")
        entry = Path(line).expanduser()
        if not entry.is_absolute():
            entry = path.parent / entry
        if not entry.is_file():
            problem = "not a regular file" if entry.exists() else "file not found"
            raise AlbumError(f"playlist {path} line {number}: {problem}: {line}")
        entries.append(entry)
    return entries


# ------------------------------------------------------------------------------------ names


def output_names(tracks: Sequence[Path], template: str = "{stem}.mp4") -> list[str]:
    """One output name (relative to the output folder) per track, from ``template``.

    Fields: ``{stem}`` file name without suffix, ``{name}`` file name, ``{parent}`` name of the
    folder holding the track, ``{index}`` 1-based position in the album (format specs work:
    ``{index:02d} {stem}.mp4``). The name must stay inside the output folder and end in a video
    suffix. Raises `AlbumError` for an invalid template and for two tracks getting one name.
    """
    _check_template(template)
    names: list[str] = []
    by_name: dict[str, Path] = {}
    for index, track in enumerate(tracks, start=1):
        name = template.format(
            stem=track.stem, name=track.name, parent=track.parent.name, index=index
        )
        _check_name(name, template)
        key = os.path.normcase(os.path.normpath(name))
        if key in by_name:
            raise AlbumError(
                f"two tracks would both be written to {name!r}: {by_name[key]} and {track} "
                "(use --name-template with {index} or {parent}, e.g. '{index:02d} {stem}.mp4')"
            )
        by_name[key] = track
        names.append(name)
    return names


def _check_template(template: str) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise AlbumError(f"invalid name template {template!r}: {error}") from None
    for _, field_name, _, _ in parsed:
        if field_name is not None and field_name not in TEMPLATE_FIELDS:
            raise AlbumError(
                f"unknown field {{{field_name}}} in name template {template!r} "
                f"(valid: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})"
            )
    try:
        template.format(stem="a", name="a.wav", parent="p", index=1)
    except (ValueError, TypeError) as error:
        raise AlbumError(f"invalid name template {template!r}: {error}") from None


def _check_name(name: str, template: str) -> None:
    path = Path(name)
    if not name.strip() or path.is_absolute() or ".." in path.parts:
        raise AlbumError(
            f"name template {template!r} gives {name!r}, which is not inside the output folder"
        )
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise AlbumError(
            f"name template {template!r} gives {name!r}: expected a name ending in "
            f"{', '.join(VIDEO_SUFFIXES)}"
        )


# ------------------------------------------------------------------------------------ album

ALBUM_TRACK_KEYS = (
    "preset", "classes", "set", "start", "duration", "seed", "stems", "downbeat", "beats",
)  # fmt: skip


@dataclass(frozen=True)
class TrackOverrides:
    """Per-track settings from the album TOML; None/empty means "the album's setting"."""

    preset: str | None = None
    classes: tuple[str | int, ...] = ()  # class names or ImageNet indices
    overrides: tuple[str, ...] = ()  # SECTION.KEY=VALUE, applied after the album's --set values
    start: float | None = None
    duration: float | None = None
    seed: int | None = None
    stems: tuple[tuple[str, Path], ...] = ()  # (name, file), relative paths made absolute
    downbeat: float | None = None  # seconds into the track where a bar begins (--downbeat)
    beats: str | None = None  # the track's tracker (--beats), e.g. "dsp:128": the tempo heard


@dataclass(frozen=True)
class Album:
    """An album TOML: ``[tracks."<stem or path>"]`` tables of `TrackOverrides`."""

    path: Path | None = None
    tracks: Mapping[str, TrackOverrides] = field(default_factory=dict)

    def overrides_for(self, tracks: Sequence[Path]) -> list[TrackOverrides]:
        """The overrides of each track (matched by stem, or by path relative to the TOML).

        Raises `AlbumError` naming any album entry that matches no track or several tracks.
        """
        result = [TrackOverrides() for _ in tracks]
        base = self.path.parent if self.path else Path.cwd()
        for key, value in self.tracks.items():
            as_path = (base / Path(key).expanduser()).resolve()
            matches = [i for i, t in enumerate(tracks) if t == as_path]
            if not matches:
                matches = [i for i, t in enumerate(tracks) if t.stem == key or t.name == key]
            if not matches:
                stems = ", ".join(t.stem for t in tracks[:8]) + (", ..." if len(tracks) > 8 else "")
                raise AlbumError(f"album {self.path}: [tracks.{key!r}] matches no track ({stems})")
            if len(matches) > 1:
                raise AlbumError(
                    f"album {self.path}: [tracks.{key!r}] matches {len(matches)} tracks "
                    f"({', '.join(str(tracks[i]) for i in matches)}); key it by path instead"
                )
            result[matches[0]] = value
        return result


def load_album(path: str | os.PathLike) -> Album:
    """Read an album TOML. Unknown tables or keys raise `AlbumError` naming them.

    Example::

        [tracks."01 intro"]            # a file stem, or a path relative to this file
        preset = "calm"
        classes = ["tiger", "volcano"]
        set = ["motion.speed=0.5"]      # or a table: set = { "motion.speed" = 0.5 }
        start = 10.0                    # seconds into the track
        duration = 30.0
        downbeat = 12.48                # where a bar begins, when the bar lines sit wrong
        beats = "dsp:128"               # the tempo you hear, or "file:01.beats": a beat grid
        stems = "stems/01 intro"        # a folder of drums.wav, bass.wav, ... (relative to this
                                        # file), "drums=d.wav,bass=b.wav" or a table
    """
    path = Path(path)
    data = load_toml(path, "album file", AlbumError)
    if unknown := sorted(set(data) - {"tracks"}):
        raise AlbumError(f"album {path}: unknown key(s) {', '.join(unknown)} (valid: tracks)")
    tracks = data.get("tracks", {})
    if not isinstance(tracks, dict):
        raise AlbumError(f"album {path}: 'tracks' must be a table of [tracks.\"<stem>\"] tables")
    return Album(path, {str(k): _track_overrides(path, str(k), v) for k, v in tracks.items()})


def _track_overrides(path: Path, key: str, table: object) -> TrackOverrides:
    where = f"album {path}: [tracks.{key!r}]"
    if not isinstance(table, dict):
        raise AlbumError(f"{where} must be a table")
    unknown = sorted(set(table) - set(ALBUM_TRACK_KEYS))
    if unknown:
        raise AlbumError(
            f"{where}: unknown key(s) {', '.join(unknown)} (valid: {', '.join(ALBUM_TRACK_KEYS)})"
        )
    preset = table.get("preset")
    if preset is not None and not isinstance(preset, str):
        raise AlbumError(f"{where}: preset must be a name or path string, got {preset!r}")
    classes = table.get("classes", ())
    if isinstance(classes, str):
        classes = [c.strip() for c in classes.split(",") if c.strip()]
    if not isinstance(classes, list | tuple) or not all(isinstance(c, str | int) for c in classes):
        raise AlbumError(f"{where}: classes must be a list of class names, got {classes!r}")
    return TrackOverrides(
        preset=preset,
        classes=tuple(classes),
        overrides=_set_values(where, table.get("set", ())),
        start=_seconds(where, "start", table.get("start")),
        duration=_seconds(where, "duration", table.get("duration")),
        seed=_seed(where, table.get("seed")),
        stems=_stems(where, path.parent, table.get("stems")),
        downbeat=_seconds(where, "downbeat", table.get("downbeat")),
        beats=_tracker(where, path.parent, table.get("beats")),
    )


def _tracker(where: str, base: Path, value: object) -> str | None:
    """A track's ``beats``: a tracker, or "file:PATH" (a beats file, relative to the album file)."""
    if value is not None and not isinstance(value, str):
        raise AlbumError(f'{where}: beats must be a string such as "dsp:128", got {value!r}')
    try:
        spec = None if value is None else tracker_spec(value)
    except ValueError as error:
        raise AlbumError(f"{where}: beats: {error}") from None
    beat_file = beat_file_of(spec) if spec else None
    return spec if beat_file is None else f"file:{base / beat_file}"  # absolute stays absolute


def _set_values(where: str, value: object) -> tuple[str, ...]:
    if isinstance(value, dict):
        return tuple(f"{k}={_toml_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple) and all(isinstance(v, str) and "=" in v for v in value):
        return tuple(value)
    raise AlbumError(
        f"{where}: set must be a list of 'section.key=value' strings or a table, got {value!r}"
    )


def _toml_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_toml_text(v) for v in value)
    return str(value)


def _seconds(where: str, key: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise AlbumError(f"{where}: {key} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _stems(where: str, base: Path, value: object) -> tuple[tuple[str, Path], ...]:
    """A track's ``stems``: a folder, "NAME=FILE,..." or a table, relative to the album file."""
    from visualizer.pipeline.stems import parse_stems

    if value is None:
        return ()
    if isinstance(value, str) and "=" not in value:
        value = str(base / Path(value).expanduser())
    elif not isinstance(value, str | dict):
        raise AlbumError(f"{where}: stems must be a folder, 'NAME=FILE,...' or a table")
    try:
        stems = parse_stems(value)
    except VisualizerError as error:
        raise AlbumError(f"{where}: {error}") from None
    return tuple((name, path if path.is_absolute() else base / path) for name, path in stems)


def _seed(where: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AlbumError(f"{where}: seed must be an integer, got {value!r}")
    return value


# ------------------------------------------------------------------------------------ hashing


def file_digest(path: Path, cache: Mapping[str, object] | None = None) -> dict[str, object]:
    """Content identity of a file: sha256 plus size and mtime (``cache`` reuses an earlier
    digest when size and mtime are unchanged, so a re-run does not re-read a whole album).

    Raises `AudioError` when the file cannot be read.
    """
    try:
        stat = path.stat()
    except OSError as error:
        raise AudioError(f"cannot read {path}: {error.strerror or error}") from None
    if (
        cache
        and cache.get("source_size") == stat.st_size
        and cache.get("source_mtime_ns") == stat.st_mtime_ns
        and isinstance(cache.get("source_sha256"), str)
    ):
        digest = str(cache["source_sha256"])
    else:
        digest = _sha256(path)
    return {
        "source_sha256": digest,
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
    }


def _sha256(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as error:
        raise AudioError(f"cannot read {path}: {error.strerror or error}") from None


def path_identity(value: str | os.PathLike | None) -> object:
    """What a settings path stands for: a small file's content hash, a large file's or a
    folder's (name, size, mtime) list, or the value itself when it is not a path on disk
    (a built-in preset name, 'random')."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        if path.stat().st_size <= 16 << 20:
            return {"sha256": _sha256(path)}
        return {"file": str(path.resolve()), **_stat(path)}
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return {"dir": str(path.resolve()), "files": [[p.name, *_stat(p).values()] for p in files]}
    return str(value)


def _stat(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def settings_hash(source_sha256: str, settings: Mapping[str, object]) -> str:
    """sha256 over the track's content and the settings that change its picture or sound."""
    payload = json.dumps(
        {"source": source_sha256, "settings": settings}, sort_keys=True, default=str
    )
    return text_sha256(payload)


def check_outdir(outdir: Path) -> Path:
    """Create the output folder if needed; raise `OutputError` if it cannot be (a file, a
    loop of links, a read-only place, a path that is not UTF-8 text)."""
    check_path_text(outdir, "output folder", OutputError)
    check_folder_writable(outdir, "output folder", make=True)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"cannot create output folder {outdir}: {error.strerror or error}"
        ) from None
    return outdir.resolve()
