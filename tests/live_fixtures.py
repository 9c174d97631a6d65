"""Shared pieces of the live-mode tests: a tiny generator, a generated track, a session."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures_audio import SR, music_like, write_wav
from tests.fixtures_biggan import checkpoint_config
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
