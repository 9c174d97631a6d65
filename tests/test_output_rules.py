"""The output rules, through the real CLI: an existing file is kept unless --overwrite, no output
is ever an input (not even with --overwrite), and two runs never write one output at once (two
real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import write_checkpoint
from tests.render_fixtures import run_cli
from visualizer.errors import OutputError
from visualizer.files import exclusive

SR = 22050
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(write_checkpoint(tmp_path_factory.mktemp("weights"), channel_width=8))


@pytest.fixture
def song(tmp_path):
    return write_wav(tmp_path / "song.wav", music_like(2.0, SR, seed=3), SR)


def _render(song, out, weights, *extra):
    return ("render", song, "-o", out, "--weights", weights, "--fps", 5, "--quiet", *extra)


@pytest.mark.parametrize("overwrite", [(), ("--overwrite",)])
def test_timeline_out_never_replaces_the_track(song, weights, tmp_path, capsys, overwrite):
    before = song.read_bytes()
    code, err = run_cli(
        capsys, *_render(song, tmp_path / "o.mp4", weights, "--timeline-out", song, *overwrite)
    )
    assert code == 1 and "is one of the inputs" in err and "Traceback" not in err
    assert song.read_bytes() == before
    assert not (tmp_path / "o.mp4").exists()


def test_output_is_never_an_input_even_through_another_spelling(song, weights, tmp_path, capsys):
    before = song.read_bytes()
    other = tmp_path / "sub" / ".." / "song.wav"
    (tmp_path / "sub").mkdir()
    code, err = run_cli(
        capsys, *_render(song, tmp_path / "o.mp4", weights, "--timeline-out", other, "--overwrite")
    )
    assert code == 1 and "inputs" in err
    assert song.read_bytes() == before


def test_an_existing_timeline_out_is_kept_without_overwrite(song, weights, tmp_path, capsys):
    kept = tmp_path / "t.npz"
    kept.write_bytes(b"mine")
    code, err = run_cli(capsys, *_render(song, tmp_path / "o.mp4", weights, "--timeline-out", kept))
    assert code == 1 and "--timeline-out exists" in err and "--overwrite" in err
    assert kept.read_bytes() == b"mine"


def test_an_existing_preset_copy_is_kept_without_overwrite(song, weights, tmp_path, capsys):
    kept = tmp_path / "o.preset.toml"
    kept.write_text("# mine\n")
    code, err = run_cli(capsys, *_render(song, tmp_path / "o.mp4", weights))
    assert code == 1 and "preset copy exists" in err
    assert kept.read_text() == "# mine\n"


def test_the_preset_file_cannot_be_the_preset_copy(song, weights, tmp_path, capsys):
    preset = tmp_path / "o.preset.toml"
    preset.write_text('description = "mine"\n')
    code, err = run_cli(
        capsys, *_render(song, tmp_path / "o.mp4", weights, "--preset", preset, "--overwrite")
    )
    assert code == 1 and "one of the inputs" in err
    assert preset.read_text() == 'description = "mine"\n'


def test_frames_dir_that_is_a_file_fails_before_any_work(song, weights, tmp_path, capsys):
    blocker = tmp_path / "frames"
    blocker.write_text("x")
    code, err = run_cli(
        capsys, *_render(song, tmp_path / "o.mp4", weights, "--frames-dir", blocker)
    )
    assert code == 1 and "is a file" in err
    assert not any(p.name.endswith(".parts") for p in tmp_path.iterdir())


def test_a_failure_before_any_segment_leaves_no_work_folder(song, tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\0" * 16)
    out = tmp_path / "o.mp4"
    code, err = run_cli(capsys, *_render(song, out, junk))
    assert code == 1 and "Traceback" not in err
    assert not (tmp_path / ".o.mp4.parts").exists()  # the corrected command is not refused


def test_a_held_lock_refuses_a_second_holder_at_once(tmp_path):
    out = tmp_path / "o.mp4"
    refused = pytest.raises(OutputError, match=rf"pid {os.getpid()}")
    with exclusive(out), refused, exclusive(out):
        pass
    with exclusive(out):  # released: free again, and no lock file is left behind
        pass
    assert list(tmp_path.iterdir()) == []


def _plant(kind: str, lock: Path, victim: Path) -> None:
    """Something that is not the tool's own lock file, where the lock goes."""
    if kind == "symlink":
        lock.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(lock)
    elif kind == "folder":
        lock.mkdir()
    else:  # another user's file
        lock.write_text("someone else's\n")
        os.chown(lock, 65534, 65534)


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder", "foreign"])
def test_a_planted_lock_is_refused_and_never_followed(tmp_path, kind):
    """A lock is truncated and written: through a planted link it would destroy the target."""
    if kind == "foreign" and os.geteuid() != 0:
        pytest.skip("making a file another user owns needs root")
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    out, lock = tmp_path / "o.mp4", tmp_path / ".o.mp4.lock"
    _plant(kind, lock, victim)
    refused = pytest.raises(OutputError, match=r"lock file .*\.o\.mp4\.lock is .*: remove it")
    with refused, exclusive(out):
        pass
    assert victim.read_text() == "keep me\n"
    assert lock.is_symlink() or lock.exists()  # not ours: left for the user to look at


def test_a_render_with_a_planted_lock_link_fails_and_leaves_the_target(
    song, weights, tmp_path, capsys
):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    (tmp_path / ".o.mp4.lock").symlink_to(victim)
    code, err = run_cli(capsys, *_render(song, tmp_path / "o.mp4", weights))
    assert code == 1 and "symbolic link" in err and err.count("\n") == 1
    assert victim.read_text() == "keep me\n"
    assert not (tmp_path / "o.mp4").exists()


def test_a_planted_batch_lock_link_is_refused(song, weights, tmp_path, capsys):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    outdir = tmp_path / "videos"
    outdir.mkdir()
    (outdir / ".batch.lock").symlink_to(victim)
    code, err = run_cli(
        capsys, "batch", song, "-o", outdir, "--weights", weights, "--fps", 5, "--quiet"
    )
    assert code == 1 and "symbolic link" in err
    assert victim.read_text() == "keep me\n"


@pytest.mark.parametrize("kind", ["symlink", "foreign", "file"])
def test_a_planted_work_folder_is_refused_and_never_followed(song, weights, tmp_path, capsys, kind):
    """The work folder is filled and removed: through a link (or in another user's folder) that
    would write into, or empty, a folder that is not the render's."""
    if kind == "foreign" and os.geteuid() != 0:
        pytest.skip("making a folder another user owns needs root")
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep me\n")
    (victim / "render.json").write_text("{}")  # looks like an interrupted render
    parts = tmp_path / ".o.mp4.parts"
    if kind == "symlink":
        parts.symlink_to(victim)
    elif kind == "foreign":
        parts.mkdir()
        (parts / "theirs.txt").write_text("theirs\n")
        os.chown(parts, 65534, 65534)
    else:
        parts.write_text("a file\n")
    code, err = run_cli(capsys, *_render(song, tmp_path / "o.mp4", weights, "--overwrite"))
    words = {"symlink": "a symbolic link", "foreign": "owned by another user", "file": "not a"}
    assert code == 1 and f"work folder {parts} is {words[kind]}" in err, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt", "render.json"]
    assert parts.is_symlink() or parts.exists()  # not the render's: left for the user
    if kind == "foreign":
        assert (parts / "theirs.txt").read_text() == "theirs\n"
    assert not (tmp_path / "o.mp4").exists()


def test_png_frames_replace_a_planted_link_and_never_write_through_it(
    song, weights, tmp_path, capsys
):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "frame_000000.png").symlink_to(victim)
    argv = _render(song, tmp_path / "o.mp4", weights, "--frames-dir", frames, "--overwrite")
    code, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert victim.read_text() == "keep me\n"
    first = frames / "frame_000000.png"
    assert not first.is_symlink() and first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(frames.glob("frame_*.png"))) == 10 and not list(frames.glob(".*"))


def test_a_planted_link_at_the_preset_copy_is_replaced_not_followed(
    song, weights, tmp_path, capsys
):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    (tmp_path / "o.preset.toml").symlink_to(victim)
    code, err = run_cli(capsys, *_render(song, tmp_path / "o.mp4", weights, "--overwrite"))
    assert code == 0, err
    assert victim.read_text() == "keep me\n"
    assert not (tmp_path / "o.preset.toml").is_symlink()


def test_a_preset_base_file_is_never_overwritten_by_the_preset_copy(
    song, weights, tmp_path, capsys
):
    base = tmp_path / "o.preset.toml"  # the name the render's preset copy would take
    base.write_text('description = "mine"\n')
    preset = tmp_path / "p.toml"
    preset.write_text('base = "o.preset.toml"\n')
    argv = _render(song, tmp_path / "o.mp4", weights, "--preset", preset, "--overwrite")
    code, err = run_cli(capsys, *argv)
    assert code == 1 and f"preset copy {base} is one of the inputs" in err, err
    assert base.read_text() == 'description = "mine"\n'


def test_a_pose_file_the_preset_reads_is_never_the_timeline_out(song, weights, tmp_path, capsys):
    from tests.render_fixtures import random_timeline
    from visualizer.mapping import timeline as timeline_io

    poses = timeline_io.save(random_timeline(4), tmp_path / "poses.npz")
    before = poses.read_bytes()
    argv = _render(song, tmp_path / "o.mp4", weights, "--timeline-out", poses, "--overwrite")
    argv = (*argv, "--set", f"poses.seeds=['{poses}@1', '{poses}@2']")
    code, err = run_cli(capsys, *argv)
    assert code == 1 and f"--timeline-out {poses} is one of the inputs" in err, err
    assert poses.read_bytes() == before


def _spawn_render(song, out, weights) -> subprocess.Popen:
    argv = [sys.executable, "-m", "visualizer", *map(str, _render(song, out, weights))]
    return subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_renders_of_one_output_the_second_fails_at_once(song, weights, tmp_path):
    out = tmp_path / "o.mp4"
    first = _spawn_render(song, out, weights)
    lock = tmp_path / ".o.mp4.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lock.exists(), first.communicate()
    started = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "visualizer", *map(str, _render(song, out, weights))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 1
    assert "being written by pid" in second.stderr and "Traceback" not in second.stderr
    assert time.monotonic() - started < 30  # refused at once, not after its own analysis
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    from tests.video_fixtures import probe

    assert probe(out)["frames"] == 10  # the first render's file, whole
    assert not lock.exists()


def test_a_relative_track_whose_name_holds_a_colon_renders(weights, tmp_path, monkeypatch, capsys):
    # ffmpeg would read "12:00.wav" as a protocol "12:"; paths are passed absolute
    write_wav(tmp_path / "12:00.wav", music_like(1.0, SR, seed=5), SR)
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, *_render("12:00.wav", "o.mp4", weights))
    assert code == 0, err
    from tests.video_fixtures import probe

    assert probe(tmp_path / "o.mp4")["audio_seconds"] is not None


def _batch_argv(tracks, outdir, weights) -> list[str]:
    return [
        sys.executable, "-m", "visualizer", "batch", str(tracks), "-o", str(outdir),
        "--weights", weights, "--fps", "5", "--segment-frames", "5", "-q",
    ]  # fmt: skip


def test_two_batches_on_one_folder_the_second_fails_at_once(weights, tmp_path):
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    for seed, name in enumerate(("a.wav", "b.wav")):
        write_wav(tracks / name, music_like(2.0, SR, seed=seed), SR)
    outdir = tmp_path / "out"
    argv = _batch_argv(tracks, outdir, weights)
    first = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lock, manifest = outdir / ".batch.lock", outdir / "manifest.json"
    deadline = time.monotonic() + 60
    while not manifest.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the first run has decided its tracks
    assert manifest.exists(), first.communicate()
    started = time.monotonic()
    second = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == 1
    assert f"being written by pid {first.pid}" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    entries = json.loads(manifest.read_text())["tracks"]
    assert {name: entry["status"] for name, entry in entries.items()} == {
        "a.mp4": "done",
        "b.mp4": "done",
    }  # the refused run recorded nothing
    assert not lock.exists()


def _kept(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"mine")
    return path


# Every command's outputs: (case, argv builder (tmp, song, weights) -> argv, the file that must
# stay as it was (tmp, song) -> path, words the error line holds). Each is refused before work.
OUTPUT_CASES = [
    (
        "analyze -o is the track",
        lambda t, s, w: ["analyze", s, "-o", s, "--overwrite"],
        lambda t, s: s,
        "is one of the inputs",
    ),
    (
        "analyze -o exists",
        lambda t, s, w: ["analyze", s, "-o", t / "f.npz"],
        lambda t, s: _kept(t, "f.npz"),
        "features file exists",
    ),
    (
        "analyze --plot is the track",
        lambda t, s, w: ["analyze", s, "-o", t / "f.npz", "--plot", s, "--overwrite"],
        lambda t, s: s,
        "is one of the inputs",
    ),
    (
        "analyze --plot is the features file",
        lambda t, s, w: ["analyze", s, "-o", t / "f.npz", "--plot", t / "f.npz", "--overwrite"],
        lambda t, s: _kept(t, "f.npz"),
        "is one of the inputs",
    ),
    (
        "analyze --plot exists",
        lambda t, s, w: ["analyze", s, "-o", t / "f.npz", "--plot", t / "p.png"],
        lambda t, s: _kept(t, "p.png"),
        "--plot exists",
    ),
    (
        "preview -o exists",
        lambda t, s, w: ["preview", s, "-o", t / "s.png", "--weights", w],
        lambda t, s: _kept(t, "s.png"),
        "storyboard exists",
    ),
    (
        "preview -o is the preset",
        lambda t, s, w: ["preview", s, "-o", t / "p.png", "--weights", w, "--preset", t / "p.png"],
        lambda t, s: _kept(t, "p.png"),
        "is one of the inputs",
    ),
    (
        "timeline -o exists",
        lambda t, s, w: ["timeline", s, "-o", t / "t.npz"],
        lambda t, s: _kept(t, "t.npz"),
        "timeline exists",
    ),
    (
        "timeline -o is the preset",
        lambda t, s, w: ["timeline", s, "-o", t / "t.npz", "--preset", t / "t.npz", "--overwrite"],
        lambda t, s: _kept(t, "t.npz"),
        "is one of the inputs",
    ),
    (
        "live --record exists",
        lambda t, s, w: ["live", "--audio", s, "--record", t / "r.mp4", "--weights", w],
        lambda t, s: _kept(t, "r.mp4"),
        "--record exists",
    ),
    (
        "live --record is the audio",
        lambda t, s, w: ["live", "--audio", t / "r.mp4", "--record", t / "r.mp4", "--overwrite"],
        lambda t, s: _kept(t, "r.mp4"),
        "is one of the inputs",
    ),
    (
        "bench --json exists (checked before the timing, not after it)",
        lambda t, s, w: ["bench", "--json", t / "b.json", "--frames", 1],
        lambda t, s: _kept(t, "b.json"),
        "--json exists",
    ),
    (
        "render --frames-dir holds the track",
        lambda t, s, w: [*_render(s, t / "o.mp4", w), "--frames-dir", t, "--overwrite"],
        lambda t, s: s,
        "holds or is one of the inputs",
    ),
]


@pytest.mark.parametrize("case, argv, kept, words", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_every_command_keeps_existing_files_and_inputs(
    case, argv, kept, words, song, weights, tmp_path
):
    protected = kept(tmp_path, song)
    before = protected.read_bytes()
    listing = sorted(tmp_path.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "visualizer", *map(str, argv(tmp_path, song, weights)), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,  # a live command that slipped past the check would serve until killed
    )
    assert done.returncode == 1, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert protected.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == listing  # nothing written beside it either


def test_a_kill_during_the_mux_leaves_temporaries_that_resume_removes(weights, tmp_path, capsys):
    song = write_wav(tmp_path / "song.wav", music_like(8.0, SR, seed=3), SR)
    out = tmp_path / "o.mp4"
    argv = [*_render(song, out, weights, "--segment-frames", 4)]
    argv[argv.index("--fps") + 1] = 2
    process = subprocess.Popen(
        [sys.executable, "-m", "visualizer", *map(str, argv)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its ffmpeg dies with it, as on a real kill of the group
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        names = os.listdir(tmp_path)
        if any(n.endswith(".concat.txt") for n in names) and any(".partial" in n for n in names):
            os.killpg(process.pid, signal.SIGKILL)  # the mux has started
            break
    process.wait()
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".o.mp4."))
    assert any(n.endswith(".partial") for n in left) and not out.exists(), left

    code, err = run_cli(capsys, *argv, "--resume")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "o.mp4", "o.preset.toml", "song.wav",
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", ["ogg", "opus"])
def test_a_truncated_ogg_renders_with_a_warning_naming_what_decoded(
    suffix, weights, tmp_path, capsys
):
    from tests.fixtures_audio import write_with_ffmpeg

    whole = write_with_ffmpeg(tmp_path / f"whole.{suffix}", music_like(6.0, 48000, seed=5), 48000)
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    code, err = run_cli(capsys, *_render(whole, tmp_path / "whole.mp4", weights))
    assert code == 0 and "truncated" not in err, err
    assert "--quiet" in _render(cut, tmp_path / "cut.mp4", weights)  # quiet keeps warnings
    code, err = run_cli(capsys, *_render(cut, tmp_path / "cut.mp4", weights))
    assert code == 0, err
    warning = [line for line in err.splitlines() if "is truncated" in line]
    assert len(warning) == 1 and f"cut.{suffix}" in warning[0], err
    seconds = float(warning[0].split("using the ")[1].split(" s")[0])
    assert 1.0 < seconds < 5.0  # about half of the 6 s, named
