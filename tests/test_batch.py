"""Album batches run in this process: inputs, names, album TOML, manifest, skip/resume/retry,
failure isolation, and the `visualizer batch` command end to end on a tiny random checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from visualizer.batch_manifest import Manifest
from visualizer.batch_plan import (
    AlbumError,
    collect_tracks,
    file_digest,
    load_album,
    output_names,
    settings_hash,
)
from visualizer.errors import OutputError

# ------------------------------------------------------------------------------ inputs


def _touch(path: Path, data: bytes = b"RIFF") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_collect_folders_files_and_playlists(tmp_path):
    a = _touch(tmp_path / "album" / "01 a.wav")
    b = _touch(tmp_path / "album" / "cd2" / "02 b.FLAC")
    _touch(tmp_path / "album" / "cover.jpg")
    c = _touch(tmp_path / "elsewhere" / "c.mp3")
    playlist = tmp_path / "lists" / "mix.m3u8"
    playlist.parent.mkdir()
    playlist.write_text("#EXTM3U\n#EXTINF:1,c\n../elsewhere/c.mp3\n\n" + f"{a}\n", "utf-8")
    found = collect_tracks([tmp_path / "album", playlist, str(c)])
    # folder order, then the playlist's new entry; the repeated ones are kept once
    assert found == [a.resolve(), b.resolve(), c.resolve()]


def test_collect_plain_text_playlist_resolves_relative_to_itself(tmp_path):
    track = _touch(tmp_path / "music" / "x.ogg")
    playlist = tmp_path / "music" / "list.txt"
    playlist.write_text("x.ogg\n# a comment\n", "utf-8")
    assert collect_tracks([playlist]) == [track.resolve()]


@pytest.mark.parametrize(
    ("content", "message"),
    [("missing.wav\n", "line 1: file not found: missing.wav"), ("", "no audio files found")],
)
def test_collect_bad_playlists(tmp_path, content, message):
    playlist = tmp_path / "p.m3u"
    playlist.write_text(content, "utf-8")
    with pytest.raises(AlbumError, match=message):
        collect_tracks([playlist])


def test_collect_missing_input_and_empty_folder(tmp_path):
    with pytest.raises(AlbumError, match="input not found"):
        collect_tracks([tmp_path / "nope.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(AlbumError, match="no audio files found"):
        collect_tracks([tmp_path / "empty"])


# ------------------------------------------------------------------------------ names


def test_output_names_fields_and_duplicates(tmp_path):
    tracks = [tmp_path / "cd1" / "intro.wav", tmp_path / "cd2" / "intro.wav"]
    assert output_names(tracks, "{index:02d} {stem}.mp4") == ["01 intro.mp4", "02 intro.mp4"]
    assert output_names(tracks, "{parent}/{stem}.mkv") == ["cd1/intro.mkv", "cd2/intro.mkv"]
    with pytest.raises(AlbumError, match=r"both be written to 'intro.mp4'.*cd1.*cd2"):
        output_names(tracks)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{title}.mp4", r"unknown field \{title\}"),
        ("{stem}.wav", "expected a name ending in"),
        ("../{stem}.mp4", "not inside the output folder"),
        ("/tmp/{stem}.mp4", "not inside the output folder"),
        ("{stem.mp4", "invalid name template"),
        ("{index:q}.mp4", "invalid name template"),
    ],
)
def test_output_names_bad_templates(tmp_path, template, message):
    with pytest.raises(AlbumError, match=message):
        output_names([tmp_path / "a.wav"], template)


# ------------------------------------------------------------------------------ album TOML


def test_album_overrides_by_stem_and_path(tmp_path):
    tracks = [tmp_path / "one.wav", tmp_path / "sub" / "two.wav"]
    album = tmp_path / "album.toml"
    album.write_text(
        '[tracks.one]\npreset = "calm"\nclasses = ["tiger", "volcano"]\nstart = 1.5\n'
        '[tracks."sub/two.wav"]\nset = { "motion.speed" = 0.5, "x.flag" = true }\nduration = 2\n'
        "seed = 9\n",
        "utf-8",
    )
    one, two = load_album(album).overrides_for(tracks)
    assert (one.preset, one.classes, one.start, one.duration) == (
        "calm",
        ("tiger", "volcano"),
        1.5,
        None,
    )
    assert two.overrides == ("motion.speed=0.5", "x.flag=true")
    assert (two.duration, two.seed, two.preset) == (2.0, 9, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tracks.one]\ntempo = 3\n", r"unknown key\(s\) tempo"),
        ("title = 'x'\n", r"unknown key\(s\) title"),
        ("[tracks.one]\nstart = -1\n", "start must be a number of seconds >= 0"),
        ("[tracks.one]\nset = ['novalue']\n", "set must be a list"),
        ("[tracks.one]\nclasses = 3\n", "classes must be a list"),
        ("[tracks.one]\nseed = 1.5\n", "seed must be an integer"),
        ("[tracks.one\n", "not valid TOML"),
    ],
)
def test_album_bad_files(tmp_path, text, message):
    album = tmp_path / "album.toml"
    album.write_text(text, "utf-8")
    with pytest.raises(AlbumError, match=message):
        load_album(album)


def test_album_entry_matching_no_track_or_several(tmp_path):
    album = tmp_path / "album.toml"
    album.write_text("[tracks.tree]\nstart = 1\n", "utf-8")
    with pytest.raises(AlbumError, match=r"\[tracks.'tree'\] matches no track \(three\)"):
        load_album(album).overrides_for([tmp_path / "three.wav"])
    with pytest.raises(AlbumError, match="matches 2 tracks"):
        load_album(album).overrides_for([tmp_path / "a" / "tree.wav", tmp_path / "b" / "tree.wav"])
    with pytest.raises(AlbumError, match="cannot read album file"):
        load_album(tmp_path / "missing.toml")


# ------------------------------------------------------------------------------ hashing, manifest


def test_file_digest_reuses_cache_only_when_unchanged(tmp_path):
    path = _touch(tmp_path / "a.wav", b"one")
    first = file_digest(path)
    assert file_digest(path, {**first, "source_sha256": "cached"})["source_sha256"] == "cached"
    path.write_bytes(b"two!")
    assert file_digest(path, first)["source_sha256"] != first["source_sha256"]
    assert settings_hash("x", {"fps": 8}) != settings_hash("x", {"fps": 9})
    assert settings_hash("x", {"a": 1, "b": 2}) == settings_hash("x", {"b": 2, "a": 1})


def test_manifest_roundtrip_atomic_and_corrupt(tmp_path):
    manifest = Manifest.load(tmp_path)
    manifest.update("a.mp4", status="running", frames=None)
    manifest.update("a.mp4", status="done", frames=12)
    assert json.loads((tmp_path / "manifest.json").read_text())["tracks"]["a.mp4"]["frames"] == 12
    assert Manifest.load(tmp_path).get("a.mp4")["status"] == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary left over
    with pytest.raises(ValueError, match="unknown manifest status"):
        manifest.update("a.mp4", status="halfway")
    (tmp_path / "manifest.json").write_text("{not json", "utf-8")
    with pytest.raises(OutputError, match="cannot read batch manifest"):
        Manifest.load(tmp_path)
    os.unlink(tmp_path / "manifest.json")
    assert Manifest.load(tmp_path).snapshot() == {}
