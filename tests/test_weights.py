"""Weights management against real files and a real HTTP server on 127.0.0.1: download with a
progress callback, checksum mismatch, a transfer cut off halfway, resume with Range; loading
folders, lone files, safetensors, the folded cache; and every kind of bad input."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import pytest
import torch

from tests.fixtures_biggan import WeightsServer, write_checkpoint
from visualizer.content import cache_dir
from visualizer.errors import DownloadError, WeightsError
from visualizer.model import registry
from visualizer.model.loading import download, load_network
from visualizer.model.registry import ModelInfo


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("tiny"), channel_width=8, seed=1)


@pytest.fixture
def served(tiny_dir, monkeypatch):
    files = {
        "biggan-deep-128-pytorch_model.bin": (tiny_dir / "pytorch_model.bin").read_bytes(),
        "biggan-deep-128-config.json": (tiny_dir / "config.json").read_bytes(),
    }
    sha = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
    info = ModelInfo(
        "biggan-deep-128",
        len(files["biggan-deep-128-pytorch_model.bin"]),
        sha["biggan-deep-128-pytorch_model.bin"],
        sha["biggan-deep-128-config.json"],
    )
    monkeypatch.setitem(registry.DOWNLOADS, "biggan-deep-128", info)
    with WeightsServer(files) as server:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        yield server


def _cache_files():
    """Every file in the cache but the lock files (which stay, empty)."""
    return sorted(
        p.relative_to(cache_dir()).as_posix()
        for p in cache_dir().rglob("*")
        if p.is_file() and p.suffix != ".lock"
    )


def test_download_verifies_reports_progress_and_loads(served):
    events = []
    folder = download("biggan-deep-128", progress=events.append)
    files = _cache_files()
    assert files[:2] == ["biggan-deep-128/config.json", "biggan-deep-128/pytorch_model.bin"]
    # The verifying load left the folded copy the next load reads, and nothing else.
    assert len(files) == 3 and files[2].startswith("folded/")
    size = len(served.files["biggan-deep-128-pytorch_model.bin"])
    assert events[-1].done == size and events[-1].total == size and events[-1].unit == "B"
    assert (folder / "pytorch_model.bin").read_bytes() == served.files[
        "biggan-deep-128-pytorch_model.bin"
    ]
    # A second call finds the finished download and makes no request.
    count = len(served.requests)
    assert download("biggan-deep-128") == folder and len(served.requests) == count
    generator = load_network("biggan-deep-128", device="cpu")
    assert generator.config.channel_width == 8 and not generator.training


def test_checksum_mismatch_deletes_the_file(served):
    name = "biggan-deep-128-pytorch_model.bin"
    good = served.files[name]
    served.files[name] = good[:1000] + bytes([good[1000] ^ 0xFF]) + good[1001:]
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download("biggan-deep-128")
    assert "\n" not in str(info.value)
    assert _cache_files() == []  # nothing half-written, nothing that looks finished


def test_cut_off_transfer_then_resume_with_range(served):
    name = "biggan-deep-128-pytorch_model.bin"
    served.cut.add(name)
    with pytest.raises(DownloadError, match="cut off after"):
        download("biggan-deep-128")
    partial = cache_dir() / "biggan-deep-128" / "pytorch_model.bin.partial"
    size = len(served.files[name])
    assert partial.is_file() and 0 < partial.stat().st_size < size
    assert registry.cached_model_dir("biggan-deep-128") is None
    half = partial.stat().st_size
    folder = download("biggan-deep-128")
    assert (name, f"bytes={half}-") in served.requests  # resumed, not restarted
    assert (folder / "pytorch_model.bin").read_bytes() == served.files[name]
    assert not partial.exists()


def test_http_error_and_unknown_model(served):
    del served.files["biggan-deep-128-config.json"]
    with pytest.raises(DownloadError, match="HTTP 404"):
        download("biggan-deep-128")
    assert registry.cached_model_dir("biggan-deep-128") is None
    with pytest.raises(WeightsError, match="biggan-deep-128, biggan-deep-256, biggan-deep-512"):
        download("biggan-deep-1024")


def test_load_folder_file_safetensors_and_folded_cache(tiny_dir, tmp_path):
    z, y = torch.randn(1, 128).clamp(-2, 2) * 0.5, torch.eye(1000)[[7]]
    first = load_network("biggan-deep-128", tiny_dir)
    folded = list((cache_dir() / "folded").glob("*.safetensors"))
    assert len(folded) == 1
    second = load_network("biggan-deep-128", tiny_dir)  # from the folded cache
    with torch.inference_mode():
        expected = first(z, y, 0.5)
        torch.testing.assert_close(second(z, y, 0.5), expected, atol=0, rtol=0)
        # The folded file itself is accepted as --weights (its config travels in the metadata).
        torch.testing.assert_close(
            load_network("biggan-deep-512", folded[0])(z, y, 0.5), expected, atol=0, rtol=0
        )
    # A lone published-format safetensors file takes its architecture from --model.
    from safetensors.torch import save_file

    state = torch.load(tiny_dir / "pytorch_model.bin", weights_only=True)
    save_file(dict(state), tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match="wrong shapes"):
        load_network("biggan-deep-128", tmp_path / "w.safetensors")


def test_lone_bin_file_uses_model_architecture(tiny_dir):
    with pytest.raises(WeightsError, match=r"pytorch_model\.bin: wrong shapes"):
        load_network("biggan-deep-128", tiny_dir / "pytorch_model.bin")
    assert not (cache_dir() / "folded").exists() or _cache_files() == []


def test_legacy_format_loads(tmp_path):
    folder = write_checkpoint(tmp_path, channel_width=8, seed=2, legacy_format=True)
    with open(folder / "pytorch_model.bin", "rb") as f:
        assert f.read(2) != b"PK"  # not a zip archive
    generator = load_network("biggan-deep-128", folder)
    with torch.inference_mode():
        assert torch.isfinite(generator(torch.zeros(1, 128), torch.eye(1000)[[1]], 0.4)).all()


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_bad_inputs_each_give_one_line_naming_the_file(tiny_dir, tmp_path):
    before = _cache_files()
    # Missing path, missing file in a folder.
    with pytest.raises(WeightsError, match="nope.bin' not found"):
        load_network("biggan-deep-128", tmp_path / "nope.bin")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError, match=r"empty/config\.json: not found"):
        load_network("biggan-deep-128", empty)
    # Truncated file.
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "config.json").write_bytes((tiny_dir / "config.json").read_bytes())
    data = (tiny_dir / "pytorch_model.bin").read_bytes()
    (cut / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=r"cut/pytorch_model\.bin: truncated or corrupt"):
        load_network("biggan-deep-128", cut)
    # Unknown architecture.
    arch = tmp_path / "arch"
    arch.mkdir()
    (arch / "pytorch_model.bin").write_bytes(data)
    (arch / "config.json").write_text('{"layers": [[false, 16, 16]], "num_heads": 12}')
    with pytest.raises(WeightsError, match=r"arch/config\.json: unknown key 'num_heads'"):
        load_network("biggan-deep-128", arch)
    # A pickle that would run code on load.
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.bin"
    with open(evil, "wb") as f:
        pickle.dump({"embeddings.weight": _Exploit(str(marker))}, f)
    torch.save({"x": _Exploit(str(marker))}, tmp_path / "evil.pt")
    for path in (evil, tmp_path / "evil.pt"):
        with pytest.raises(WeightsError, match="refused to load") as info:
            load_network("biggan-deep-128", path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists()
    # Wrong format suffix.
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(WeightsError, match="unknown weights format"):
        load_network("biggan-deep-128", tmp_path / "w.onnx")
    assert _cache_files() == before  # nothing left in the cache


def test_random_weights_warn(caplog):
    with caplog.at_level("WARNING", logger="visualizer"):
        generator = load_network("biggan-deep-128", "random", seed=5)
    assert "untrained" in caplog.text
    assert generator.resolution == 128 and not generator.training


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("VISUALIZER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "visualizer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == Path(tmp_path / "home" / ".cache" / "visualizer")
