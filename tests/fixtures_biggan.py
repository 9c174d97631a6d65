"""Random BigGAN-deep checkpoints in the published format, for tests.

``write_checkpoint(tmp_path, channel_width=8)`` makes a tiny model (same layer lists, 8 instead of
128 channels per multiplier) that renders 128 px frames in a fraction of a second on a CPU:
pass its folder as ``--weights DIR`` to the CLI or to `visualizer.weights.load_generator`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from visualizer.biggan import BigGANConfig, random_state_dict


def checkpoint_config(resolution: int = 128, channel_width: int = 128) -> BigGANConfig:
    """The published config of ``biggan-deep-<resolution>`` with another channel width."""
    config = BigGANConfig.for_model(f"biggan-deep-{resolution}")
    return dataclasses.replace(config, channel_width=channel_width)


def write_checkpoint(
    folder: str | Path,
    resolution: int = 128,
    channel_width: int = 128,
    seed: int = 0,
    legacy_format: bool = False,
) -> Path:
    """Write ``config.json`` + ``pytorch_model.bin`` (published key format) into ``folder``.

    ``legacy_format=True`` writes the pre-zip torch format the published files use.
    Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = checkpoint_config(resolution, channel_width)
    (folder / "config.json").write_text(
        json.dumps(config.to_dict(), sort_keys=True, indent=2), encoding="utf-8"
    )
    state = random_state_dict(config, seed)
    torch.save(
        state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy_format
    )
    return folder
