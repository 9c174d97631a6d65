"""The bad-input table: one row per class of hostile or careless input. Each must end in one
`error:` line naming the problem (exit status 1, or 2 for a bad command line), with no traceback
and nothing written: no output, no work folder, no input changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import checkpoint_config, write_checkpoint
from tests.render_fixtures import random_timeline, run_cli
from visualizer.mapping import timeline as timeline_io

SR = 22050
DEEP = "[" * 3000 + "]" * 3000
DEEP_TABLE = "{a=" * 3000 + "1" + "}" * 3000


def _base_loop(folder: Path) -> Path:
    """A preset whose base is itself, spelled through a sub-folder and '..'."""
    (folder / "sub").mkdir()
    return _file(folder / "loop.toml", 'base = "sub/../loop.toml"\n')


def _weights_with_config(folder: Path, **config) -> Path:
    write_checkpoint(folder, channel_width=8)
    data = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**data, **config}))
    return folder


def _bad_weights(folder: Path, form: str, change: str) -> Path:
    """A tiny checkpoint whose first tensor is spoiled (``change``: nan, int or bool), as a
    weights folder (``bin``), a lone ``.pt`` or a folded ``.safetensors`` file."""
    import torch
    from safetensors.torch import save_file

    from visualizer.model.network import BigGANDeep, load_state_dict_published
    from visualizer.model.random_weights import random_state_dict

    config = checkpoint_config(channel_width=8)
    state = random_state_dict(config, 0)
    if form == "folded":
        model = load_state_dict_published(BigGANDeep(config), state, "random")
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
    key = next(iter(state))
    spoiled = {"nan": state[key].clone().fill_(float("nan")), "int": state[key].to(torch.int32)}
    state[key] = spoiled.get(change, state[key] != 0)
    folder.mkdir()
    if form == "folded":
        metadata = {"config": json.dumps(config.to_dict())}
        save_file(state, folder / "w.safetensors", metadata=metadata)
        return folder / "w.safetensors"
    if form == "pt":
        torch.save(state, folder / "w.pt")
        return folder / "w.pt"
    write_checkpoint(folder, channel_width=8)
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def _junk_under_the_largest_config(folder: Path) -> Path:
    """16 junk bytes under the largest config the bounds accept (5.7 G parameters): the file is
    read before any model is built, so this fails in seconds, not after allocating 23 GB."""
    up = [[True, 32, 32]] * 8 + [[False, 32, 32]] * 18
    down = [[False, 32, 16], [False, 16, 8], [False, 8, 4], [False, 4, 2], [False, 2, 1]]
    config = dict(
        output_dim=1024, z_dim=1024, class_embed_dim=1024, channel_width=256, num_classes=10_000,
        layers=up + down, attention_layer_position=8, eps=1e-4, n_stats=1024,
    )  # fmt: skip
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "pytorch_model.bin").write_bytes(b"\0" * 16)
    return folder


def _deep_config(folder: Path) -> Path:
    write_checkpoint(folder, channel_width=8)
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    return folder


def _timeline_with(path: Path, **changes) -> Path:
    t = random_timeline(12)
    arrays = dict(
        class_vectors=t.class_vectors, noise=t.noise, truncation=t.truncation,
        fps_num=np.int64(12), fps_den=np.int64(1), seed=np.int64(0), preset=np.str_(""),
    )  # fmt: skip
    np.savez(path, **{**arrays, **changes})
    return path


def _timeline_claiming(path: Path, key: str, shape: tuple, dtype: str = "<f4") -> Path:
    """A small timeline whose ``key`` member's header claims ``shape`` (its data: 64 bytes)."""
    import io
    import zipfile

    _timeline_with(path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[f"{key}.npy"] = header.getvalue() + b"\0" * 64
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _not_utf8(folder: Path, name: bytes, data: bytes | None = None) -> Path:
    """``folder``/``name`` with bytes in its name that are not UTF-8 (as Linux hands them to
    Python: lone surrogates), written with ``data`` when given."""
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
    if data is not None:
        path.write_bytes(data)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _loop(folder: Path) -> Path:
    """A folder name that is a link to itself: every path through it loops."""
    (folder / "loop").symlink_to("loop")
    return folder / "loop"


def _corrupt_member(path: Path) -> Path:
    """A timeline whose class vectors have one byte changed: the member's CRC no longer matches
    (np.savez stores members, so the byte lies in the data as written)."""
    _timeline_with(path)
    data = bytearray(path.read_bytes())
    data[data.index(b"class_vectors.npy") + 2000] ^= 0xFF  # past the headers, inside the data
    path.write_bytes(bytes(data))
    return path


# (case class, extra argv builder (tmp, song) -> list, exit status, words the error line holds)
CASES = [
    ("preset nan in a list", lambda t, s: ["--set", "keyframes.times=[nan]"], 1, "finite"),
    ("preset inf in a list", lambda t, s: ["--set", "poses.times=[1.0, inf]"], 1, "finite"),
    ("preset inf value", lambda t, s: ["--set", "truncation.max=inf"], 1, "out of range"),
    ("preset nan value", lambda t, s: ["--set", "truncation.max=nan"], 1, "out of range"),
    ("preset deep --set", lambda t, s: ["--set", f"classes.names={DEEP}"], 1, "classes.names"),
    ("preset deep --set number", lambda t, s: ["--set", f"walk.speed={DEEP}"], 1, "walk.speed"),
    ("preset deep --set list", lambda t, s: ["--set", f"keyframes.times={DEEP}"], 1, "keyframes"),
    ("preset deep --set table", lambda t, s: ["--set", "walk=" + DEEP_TABLE], 1, "walk"),
    (
        "preset base loop through ..",
        lambda t, s: ["--preset", _base_loop(t)],
        1,
        "'base' loop",
    ),  # fmt: skip
    (
        "preset base name over a file name",
        lambda t, s: ["--preset", _file(t / "l.toml", f'base = "{"x" * 300}"')],
        1,
        "unknown preset",
    ),  # fmt: skip
    (
        "preset base name over a path",
        lambda t, s: ["--preset", _file(t / "l.toml", f'base = "{"x" * 10_000}"')],
        1,
        "too long",
    ),  # fmt: skip
    ("preset file deep", lambda t, s: ["--preset", _file(t / "d.toml", f"x = {DEEP}")], 1, "TOML"),
    (
        "preset file nan",
        lambda t, s: ["--preset", _file(t / "n.toml", "[truncation]\nmax = nan\n")],
        1,
        "out of range",
    ),  # fmt: skip
    ("duration under half a frame", lambda t, s: ["--duration", "1e-9"], 1, "too short"),
    ("fps tiny", lambda t, s: ["--fps", "1e-300"], 2, "invalid fps"),
    ("fps huge fraction", lambda t, s: ["--fps", "3/" + "1" + "0" * 30], 2, "invalid fps"),
    ("fps below 1", lambda t, s: ["--fps", "0.0001"], 2, "invalid fps"),
    ("fps above 240", lambda t, s: ["--fps", "1e9"], 2, "invalid fps"),
    ("fps absurd text", lambda t, s: ["--fps", "1e999999999"], 2, "invalid fps"),
    ("timeline not a zip", lambda t, s: ["--timeline", s], 1, "not a zip"),
    (
        "timeline fps 1e9",
        lambda t, s: ["--timeline", _timeline_with(t / "f.npz", fps_num=np.int64(10**9))],
        1,
        "out of range",
    ),  # fmt: skip
    (
        "timeline fps 1e-12",
        lambda t, s: ["--timeline", _timeline_with(t / "g.npz", fps_den=np.int64(10**12))],
        1,
        "has terms over",
    ),  # fmt: skip
    (
        "timeline preset not TOML",
        lambda t, s: [
            "--timeline",
            _timeline_with(t / "p.npz", preset=np.str_("this is = = not toml")),
        ],
        1,
        "not TOML",
    ),  # fmt: skip
    (
        "timeline header claims a billion frames",
        lambda t, s: [
            "--timeline",
            _timeline_claiming(t / "h.npz", "class_vectors", (10**9, 1000)),
        ],
        1,
        "shorter than its shape",
    ),  # fmt: skip
    (
        "timeline header of another dtype",
        lambda t, s: ["--timeline", _timeline_claiming(t / "d.npz", "truncation", (12,), "<i8")],
        1,
        "must be float32",
    ),  # fmt: skip
    (
        "timeline headers of mismatched shapes",
        lambda t, s: ["--timeline", _timeline_claiming(t / "m.npz", "truncation", (2,))],
        1,
        "must have shape",
    ),  # fmt: skip
    ("timeline-out is the track", lambda t, s: ["--timeline-out", s, "--overwrite"], 1, "inputs"),
    (
        "timeline with a corrupt member",
        lambda t, s: ["--timeline", _corrupt_member(t / "c.npz")],
        1,
        "corrupt timeline",
    ),  # fmt: skip
    (
        "timeline with no frames (before the model loads)",
        lambda t, s: ["--timeline", timeline_io.save(random_timeline(0), t / "z.npz")],
        1,
        "holds no frames",
    ),  # fmt: skip
    ("timeline is a FIFO", lambda t, s: ["--timeline", _fifo(t / "f.npz")], 1, "not a regular"),
    (
        "--set value not UTF-8 (copied into the preset record)",
        lambda t, s: ["--set", os.fsdecode(b"description=caf\xe9")],
        1,
        "caf\\xe9: it holds bytes",
    ),  # fmt: skip
    (
        "--set number over 4,300 digits",
        lambda t, s: ["--set", "walk.speed=" + "1" * 5000],
        1,
        "walk.speed",
    ),  # fmt: skip
    (
        "preset file number over 4,300 digits",
        lambda t, s: ["--preset", _file(t / "n.toml", "seed = " + "1" * 5000)],
        1,
        "not valid TOML",
    ),  # fmt: skip
    ("preset file is a FIFO", lambda t, s: ["--preset", _fifo(t / "p.toml")], 1, "not a regular"),
    ("preset file is a device", lambda t, s: ["--preset", "/dev/zero"], 1, "not a regular file"),
    (
        "preset file of 1.2 MB",
        lambda t, s: ["--preset", _file(t / "big.toml", "# x\n" * 300_000)],
        1,
        "more than a preset file holds",
    ),  # fmt: skip
    (
        "preset description of 100,000 characters (copied beside the video)",
        lambda t, s: ["--preset", _file(t / "d.toml", f'description = "{"x" * 100_000}"')],
        1,
        "at most 500",
    ),  # fmt: skip
    (
        "preset path not UTF-8",
        lambda t, s: ["--preset", _not_utf8(t, b"p\xff.toml", b"seed = 1\n")],
        1,
        "p\\xff.toml holds bytes that are not UTF-8",
    ),  # fmt: skip
    (
        "preset name with an escape sequence",
        lambda t, s: ["--preset", "x\x1b[2J"],
        1,
        "unknown preset 'x\\x1b[2J'",
    ),  # fmt: skip
    ("weights are a FIFO", lambda t, s: ["--weights", _fifo(t / "w.pt")], 1, "not a regular"),
    (
        "weights path not UTF-8",
        lambda t, s: ["--weights", _not_utf8(t, b"w\xff", b"x")],
        1,
        "not UTF-8",
    ),  # fmt: skip
    (
        "--frames-dir in the render's work folder (removed at the end)",
        lambda t, s: ["--frames-dir", t / "out" / ".o.mp4.parts" / "png"],
        1,
        "work folder",
    ),  # fmt: skip
    (
        "--frames-dir not UTF-8",
        lambda t, s: ["--frames-dir", _not_utf8(t, b"f\xff")],
        1,
        "not UTF-8",
    ),  # fmt: skip
    (
        "--timeline-out not UTF-8",
        lambda t, s: ["--timeline-out", _not_utf8(t, b"t\xff.npz")],
        1,
        "not UTF-8",
    ),  # fmt: skip
    (
        "weights config absurd",
        lambda t, s: ["--weights", _weights_with_config(t / "w", channel_width=1024)],
        1,
        "beyond any",
    ),  # fmt: skip
    ("weights config deep", lambda t, s: ["--weights", _deep_config(t / "w")], 1, "config"),
    (
        "weights junk under the largest config",
        lambda t, s: ["--weights", _junk_under_the_largest_config(t / "w")],
        1,
        "not a PyTorch checkpoint",
    ),  # fmt: skip
    *[
        (
            f"weights {change} in {form}",
            lambda t, s, form=form, change=change: [
                "--weights",
                _bad_weights(t / "w", form, change),
            ],
            1,
            words,
        )
        for form in ("bin", "pt", "folded")
        for change, words in (("nan", "non-finite"), ("int", "not floating"), ("bool", "not floa"))
    ],
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small checkpoint: a case that slips past the checks costs seconds, not minutes."""
    return str(write_checkpoint(tmp_path_factory.mktemp("weights"), channel_width=8))


@pytest.fixture
def song(tmp_path):
    return write_wav(tmp_path / "song.wav", music_like(1.0, SR, seed=4), SR)


def _assert_one_error_line(code, err, status, words):
    assert code == status, err
    assert "Traceback" not in err and words in err, err
    assert "\x1b" not in err  # an escape sequence in a name is shown, never sent to the terminal
    assert "error:" in err.strip().splitlines()[-1]
    assert len(err.strip().splitlines()[-1]) < 1100  # a hostile value is cut, not echoed whole


@pytest.mark.parametrize("case, extra, status, words", CASES, ids=[c[0] for c in CASES])
def test_bad_render_input(case, extra, status, words, song, tiny, tmp_path, capsys):
    before = song.read_bytes()
    out = tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    argv = ["render", song, "-o", out, "--weights", tiny, "--quiet", *extra(tmp_path, song)]
    code, err = run_cli(capsys, *argv)
    _assert_one_error_line(code, err, status, words)
    assert list(out.parent.iterdir()) == []  # no output, no work folder, no lock file
    assert song.read_bytes() == before


# (case class, track builder (tmp, song) -> track, output builder (tmp, song) -> output, words)
PATH_CASES = [
    ("track is a folder", lambda t, s: t, lambda t, s: t / "o.mp4", "not a regular"),
    (
        "track is a device",
        lambda t, s: Path("/dev/zero"),
        lambda t, s: t / "o.mp4",
        "not a regular",
    ),
    ("track is missing", lambda t, s: t / "nope.wav", lambda t, s: t / "o.mp4", "not found"),
    ("output parent is a file", lambda t, s: s, lambda t, s: s / "x.mp4", "is a file"),
    ("output folder missing", lambda t, s: s, lambda t, s: t / "no" / "x.mp4", "does not exist"),
    ("output folder read-only", lambda t, s: s, lambda t, s: Path("/proc/x.mp4"), "not writable"),
    ("output name too long", lambda t, s: s, lambda t, s: t / ("a" * 250 + ".mp4"), "too long"),
    ("output is the track", lambda t, s: s, lambda t, s: s.with_suffix(".mp4"), "inputs"),
    (
        "track path not UTF-8",
        lambda t, s: _not_utf8(t, b"s\xff.wav", s.read_bytes()),
        lambda t, s: t / "o.mp4",
        "s\\xff.wav holds bytes that are not UTF-8",
    ),
    ("output path not UTF-8", lambda t, s: s, lambda t, s: _not_utf8(t, b"o\xff.mp4"), "UTF-8"),
    (
        "output folder not UTF-8 (the mux would fail after the whole render)",
        lambda t, s: s,
        lambda t, s: _folder(_not_utf8(t, b"d\xff")) / "o.mp4",
        "not UTF-8",
    ),
    (
        "output name holds a newline (the mux would fail after the whole render)",
        lambda t, s: s,
        lambda t, s: t / "n\nl.mp4",
        "control character",
    ),
    ("output name holds an escape", lambda t, s: s, lambda t, s: t / "e\x1b[2J.mp4", "control"),
    ("output folder is a loop of links", lambda t, s: s, lambda t, s: _loop(t) / "o.mp4", "loop"),
]


@pytest.mark.parametrize("case, track, output, words", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_bad_paths(case, track, output, words, song, tiny, tmp_path, capsys):
    if case == "output is the track":  # a video-named input: the same file, not merely a name
        song = song.rename(song.with_suffix(".mp4"))
    argv = ["render", track(tmp_path, song), "-o", output(tmp_path, song), "--weights", tiny]
    listing = sorted(tmp_path.iterdir())
    code, err = run_cli(capsys, *[*argv, "--quiet", "--overwrite"])
    _assert_one_error_line(code, err, 1, words)
    assert sorted(tmp_path.iterdir()) == listing


def test_a_hand_edited_manifest_is_refused_in_one_line(song, tiny, tmp_path, capsys):
    parts = tmp_path / ".o.mp4.parts"
    parts.mkdir()
    (parts / "render.json").write_text("[1, 2]")
    argv = ["render", song, "-o", tmp_path / "o.mp4", "--weights", tiny, "--quiet", "--resume"]
    code, err = run_cli(capsys, *argv)
    _assert_one_error_line(code, err, 1, "not a render manifest")


def test_timeline_load_names_a_bad_preset(tmp_path):
    from visualizer.errors import TimelineError

    with pytest.raises(TimelineError, match="not TOML"):
        timeline_io.load(_timeline_with(tmp_path / "t.npz", preset=np.str_("[[[")))


# A hand-edited batch manifest: (case, the entry of song.mp4, words the error line holds)
GOOD_ENTRY = {"index": 1, "status": "done", "attempts": 1, "frames": 12, "wall_seconds": 1.5}
MANIFEST_CASES = [
    ("entry not a table", [1, 2], "is not a table"),
    ("attempts text", {**GOOD_ENTRY, "attempts": "x"}, ".attempts"),
    ("attempts list", {**GOOD_ENTRY, "attempts": [1]}, ".attempts"),
    ("attempts negative", {**GOOD_ENTRY, "attempts": -3}, ".attempts"),
    ("frames bool", {**GOOD_ENTRY, "frames": True}, ".frames"),
    ("status unknown", {**GOOD_ENTRY, "status": "finished"}, "pending, running, done, failed"),
    ("status null", {**GOOD_ENTRY, "status": None}, ".status"),
    ("last_run number", {**GOOD_ENTRY, "last_run": 3}, ".last_run"),
    ("source table", {**GOOD_ENTRY, "source": {"a": 1}}, ".source"),
    ("source_size float", {**GOOD_ENTRY, "source_size": 1.5}, ".source_size"),
    ("wall_seconds infinite", {**GOOD_ENTRY, "wall_seconds": 1e400}, ".wall_seconds"),
    ("settings_hash number", {**GOOD_ENTRY, "settings_hash": 7}, ".settings_hash"),
]


@pytest.mark.parametrize("case, entry, words", MANIFEST_CASES, ids=[c[0] for c in MANIFEST_CASES])
def test_a_hand_edited_batch_manifest_is_one_error_line(
    case, entry, words, song, tiny, tmp_path, capsys
):
    outdir = tmp_path / "videos"
    outdir.mkdir()
    manifest = outdir / "manifest.json"
    manifest.write_text(json.dumps({"format": 1, "tracks": {"song.mp4": entry}}))
    before = manifest.read_bytes()
    code, err = run_cli(capsys, *["batch", song, "-o", outdir, "--weights", tiny, "-q"])
    _assert_one_error_line(code, err, 1, words)
    assert "batch manifest" in err and "song.mp4" in err
    assert manifest.read_bytes() == before
    assert sorted(p.name for p in outdir.iterdir()) == ["manifest.json"]


@pytest.mark.parametrize("where", ["argument", "playlist"])
def test_a_url_batch_input_is_shown_as_typed_and_refused(where, tiny, tmp_path, capsys):
    url = "http://example.com/a.mp3"
    inputs = url
    if where == "playlist":
        inputs = _file(tmp_path / "list.m3u", f"#EXTM3U\n{url}\n")
    outdir = tmp_path / "videos"
    code, err = run_cli(capsys, *["batch", inputs, "-o", outdir, "--weights", tiny, "-q"])
    _assert_one_error_line(code, err, 1, f"{url}: URLs are not supported; download the file first")
    assert not outdir.exists()


@pytest.mark.parametrize("command", ["render", "analyze", "timeline", "preview", "live"])
def test_a_url_track_is_shown_as_typed_and_refused(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "https://example.com/a b.mp3"
    output = tmp_path / "x.out"
    argv = [command, "--audio", url] if command == "live" else [command, url, "-o", output]
    code, err = run_cli(capsys, *argv)
    _assert_one_error_line(code, err, 2, f"{url}: URLs are not supported; download the file first")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["analyze", "timeline", "preview"])
def test_a_window_under_half_a_frame_is_too_short_everywhere(command, song, tiny, tmp_path, capsys):
    out = tmp_path / ("x.png" if command == "preview" else "x.npz")
    extra = ["--weights", tiny] if command == "preview" else []
    code, err = run_cli(capsys, *[command, song, "-o", out, "--duration", "1e-9", "-q", *extra])
    _assert_one_error_line(code, err, 1, "a window of 1e-09 s is too short")
    assert not out.exists()
