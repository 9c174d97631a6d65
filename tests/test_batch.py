"""Album batches run in this process: inputs, names, album TOML, manifest, skip/resume/retry,
failure isolation, and the `visualizer batch` command end to end on a tiny random checkpoint."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import write_checkpoint
from tests.video_fixtures import read_frames
from visualizer.batch.album import (
    AlbumError,
    collect_tracks,
    file_digest,
    load_album,
    output_names,
    settings_hash,
)
from visualizer.batch.manifest import Manifest
from visualizer.batch.runner import AlbumProgress, BatchOptions, prepare_batch, run_batch
from visualizer.cli import main
from visualizer.errors import Cancelled, OutputError
from visualizer.pipeline.options import RenderOptions

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
        "seed = 9\ndownbeat = 12.48\nbeats = 'dsp:92.0'\n",
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
    assert (one.downbeat, two.downbeat) == (None, 12.48)
    assert (one.beats, two.beats) == (None, "dsp:92")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tracks.one]\ntempo = 3\n", r"unknown key\(s\) tempo"),
        ("title = 'x'\n", r"unknown key\(s\) title"),
        ("[tracks.one]\nstart = -1\n", "start must be a number of seconds >= 0"),
        ("[tracks.one]\ndownbeat = '0:12'\n", "downbeat must be a number of seconds >= 0"),
        ("[tracks.one]\nbeats = 'dsp:500'\n", r"beats: unknown beat tracker 'dsp:500': expected"),
        ("[tracks.one]\nbeats = 128\n", r'beats must be a string such as "dsp:128", got 128'),
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
    with pytest.raises(AlbumError, match="album file not found"):
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
    umask = os.umask(0o022)
    os.umask(umask)  # the manifest is as readable as the videos beside it (not mkstemp's 0600)
    assert (tmp_path / "manifest.json").stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(ValueError, match="unknown manifest status"):
        manifest.update("a.mp4", status="halfway")
    (tmp_path / "manifest.json").write_text("{not json", "utf-8")
    with pytest.raises(OutputError, match="cannot read batch manifest"):
        Manifest.load(tmp_path)
    os.unlink(tmp_path / "manifest.json")
    assert Manifest.load(tmp_path).snapshot() == {}


# ------------------------------------------------------------------------------ end to end

FPS = 8  # frames per second of every test render: few frames, real encoder and muxer


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    """Two generated tracks (2 s and 3 s), one corrupt file, and a tiny random checkpoint."""
    root = tmp_path_factory.mktemp("album")
    tracks = root / "tracks"
    tracks.mkdir()
    write_wav(tracks / "01 dawn.wav", music_like(2.0, seed=1))
    write_wav(tracks / "02 dusk.wav", music_like(3.0, seed=2))
    (tracks / "03 broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio" * 4)
    weights = write_checkpoint(root / "checkpoint", channel_width=8)
    return SimpleNamespace(root=root, tracks=tracks, weights=weights)


def batch_cli(album, outdir, *extra: str) -> int:
    inputs = [a for a in extra if a.endswith(".flac")]  # extra inputs go before the options
    extra = tuple(a for a in extra if a not in inputs)
    return main(
        [
            "batch", str(album.tracks), *inputs, "-o", str(outdir), "--weights", str(album.weights),
            "--device", "cpu", "--fps", str(FPS), "--segment-frames", "8", "--batch-size", "4",
            "-q", *extra,
        ]
    )  # fmt: skip


def render_options(album, **changes) -> RenderOptions:
    values = dict(
        weights=str(album.weights), device="cpu", fps=Fraction(FPS), segment_frames=8, batch_size=4
    )
    return RenderOptions(**{**values, **changes})


def read_manifest(outdir: Path) -> dict:
    return json.loads((outdir / "manifest.json").read_text("utf-8"))["tracks"]


def assert_no_leftovers(outdir: Path, finished: list[str]) -> None:
    """Only the manifest, the finished videos and their presets: no work folders or temps."""
    expected = {"manifest.json"}
    for name in finished:
        expected |= {name, name.replace(".mp4", ".preset.toml")}
    assert {p.name for p in outdir.iterdir()} == expected


def test_album_renders_isolates_the_corrupt_track_and_skips_on_rerun(album, tmp_path, capsys):
    out = tmp_path / "out"
    assert batch_cli(album, out) == 1
    table = capsys.readouterr().err
    assert (
        "03 broken.mp4" in table and "failed" in table and "2 of 3 tracks done, 1 failed" in table
    )
    tracks = read_manifest(out)
    assert tracks["03 broken.mp4"]["status"] == "failed"
    assert "03 broken.wav" in tracks["03 broken.mp4"]["error"]
    for name, seconds in (("01 dawn.mp4", 2.0), ("02 dusk.mp4", 3.0)):
        entry = tracks[name]
        assert (entry["status"], entry["last_run"], entry["frames"]) == (
            "done",
            "rendered",
            seconds * FPS,
        )
        assert len(read_frames(out / name)) == entry["frames"]
        assert entry["audio_seconds"] == pytest.approx(seconds, abs=0.01)
    # One seed for the whole album: every video records the same resolved seed.
    seeds = {
        (out / n).read_text().split("seed = ")[1].split(",")[0]
        for n in ("01 dawn.preset.toml", "02 dusk.preset.toml")
    }
    assert len(seeds) == 1
    assert_no_leftovers(out, ["01 dawn.mp4", "02 dusk.mp4"])
    mtimes = {n: (out / n).stat().st_mtime_ns for n in ("01 dawn.mp4", "02 dusk.mp4")}

    # Same command again: finished tracks skipped (not re-rendered), the failed one retried.
    assert batch_cli(album, out) == 1
    tracks = read_manifest(out)
    for name, mtime in mtimes.items():
        assert tracks[name]["last_run"] == "skipped"
        assert (out / name).stat().st_mtime_ns == mtime
    assert tracks["03 broken.mp4"]["attempts"] == 2

    # Changed settings for one track (album TOML): only that one renders again.
    toml = tmp_path / "album.toml"
    toml.write_text('[tracks."02 dusk"]\nduration = 1.0\nclasses = ["tiger", 3]\n', "utf-8")
    assert batch_cli(album, out, "--album", str(toml)) == 1
    tracks = read_manifest(out)
    assert tracks["01 dawn.mp4"]["last_run"] == "skipped"
    assert (tracks["02 dusk.mp4"]["last_run"], tracks["02 dusk.mp4"]["frames"]) == ("rendered", FPS)
    assert len(read_frames(out / "02 dusk.mp4")) == FPS
    assert '"tiger"' in (out / "02 dusk.preset.toml").read_text()


def test_interrupted_batch_resumes_the_running_track(album, tmp_path):
    out = tmp_path / "out"
    batch = BatchOptions(outdir=out)
    inputs = [album.tracks / "01 dawn.wav", album.tracks / "02 dusk.wav"]

    def stop_in_dusk(event):
        if event.stage == "track:02 dusk.mp4" and event.done >= 12:
            raise Cancelled("stopped by the test")

    with pytest.raises(Cancelled):
        run_batch(inputs, render_options(album), batch, progress=stop_in_dusk)
    tracks = read_manifest(out)
    assert (tracks["01 dawn.mp4"]["status"], tracks["02 dusk.mp4"]["status"]) == ("done", "running")
    assert not (out / "02 dusk.mp4").exists()  # nothing that looks finished

    events = []
    result = run_batch(inputs, render_options(album), batch, progress=events.append)
    assert result.ok
    dusk = read_manifest(out)["02 dusk.mp4"]
    assert (dusk["last_run"], dusk["frames"], dusk["attempts"]) == ("resumed", 24, 2)
    assert len(read_frames(out / "02 dusk.mp4")) == 24
    # the resumed render only generated the frames of the segments that were missing
    dusk_events = [e for e in events if e.stage == "track:02 dusk.mp4"]
    assert dusk_events[0].done > 4 and dusk_events[-1].done == 24
    album_events = [e for e in events if e.stage == "album"]
    assert album_events[-1].label == "1/1 tracks" and album_events[-1].done == 24
    assert_no_leftovers(out, ["01 dawn.mp4", "02 dusk.mp4"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name-template", "same.mp4"], "would both be written to 'same.mp4'"),
        (["--workers", "2"], "--workers and --split need --ray"),
        (["--retries", "-1"], "invalid --retries -1"),
        (["--album", "{album}"], "unknown key(s) speed (valid: preset, classes"),
        (["{tracks}/missing.flac"], "input not found"),
        (["--weights", "{tracks}/no-weights"], "weights not found"),
    ],
)
def test_cli_bad_inputs_fail_before_any_work(album, tmp_path, capsys, args, message):
    toml = tmp_path / "album.toml"
    toml.write_text('[tracks."01 dawn"]\nspeed = 2\n', "utf-8")
    args = [a.format(album=toml, tracks=album.tracks) for a in args]
    out = tmp_path / "out"
    assert batch_cli(album, out, *args) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing was created


def test_prepare_decides_skip_resume_and_rerender_from_the_manifest(album, tmp_path):
    out = tmp_path / "out"
    inputs = [album.tracks / "01 dawn.wav"]
    batch = BatchOptions(outdir=out)
    first = prepare_batch(inputs, render_options(album), batch)
    (job,) = first.jobs
    assert (job.options.resume, job.options.overwrite) == (False, False)
    assert read_manifest(out)["01 dawn.mp4"]["status"] == "pending"

    # interrupted earlier with the same settings -> resume
    first.manifest.update(job.name, status="running")
    (job,) = prepare_batch(inputs, render_options(album), batch).jobs
    assert (job.options.resume, job.options.overwrite) == (True, True)
    # --compile changes rounding only, as for a single render: still a resume
    (compiled,) = prepare_batch(inputs, render_options(album, compile="default"), batch).jobs
    assert (compiled.options.resume, compiled.settings_hash) == (True, job.settings_hash)

    # done and present -> skipped; done but the video was deleted -> rendered again
    first.manifest.update(job.name, status="done")
    (out / job.name).write_bytes(b"video")
    again = prepare_batch(inputs, render_options(album), batch)
    assert (again.jobs, again.skipped) == ([], ["01 dawn.mp4"])
    again = prepare_batch(inputs, render_options(album, compile="default"), batch)
    assert (again.jobs, again.skipped) == ([], ["01 dawn.mp4"])  # skipped, not rendered again
    (out / job.name).unlink()
    assert len(prepare_batch(inputs, render_options(album), batch).jobs) == 1

    # what changes the picture changes the hash; what does not, does not
    def hash_with(**changes):
        return prepare_batch(inputs, render_options(album, **changes), batch).jobs[0].settings_hash

    assert hash_with(seed=5) != job.settings_hash
    assert hash_with(overrides=("walk.speed=1.5",)) != job.settings_hash
    assert hash_with(batch_size=1, device="cpu") == job.settings_hash
    assert hash_with(compile="max-autotune") == job.settings_hash
    assert hash_with(precision="bf16") != job.settings_hash
    assert hash_with(downbeat=3.0) != job.settings_hash  # the bar lines: the picture
    assert hash_with(downbeat=None) == job.settings_hash  # none: the hash albums had before
    # a beats file counts by its content: renamed, the same render; edited, another
    grid = tmp_path / "dawn.beats"
    grid.write_text("0.5\n1.0\n1.5\n", "utf-8")
    with_grid = hash_with(beats=f"file:{grid}")
    assert with_grid != job.settings_hash
    renamed = grid.rename(tmp_path / "renamed.txt")
    assert hash_with(beats=f"file:{renamed}") == with_grid
    renamed.write_text("0.5\n1.0\n1.4\n", "utf-8")
    assert hash_with(beats=f"file:{renamed}") != with_grid


def test_a_work_folder_of_other_settings_is_a_typed_mismatch_the_batch_starts_over(
    album, tmp_path, caplog
):
    """A resume that asks for another render raises `ResumeMismatch` (whatever its words); the
    batch, which owns the work folder, starts that track over. Other errors stay errors."""
    import logging

    from visualizer.batch.jobs import TrackJob
    from visualizer.batch.tracks import plan_track
    from visualizer.pipeline.render import plan_render
    from visualizer.pipeline.workdir import ResumeMismatch

    track, output = album.tracks / "01 dawn.wav", tmp_path / "01 dawn.mp4"
    plan_render(track, output, render_options(album, seed=1))  # what an interrupted run leaves
    for changed in (dict(seed=2), dict(quality=30)):  # the Timeline's source; a setting
        with pytest.raises(ResumeMismatch) as raised:
            plan_render(track, output, render_options(album, resume=True, **changed))
        assert isinstance(raised.value, OutputError)
    # a beats file is part of the render by its content, not its name
    grid, copy = tmp_path / "dawn.beats", tmp_path / "copy.beats"
    for path in (grid, copy):
        path.write_text("0.25\n0.75\n1.25\n", "utf-8")
    gridded = tmp_path / "gridded.mp4"
    plan_render(track, gridded, render_options(album, seed=1, beats=f"file:{grid}"))
    resumed = render_options(album, seed=1, resume=True, beats=f"file:{copy}")
    plan_render(track, gridded, resumed)  # the same grid under another name
    copy.write_text("0.25\n0.75\n1.2\n", "utf-8")
    with pytest.raises(ResumeMismatch, match=r"its beats are not the interrupted render's"):
        plan_render(track, gridded, resumed)
    other = render_options(album, seed=2, resume=True)
    with caplog.at_level(logging.WARNING, logger="visualizer"):
        plan = plan_track(TrackJob(1, output.name, track, output, other, "hash"))
    assert "starting it over" in caplog.text
    assert plan.pending() == list(range(len(plan.segments)))
    assert json.loads((plan.work_dir / "render.json").read_text())["seed"] == 2
    # Not a mismatch: an interrupted render the job does not resume is refused, as it was.
    same = render_options(album, seed=2)
    with pytest.raises(OutputError, match="use --resume") as raised:
        plan_track(TrackJob(1, output.name, track, output, same, "hash"))
    assert not isinstance(raised.value, ResumeMismatch)


def test_album_progress_counts_frames_and_tracks():
    events = []
    jobs = [SimpleNamespace(name=n) for n in ("a", "b", "c")]
    progress = AlbumProgress(events.append, jobs)
    progress.track_event("a", "render", 5, 10)
    progress.track_event("a", "analyze", 1, 1)  # not frames: ignored
    progress.track_finished("a", 10)
    progress.track_event("b", "render", 2, 20, part=0)
    progress.track_event("b", "render", 3, 20, part=1)
    progress.track_finished("c", None)  # failed
    album_events = [e for e in events if e.stage == "album"]
    assert [e.stage for e in events[:2]] == ["track:a", "album"]
    assert [e.done for e in events if e.stage == "track:b"] == [2, 5]  # parts add up
    assert (album_events[-1].done, album_events[-1].total) == (15, 30)
    assert album_events[-1].label == "2/3 tracks"


@pytest.mark.parametrize(
    "preset, key",
    [("default", "classes.names"), ("dreamy", "keyframes.names"), ("morph", "morph.names")],
)
def test_album_classes_set_the_palette_of_the_presets_class_mode(preset, key):
    from visualizer.batch.album import TrackOverrides
    from visualizer.batch.jobs import track_options
    from visualizer.mapping.presets import load_preset

    options = track_options(
        RenderOptions(preset=preset), TrackOverrides(classes=("tiger", "volcano"))
    )
    assert options.overrides[-1] == f'{key}=["tiger", "volcano"]'
    resolved = load_preset(preset, list(options.overrides))
    assert getattr(resolved, key.split(".")[0]).names == ("tiger", "volcano")


def test_album_downbeat_is_the_tracks_own():
    from visualizer.batch.album import TrackOverrides
    from visualizer.batch.jobs import track_options

    assert track_options(RenderOptions(), TrackOverrides(downbeat=7.5)).downbeat == 7.5
    assert track_options(RenderOptions(), TrackOverrides()).downbeat is None


def test_album_tempo_is_the_tracks_own():
    from visualizer.batch.album import TrackOverrides
    from visualizer.batch.jobs import track_options

    album = RenderOptions(beats="dsp")
    assert track_options(album, TrackOverrides(beats="dsp:128")).beats == "dsp:128"
    assert track_options(album, TrackOverrides()).beats == "dsp"
