"""Shared pytest configuration: CPU-only, no downloads, tiny generators and generated audio."""

from __future__ import annotations

import os

import pytest

# Keep the suite on the CPU and away from the user's real cache, whatever the machine has.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty VISUALIZER_CACHE, so nothing leaks between tests."""
    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path_factory.mktemp("cache")))
