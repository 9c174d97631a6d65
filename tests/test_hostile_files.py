"""Hostile and odd files around a render, a batch and a timeline: FIFOs and paths that are not
UTF-8 text as batch inputs, a disk that fills up, a timeline whose headers claim more memory than
there is, a track replaced before a resume, and a saved Timeline's place on its track.

Real files, real processes (a FIFO is a FIFO, a full disk is a file-size limit the kernel
enforces), the toy generator where the network does not matter."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_audio import music_like, write_wav
from tests.render_fixtures import ToyGenerator, random_timeline, run_cli
from tests.video_fixtures import probe
from visualizer import pipeline
from visualizer.errors import Cancelled
from visualizer.mapping import timeline as timeline_io
from visualizer.model.inference import wrap
from visualizer.pipeline.options import RenderOptions
from visualizer.pipeline.workdir import ResumeMismatch

SR = 22050
ROOT = Path(__file__).resolve().parents[1]
FPS = Fraction(12)


@pytest.fixture
def song(tmp_path):
    return write_wav(tmp_path / "song.wav", music_like(2.0, SR, seed=3), SR)


def _visualizer(
    *argv, limit: int | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """``python -m visualizer ARGV`` in a child process; ``limit``: its file-size limit in bytes
    (RLIMIT_FSIZE, with SIGXFSZ ignored so a write past it fails with EFBIG as on a full disk)."""

    def limited() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "visualizer", *map(str, argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # a FIFO read would otherwise wait for ever
        preexec_fn=limited if limit else None,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def _one_error_line(done: subprocess.CompletedProcess, words: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and words in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: "), done.stderr


# ---------------------------------------------------------------------- batch inputs


@pytest.mark.parametrize("where", ["playlist", "album", "input"])
def test_a_fifo_as_a_batch_input_is_refused_at_once(where, song, tmp_path):
    fifo = tmp_path / {"playlist": "list.m3u", "album": "album.toml", "input": "track.wav"}[where]
    os.mkfifo(fifo)
    argv = ["batch", song if where == "album" else fifo, "-o", tmp_path / "out", "-q"]
    if where == "album":
        argv += ["--album", fifo]
    done = _visualizer(*argv, "--weights", "random")
    _one_error_line(done, "is not a regular file")
    assert not (tmp_path / "out").exists()


def test_a_batch_folder_holding_a_name_that_is_not_utf8_is_refused_before_any_work(song, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    (album / "a.wav").write_bytes(song.read_bytes())
    Path(os.fsdecode(os.fsencode(album) + b"/b\xe9.wav")).write_bytes(song.read_bytes())
    done = _visualizer("batch", album, "-o", tmp_path / "out", "--weights", "random", "-q")
    _one_error_line(done, "b\\xe9.wav holds bytes that are not UTF-8")
    assert not (tmp_path / "out").exists()


def test_an_album_number_over_4300_digits_is_one_line(song, tmp_path):
    album = tmp_path / "album.toml"
    album.write_text("[tracks.song]\nseed = " + "7" * 5000 + "\n")
    done = _visualizer("batch", song, "-o", tmp_path / "out", "--album", album, "-q")
    _one_error_line(done, f"album file {album} is not valid TOML")


def test_a_working_folder_that_is_not_utf8_is_refused_before_any_work(song, tmp_path, capsys):
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/w\xff"))
    folder.mkdir()
    os.chdir(folder)
    try:
        code, err = run_cli(capsys, "render", song, "-o", "o.mp4", "--weights", "random", "-q")
    finally:
        os.chdir(ROOT)
    assert code == 1 and "w\\xff/o.mp4 holds bytes that are not UTF-8" in err, err
    assert os.listdir(folder) == []  # no work folder: refused before the render, not at the mux


# ---------------------------------------------------------------------- a full disk


def test_a_full_disk_while_writing_a_timeline_is_one_line_and_leaves_nothing(song, tmp_path):
    out = tmp_path / "t.npz"  # 240 frames: 1.1 MB, over the 512 KB the process may write
    done = _visualizer("timeline", song, "-o", out, "--fps", 120, "-q", limit=512 << 10)
    _one_error_line(done, f"cannot write {out}: file too large")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


WRITERS = """
import sys
from pathlib import Path
from visualizer.batch.manifest import Manifest
from visualizer.errors import OutputError
from visualizer.files import write_text_atomic

folder = Path(sys.argv[1])
writers = {
    "preset record": lambda: write_text_atomic(folder / "o.preset.toml", "x" * 10_000),
    "manifest": lambda: Manifest(folder / "manifest.json").update("a.mp4", error="x" * 10_000),
}
for name, write in writers.items():
    try:
        write()
        print(name, "written")
    except OutputError as error:
        print(name, "error:", error)
"""


def test_a_full_disk_while_writing_the_preset_record_or_manifest_is_one_error(tmp_path):
    import resource

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    done = subprocess.run(
        [sys.executable, "-c", WRITERS, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limited,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split(" error: ")[0] for line in lines] == ["preset record", "manifest"], lines
    assert all("cannot write" in line and "file too large" in line for line in lines), lines
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temporary


# ---------------------------------------------------------------------- a timeline's claims


def _forged_timeline(path: Path, frames: int) -> Path:
    """A 50 KB .npz whose array headers claim ``frames`` frames, and whose zip directory backs
    the claim (a deflated member may say it expands to anything): what a zip bomb looks like."""
    small = {
        "fps_num": np.int64(12), "fps_den": np.int64(1), "seed": np.int64(0),
        "preset": np.str_(""),
    }  # fmt: skip
    members = []
    for name, value in small.items():
        data = _npy(value)
        members.append((f"{name}.npy", 0, data, zlib.crc32(data), len(data)))
    for name, shape in (("class_vectors", (frames, 1000)), ("noise", (frames, 128))):
        members.append(_claiming(name, shape))
    members.append(_claiming("truncation", (frames,)))
    _write_zip(path, members)
    return path


def _npy(value) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, value)
    return buffer.getvalue()


def _claiming(name: str, shape: tuple) -> tuple:
    """A deflated member holding only an array header that claims ``shape`` (float32), its zip
    entry claiming the uncompressed size such an array would have."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    header = buffer.getvalue()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    # The header and the first 16 MB of zeros: the zip reader checks the CRC (which cannot
    # match) only on reaching the end of what is stored, after the header has been read.
    data = compressor.compress(header + bytes(16 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return f"{name}.npy", 8, data, 0, len(header) + int(np.prod(shape)) * 4


def _write_zip(path: Path, members: list[tuple]) -> None:
    """A zip of (name, method, stored bytes, crc, uncompressed size) members, as written."""
    body, directory = bytearray(), bytearray()
    for name, method, data, crc, size in members:
        encoded, offset = name.encode(), len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data),
                            size, len(encoded), 0) + encoded + data  # fmt: skip
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0,
                                 crc, len(data), size, len(encoded), 0, 0, 0, 0, 0,
                                 offset) + encoded  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory),
                      len(body), 0)  # fmt: skip
    path.write_bytes(bytes(body + directory + end))


LOAD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from visualizer.errors import TimelineError
from visualizer.mapping.timeline import load
try:
    load(sys.argv[1])
except TimelineError as error:
    print("error:", error)
"""


def test_a_small_timeline_claiming_more_memory_than_there_is_is_refused_unread(tmp_path):
    """300,000 frames need 1.35 GB; the process may have 2 GB: refused from the headers, before
    numpy allocates what they claim."""
    path = _forged_timeline(tmp_path / "bomb.npz", 300_000)
    assert path.stat().st_size < 100_000
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(path)], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env=env,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert "300,000 frames need 1.3 GiB of memory, more than half" in done.stdout, done.stdout


# ---------------------------------------------------------------------- resume and the track


def _interrupted(track: Path, out: Path, saved: Path) -> RenderOptions:
    options = RenderOptions(timeline=saved, device="cpu", segment_frames=8)

    def stop(event):
        if event.stage == "render" and event.done >= 8:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        pipeline.render_track(track, out, options, generator=wrap(ToyGenerator()), progress=stop)
    return options


def test_resume_refuses_a_replaced_track_of_the_same_size(tmp_path):
    track = write_wav(tmp_path / "song.wav", music_like(2.5, SR, seed=1), SR)
    saved = timeline_io.save(random_timeline(30, FPS, seed=3), tmp_path / "t.npz")
    out = tmp_path / "out.mp4"
    options = _interrupted(track, out, saved)
    size = track.stat().st_size
    write_wav(track, music_like(2.5, SR, seed=2), SR)  # another mix, byte for byte as long
    assert track.stat().st_size == size
    resume = RenderOptions(**{**options.__dict__, "resume": True})
    with pytest.raises(ResumeMismatch, match="the track's content is not the interrupted"):
        pipeline.render_track(track, out, resume, generator=wrap(ToyGenerator()))
    assert not out.exists()


# ---------------------------------------------------------------------- a Timeline's place


def test_a_saved_excerpt_keeps_its_place_and_its_sound_is_cut_to_its_frames(tmp_path):
    """A 3-second Timeline of an 8-second track, from 2 s: rendered alone it muxes those 3 s
    (it muxed the whole track before, the picture frozen for 5 s)."""
    track = write_wav(tmp_path / "song.wav", music_like(8.0, SR, seed=1), SR)
    saved = tmp_path / "t.npz"
    options = RenderOptions(fps=FPS, start=2.0, duration=3.0, device="cpu")
    written = pipeline.write_timeline(track, saved, options)
    assert (written.start, written.audio_seconds, written.n_frames) == (2.0, 3.0, 36)
    loaded = timeline_io.load(saved)
    assert (loaded.start, loaded.audio_seconds) == (2.0, 3.0)

    render = RenderOptions(timeline=saved, device="cpu", segment_frames=16)
    plan = pipeline.plan_render(track, tmp_path / "plan.mp4", render)
    assert (plan.audio_start, plan.audio_duration) == (2.0, 3.0)
    out = tmp_path / "out.mp4"
    pipeline.render_track(track, out, render, generator=wrap(ToyGenerator()))
    info = probe(out)
    assert info["video_seconds"] == pytest.approx(3.0, abs=1 / 12)
    assert abs(info["video_seconds"] - info["audio_seconds"]) < 1 / 12, info


def test_a_timeline_saved_before_its_place_was_stored_loads_with_its_frames_sound(tmp_path):
    track = write_wav(tmp_path / "song.wav", music_like(8.0, SR, seed=1), SR)
    t = random_timeline(36, FPS)
    old = tmp_path / "old.npz"
    np.savez(
        old, class_vectors=t.class_vectors, noise=t.noise, truncation=t.truncation,
        fps_num=np.int64(12), fps_den=np.int64(1), seed=np.int64(0), preset=np.str_(""),
    )  # fmt: skip
    loaded = timeline_io.load(old)
    assert (loaded.start, loaded.audio_seconds, loaded.sound_seconds) == (0.0, None, 3.0)
    plan = pipeline.plan_render(track, tmp_path / "o.mp4", RenderOptions(timeline=old))
    assert (plan.audio_start, plan.audio_duration) == (0.0, 3.0)


def test_preview_help_promises_no_draft_video_it_cannot_make():
    for argv in (["--help"], ["preview", "--help"]):
        shown = _visualizer(*argv).stdout
        assert "render --draft" in shown and "or a fast draft video" not in shown, shown


def test_the_batch_table_shows_an_escape_in_a_name_and_never_sends_it():
    from visualizer.commands.batch import summary_table

    rows = [{"index": 1, "name": "a\x1b[2J.mp4", "status": "failed", "error": "b\x07\x1b]0;x"}]
    table = summary_table(rows)
    assert "\x1b" not in table and "\x07" not in table
    assert "a\\x1b[2J.mp4" in table and "b\\x07\\x1b]0;x" in table


def test_a_batch_track_whose_outputs_are_refused_fails_before_the_generator_loads(song, tmp_path):
    """Its outputs are checked when the album is decided: the generator (here junk weights,
    which fail as they load) is not loaded for a track that cannot be written."""
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "song.preset.toml").write_text("# mine\n")  # not the batch's: kept
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\0" * 16)
    done = _visualizer("batch", song, "-o", outdir, "--weights", junk, "-q")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "preset copy exists" in done.stderr and "checkpoint" not in done.stderr, done.stderr
    assert (outdir / "song.preset.toml").read_text() == "# mine\n"
