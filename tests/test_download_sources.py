"""Downloads from several sources, and downloads that several processes start at once, against
real HTTP servers on 127.0.0.1: a source that refuses connections, one that answers 404, one
that serves a truncated file or drops the connection, and two real `visualizer models download`
processes racing for one model."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.fixtures_biggan import WeightsServer, write_checkpoint
from visualizer import downloads
from visualizer.cli import main
from visualizer.content import cache_dir
from visualizer.errors import DownloadError, WeightsError
from visualizer.model import registry
from visualizer.model.loading import download, load_network
from visualizer.model.registry import ModelInfo

WEIGHTS, CONFIG = "biggan-deep-128-pytorch_model.bin", "biggan-deep-128-config.json"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = write_checkpoint(tmp_path_factory.mktemp("tiny"), channel_width=8, seed=3)
    return {
        WEIGHTS: (folder / "pytorch_model.bin").read_bytes(),
        CONFIG: (folder / "config.json").read_bytes(),
    }


@pytest.fixture
def no_builtin_sources(monkeypatch):
    """The 128 model with no published checksum and no built-in source: only the mirrors."""
    monkeypatch.setitem(
        registry.DOWNLOADS, "biggan-deep-128", ModelInfo("biggan-deep-128", 0, None)
    )


def _refusing_url() -> str:
    """A loopback URL whose port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/biggan/"


def _leftovers() -> list[str]:
    """Staging folders and partial files left in the model's cache folder."""
    folder = cache_dir() / "biggan-deep-128"
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".") or ".partial" in p.name
    )


def test_first_source_refusing_second_serving(files, no_builtin_sources, monkeypatch):
    with WeightsServer(dict(files)) as good:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", f"{_refusing_url()}, {good.url}")
        folder = download("biggan-deep-128")
    assert (folder / "pytorch_model.bin").read_bytes() == files[WEIGHTS]
    assert (folder / "config.json").read_bytes() == files[CONFIG]
    assert _leftovers() == []


def test_truncated_file_from_one_source_is_deleted_and_the_next_serves(
    files, no_builtin_sources, monkeypatch
):
    short = {WEIGHTS: files[WEIGHTS][: len(files[WEIGHTS]) // 3], CONFIG: files[CONFIG]}
    with WeightsServer(short) as bad, WeightsServer(dict(files)) as good:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", f"{bad.url},{good.url}")
        folder = download("biggan-deep-128")
        # The short file arrived whole (its length matched) but did not load: it was deleted,
        # so the next source sent the file from its first byte.
        assert good.requests[0] == (WEIGHTS, None)
    assert (folder / "pytorch_model.bin").read_bytes() == files[WEIGHTS]
    assert _leftovers() == []


def test_transfer_cut_off_is_resumed_from_the_next_source(files, no_builtin_sources, monkeypatch):
    with WeightsServer(dict(files)) as first, WeightsServer(dict(files)) as second:
        first.cut.add(WEIGHTS)
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", f"{first.url},{second.url}")
        folder = download("biggan-deep-128")
        name, byte_range = second.requests[0]
    assert name == WEIGHTS and byte_range == f"bytes={len(files[WEIGHTS]) // 2}-"
    assert (folder / "pytorch_model.bin").read_bytes() == files[WEIGHTS]


def test_all_sources_failing_one_line_naming_each(files, no_builtin_sources, monkeypatch, capsys):
    refusing = _refusing_url()
    junk = {WEIGHTS: b"\0" * 5000, CONFIG: files[CONFIG]}
    with WeightsServer({}) as missing, WeightsServer(junk) as zeros:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", f"{refusing},{missing.url},{zeros.url}")
        with pytest.raises(DownloadError) as info:
            download("biggan-deep-128")
        message = str(info.value)
        assert "\n" not in message and message.startswith("could not download biggan-deep-128: ")
        assert f"{refusing}{WEIGHTS}: " in message and "refused" in message
        assert f"{missing.url}{WEIGHTS}: HTTP 404" in message
        assert f"{zeros.url}{WEIGHTS}: the download does not load" in message
        for advice in ("--weights PATH", "VISUALIZER_WEIGHTS_URL", "--weights random"):
            assert advice in message
        assert registry.cached_model_dir("biggan-deep-128") is None
        assert _leftovers() == []  # the junk file was deleted, no staging folder stays
        # The CLI prints the same line and exits 1.
        assert main(["models", "download", "biggan-deep-128", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not download biggan-deep-128") and err.count("\n") == 1


def test_a_killed_download_is_resumed_and_its_folder_removed(
    files, no_builtin_sources, monkeypatch
):
    """A process killed mid-download leaves its staging folder; the next download (holding the
    lock, so no other process is staging) resumes its bytes and removes it."""
    folder = cache_dir() / "biggan-deep-128"
    stale = folder / ".download-killed"
    stale.mkdir(parents=True)
    (stale / "pytorch_model.bin").write_bytes(files[WEIGHTS][:4096])
    with WeightsServer(dict(files)) as server:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        download("biggan-deep-128")
        assert server.requests[0] == (WEIGHTS, "bytes=4096-")
    assert (folder / "pytorch_model.bin").read_bytes() == files[WEIGHTS]
    assert _leftovers() == []


def test_a_damaged_cached_download_says_how_to_replace_it(files):
    """A cache filled by an older version, which did not verify downloads, may hold a cut file
    under the final name: loading it names the folder and the command that replaces it."""
    folder = cache_dir() / "biggan-deep-128"
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes(files[CONFIG])
    (folder / "pytorch_model.bin").write_bytes(files[WEIGHTS][:5000])
    with pytest.raises(WeightsError, match="truncated or corrupt") as info:
        load_network("biggan-deep-128", device="cpu")
    assert f"delete {folder} and run 'visualizer models download biggan-deep-128'" in str(
        info.value
    )


def test_builtin_sources_in_order(monkeypatch):
    monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", "http://mirror.example/a, http://m2.example/b/")
    sources = registry.model_info("biggan-deep-128").sources(base_url="http://first.example/")
    assert [s.weights_url for s in sources] == [
        "http://first.example/biggan-deep-128-pytorch_model.bin",
        "http://mirror.example/a/biggan-deep-128-pytorch_model.bin",
        "http://m2.example/b/biggan-deep-128-pytorch_model.bin",
        "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-128-pytorch_model.bin",
        "https://huggingface.co/osanseviero/BigGAN-deep-128/resolve/main/pytorch_model.bin",
    ]
    assert sources[-1].config_url.endswith("/BigGAN-deep-128/resolve/main/config.json")
    assert sources[-1].weights_sha256 is not None and sources[0].weights_sha256 is None
    monkeypatch.delenv("VISUALIZER_WEIGHTS_URL")
    assert len(registry.model_info("biggan-deep-512").sources()) == 1


# The real CLI in a fresh interpreter, with the built-in sources replaced by the mirror only, so
# that a failure can never reach the internet.
_CLI = """
import sys
from visualizer.model import registry
from visualizer import downloads
from visualizer.cli import main
registry.DOWNLOADS["biggan-deep-128"] = registry.ModelInfo("biggan-deep-128", 0, None)
sys.exit(main(sys.argv[1:]))
"""


def _wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_processes_download_one_model(files, tmp_path):
    """Two `models download` processes: the second waits for the first's lock, the weights
    are sent once, and the cache holds exactly the served file."""
    release = threading.Event()
    with WeightsServer(dict(files)) as server:
        server.hold[WEIGHTS] = release  # the first transfer stops halfway until released
        env = {
            **os.environ,
            "VISUALIZER_CACHE": str(tmp_path / "cache"),
            "VISUALIZER_WEIGHTS_URL": server.url,
        }
        command = [sys.executable, "-c", _CLI, "models", "download", "biggan-deep-128"]
        logs = [tmp_path / "first.err", tmp_path / "second.err"]
        runs = []
        try:
            with open(logs[0], "w") as err:
                runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err))
            _wait_for(lambda: (WEIGHTS, None) in server.requests, "the first download")
            with open(logs[1], "w") as err:
                runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err))
            # Either it waits for the lock, or (were there none) it starts a second transfer.
            _wait_for(
                lambda: (
                    "waiting for it" in logs[1].read_text()
                    or [name for name, _ in server.requests].count(WEIGHTS) > 1
                ),
                "the second process to reach the download",
            )
            release.set()
            outputs = [run.communicate(timeout=300)[0].decode() for run in runs]
        finally:
            release.set()
            for run in runs:
                if run.poll() is None:
                    run.kill()
    assert [run.returncode for run in runs] == [0, 0], [log.read_text() for log in logs]
    assert [name for name, _ in server.requests].count(WEIGHTS) == 1
    folder = tmp_path / "cache" / "biggan-deep-128"
    assert all(str(folder) in out for out in outputs)
    assert (folder / "pytorch_model.bin").read_bytes() == files[WEIGHTS]
    assert (folder / "config.json").read_bytes() == files[CONFIG]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "pytorch_model.bin"]


@pytest.mark.parametrize("config", ["files", "absurd"])
def test_zeros_without_a_length_are_not_recorded_as_a_download(
    files, no_builtin_sources, monkeypatch, config
):
    # With no Content-Length and no published checksum the transfer cannot tell it is short or
    # junk: only loading it (`loading.check_weights`) can, before it counts as cached.
    import json

    absurd = json.dumps({**json.loads(files[CONFIG]), "channel_width": 1024}).encode()
    served = {WEIGHTS: b"\0" * 50_000_000, CONFIG: absurd if config == "absurd" else files[CONFIG]}
    with WeightsServer(served) as zeros:
        zeros.no_length.add(WEIGHTS)
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", zeros.url)
        with pytest.raises(DownloadError, match="does not load|beyond any"):
            download("biggan-deep-128")
    assert registry.cached_model_dir("biggan-deep-128") is None
    assert _leftovers() == []
    folder = cache_dir() / "biggan-deep-128"
    assert not (folder / "pytorch_model.bin").exists()


# ------------------------------------------------------------------ bounds of one transfer


def test_an_endless_stream_is_cut_at_the_size_bound_and_not_kept(
    files, no_builtin_sources, monkeypatch
):
    """A server that streams for ever without a length must not fill the cache disk, nor leave
    a 'partial' for the next run to resume."""
    monkeypatch.setattr(downloads, "MAX_DOWNLOAD_BYTES", 16 << 20)
    with WeightsServer(dict(files)) as server:
        server.endless.add(WEIGHTS)
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        with pytest.raises(DownloadError, match=r"more than the 16777216 bytes expected.*deleted"):
            download("biggan-deep-128")
    assert _leftovers() == []


def test_a_length_beyond_the_known_size_is_refused_before_reading(files, monkeypatch):
    exact = ModelInfo("biggan-deep-128", len(files[WEIGHTS]) - 1, "0" * 64)
    monkeypatch.setitem(registry.DOWNLOADS, "biggan-deep-128", exact)
    with WeightsServer(dict(files)) as server:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        with pytest.raises(DownloadError, match=rf"announces {len(files[WEIGHTS])} bytes"):
            download("biggan-deep-128")
    assert _leftovers() == []


def test_a_partial_larger_than_the_bound_is_discarded(files, no_builtin_sources, monkeypatch):
    folder = cache_dir() / "biggan-deep-128"
    folder.mkdir(parents=True)
    (folder / "pytorch_model.bin.partial").write_bytes(bytes(20 << 20))
    monkeypatch.setattr(downloads, "MAX_DOWNLOAD_BYTES", 16 << 20)
    with WeightsServer(dict(files)) as server:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        download("biggan-deep-128")
        assert server.requests[0] == (WEIGHTS, None)  # from the first byte, not resumed
    assert (folder / "pytorch_model.bin").read_bytes() == files[WEIGHTS]


def test_a_trickling_server_is_a_stall_and_its_bytes_are_kept(
    files, no_builtin_sources, monkeypatch
):
    """One byte every 0.2 s keeps a socket alive for ever; the stall rule ends it."""
    monkeypatch.setattr(downloads, "STALL_SECONDS", 1.0)
    with WeightsServer(dict(files)) as server:
        server.trickle[WEIGHTS] = 0.2
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        began = time.monotonic()
        with pytest.raises(DownloadError, match=r"stalled .* run the command again to resume"):
            download("biggan-deep-128")
        assert time.monotonic() - began < 10
    partial = cache_dir() / "biggan-deep-128" / "pytorch_model.bin.partial"
    assert 0 < partial.stat().st_size < 20
    assert files[WEIGHTS].startswith(partial.read_bytes())


def test_a_silent_server_times_out(files, no_builtin_sources, monkeypatch):
    monkeypatch.setattr(downloads, "STALL_SECONDS", 0.5)
    with WeightsServer(dict(files)) as server:
        server.trickle[WEIGHTS] = 30.0  # the first byte never comes in time
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        with pytest.raises(DownloadError, match=r"stalled \(nothing for 0 s"):
            download("biggan-deep-128")


def test_a_download_outlasting_its_deadline_stops(files, no_builtin_sources, monkeypatch):
    monkeypatch.setattr(downloads, "DEADLINE_SECONDS", 0.5)
    monkeypatch.setattr(downloads, "STALL_BYTES", 1)
    with WeightsServer(dict(files)) as server:
        server.trickle[WEIGHTS] = 0.05
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        with pytest.raises(DownloadError, match=r"not finished after 0 s"):
            download("biggan-deep-128")


# ------------------------------------------------------- one published file (not BigGAN-deep)


def _remote(server_url: str, data: bytes, sha: str | None) -> downloads.RemoteFile:
    return downloads.RemoteFile(
        name="tiny-upscaler", filename="tiny.pth", urls=(f"{server_url}tiny.pth",),
        size=len(data), sha256=sha, what="test weights",
    )  # fmt: skip


def test_a_published_file_downloads_once_verified(files):
    import hashlib

    data = files[WEIGHTS]
    sha = hashlib.sha256(data).hexdigest()
    seen = []
    with WeightsServer({"tiny.pth": data}) as server:
        remote = _remote(server.url, data, sha)
        path = downloads.fetch_file(remote, verify=seen.append)
        assert downloads.fetch_file(remote) == path  # cached: no second request
        assert len(server.requests) == 1
    assert path == cache_dir() / "tiny-upscaler" / "tiny.pth"
    assert path.read_bytes() == data
    assert len(seen) == 1 and seen[0].name == "tiny.pth"  # verified once, before its name


def test_a_published_file_with_a_wrong_checksum_is_deleted(files, monkeypatch):
    data = files[WEIGHTS]
    with WeightsServer({"tiny.pth": data}) as server:
        remote = _remote(server.url, data, "0" * 64)
        with pytest.raises(DownloadError, match=r"checksum mismatch.*put the file at"):
            downloads.fetch_file(remote)
    assert not remote.path().exists()
    assert sorted(p.name for p in remote.path().parent.iterdir()) == []


def test_a_published_file_that_does_not_load_is_not_kept_and_a_mirror_serves(files, monkeypatch):
    data = files[WEIGHTS]

    def verify(path):
        if path.read_bytes() != data:
            raise WeightsError(f"{path}: not the weights")

    with (
        WeightsServer({"tiny.pth": b"junk" * 10}) as bad,
        WeightsServer({"tiny.pth": data}) as mirror,
    ):
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", mirror.url)
        remote = _remote(bad.url, data, None)
        remote = downloads.RemoteFile(**{**remote.__dict__, "size": 0})
        assert downloads.fetch_file(remote, verify=verify).read_bytes() == data
        assert bad.requests == []  # the mirror came first and served
    monkeypatch.delenv("VISUALIZER_WEIGHTS_URL")
    remote.path().unlink()
    with WeightsServer({"tiny.pth": b"junk" * 10}) as bad:
        remote = downloads.RemoteFile(**{**_remote(bad.url, data, None).__dict__, "size": 0})
        with pytest.raises(DownloadError, match="not the weights"):
            downloads.fetch_file(remote, verify=verify)
    assert not remote.path().exists()
