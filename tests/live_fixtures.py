"""Shared pieces of the live-mode tests: a tiny generator, a generated track, a session, and a
page of it in headless Chromium."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures_audio import SR, music_like, write_wav
from tests.fixtures_biggan import checkpoint_config
from visualizer.live.control import LiveControl
from visualizer.live.session import LiveSession
from visualizer.live.source_file import FileSource
from visualizer.model.inference import Generator, wrap
from visualizer.model.network import BigGANDeep, load_state_dict_published
from visualizer.model.random_weights import random_state_dict

# Debian's Chromium for the browser tests (Playwright drives the system browser).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
    ),
]

PRESET_TOML = """description = "live test"
seed = 7

[classes]
names = ["tiger", "volcano", "daisy"]
sensitivity = 3.0
"""


def tiny_generator(channel_width: int = 8) -> Generator:
    """The 128 px architecture with very few channels and random weights (fast on CPU)."""
    config = checkpoint_config(128, channel_width)
    model = BigGANDeep(config).eval()
    with torch.no_grad():
        load_state_dict_published(model, random_state_dict(config, 0), "random")
    return wrap(model, batch_size=1)


def write_track(folder: Path, seconds: float = 6.0, seed: int = 0) -> tuple[Path, np.ndarray]:
    """A music-like wav (drums and chords at 120 BPM); returns its path and mono samples."""
    samples = music_like(seconds, SR, seed=seed).astype(np.float32)
    return write_wav(Path(folder) / "track.wav", samples, SR), samples


def write_preset(folder: Path) -> Path:
    path = Path(folder) / "look.toml"
    path.write_text(PRESET_TOML, encoding="utf-8")
    return path


FPS = Fraction(24)


def live_session(
    folder: Path, seconds: float, *, seed: int = 0, generator: Generator | None = None, **options
) -> tuple[LiveSession, np.ndarray]:
    """A session (not started) playing a generated track of ``seconds`` (``seed``) with the test
    preset and ``generator`` (default: `tiny_generator`); ``options`` go to `LiveSession`.
    Returns it and the track's samples."""
    track, samples = write_track(folder, seconds=seconds, seed=seed)
    control = LiveControl(str(write_preset(folder)), save_dir=folder)
    session = LiveSession(
        generator=generator or tiny_generator(), control=control,
        source=FileSource(samples, SR, track), fps=FPS, port=0, **options,
    )  # fmt: skip
    return session, samples


@contextlib.contextmanager
def browser_page(url: str, width: int, height: int) -> Iterator:
    """A Playwright page of Debian's headless Chromium at ``url`` (skips without Playwright)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            yield page
        finally:
            browser.close()


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    """The first true value of ``predicate()``, polled every 50 ms; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
