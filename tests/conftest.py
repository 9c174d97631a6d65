"""Shared pytest configuration. Tests pass device="cpu" explicitly; CUDA tests carry the `cuda`
marker and skip where no CUDA device exists."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty VISUALIZER_CACHE, so nothing leaks between tests."""
    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _reset_cli_logging():
    """`visualizer.cli.main` run in-process points the "visualizer" logger at stderr and stops it
    propagating; undo that after each test so `caplog` sees warnings in the tests that follow."""
    import logging

    yield
    logger = logging.getLogger("visualizer")
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


@pytest.fixture
def toy_family():
    """The toy model family (`tests/toy_family.py`) registered for one test: its one registry
    line, undone afterwards."""
    from tests.toy_family import TOY
    from visualizer.model import catalog

    catalog.register(TOY)
    try:
        yield TOY
    finally:
        catalog.unregister(TOY.name)
