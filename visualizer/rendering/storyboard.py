"""Storyboard: a contact sheet of frames sampled across a song, each labelled with its time.

The frames come from the same Timeline as the final render (same preset, seed and fps), so the
sheet shows the look of the whole song before the long render.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from visualizer.errors import OutputError
from visualizer.mapping.timeline import Timeline
from visualizer.model.inference import Generator
from visualizer.progress import ProgressCallback, report

LABEL_HEIGHT = 18  # pixels of caption strip under each frame


def sample_indices(n_frames: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over [0, n_frames): the centre of each equal part.

    Fewer (every frame) when the track has fewer than ``count`` frames; [] when it has none.
    """
    count = min(count, n_frames)
    return [min(n_frames - 1, int((k + 0.5) * n_frames / count)) for k in range(count)]


def timestamp(seconds: float) -> str:
    """83.25 -> '1:23.2'."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def render_storyboard(
    timeline: Timeline,
    generator: Generator,
    *,
    count: int = 12,
    columns: int | None = None,
    progress: ProgressCallback | None = None,
) -> Any:
    """A PIL image: ``count`` frames of ``timeline`` in a grid, each captioned with its time.

    ``columns`` defaults to about a 16:9 sheet. Frames are generated one batch at a time.
    """
    from visualizer.rendering import frames as render

    indices = sample_indices(timeline.n_frames, count)
    if not indices:
        raise OutputError("the track is too short for a storyboard: it has no video frames")
    picked = Timeline(
        timeline.class_vectors[indices],
        timeline.noise[indices],
        timeline.truncation[indices],
        timeline.fps,
        timeline.seed,
        timeline.preset,
    )
    tiles: list[np.ndarray] = []
    batches = render.generate(generator, picked, 0, len(indices), batch_size=4)
    for _first, frames in batches:
        tiles.extend(frames.cpu().numpy())
        report(progress, "storyboard", len(tiles), len(indices), "frame", "storyboard")
    times = [timestamp(float(i / timeline.fps)) for i in indices]
    return contact_sheet(tiles, times, columns=columns)


def contact_sheet(tiles: list[np.ndarray], captions: list[str], *, columns: int | None = None):
    """Lay out uint8 (H, W, 3) tiles (all of one size) in a grid with a caption strip under
    each (PIL image)."""
    from PIL import Image, ImageDraw, ImageFont

    height, width = tiles[0].shape[:2]
    columns = columns or max(1, min(len(tiles), math.ceil(math.sqrt(len(tiles) * 16 / 9))))
    rows = math.ceil(len(tiles) / columns)
    gap = 4
    sheet = Image.new(
        "RGB",
        (columns * (width + gap) + gap, rows * (height + LABEL_HEIGHT + gap) + gap),
        (16, 16, 16),
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for k, (tile, caption) in enumerate(zip(tiles, captions, strict=True)):
        x = gap + (k % columns) * (width + gap)
        y = gap + (k // columns) * (height + LABEL_HEIGHT + gap)
        sheet.paste(Image.fromarray(tile), (x, y))
        draw.text((x + 2, y + height + 2), caption, fill=(235, 235, 235), font=font)
    return sheet


def check_image_suffix(path: Path) -> None:
    """OutputError unless ``path`` names a PNG or JPEG file."""
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise OutputError(f"unsupported storyboard type {path.suffix!r}: use .png or .jpg")


def save_image(image: Any, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``image`` (PNG/JPEG by suffix) to a temporary name and rename it into place."""

    from visualizer.files import atomic_output

    path = Path(path)
    check_image_suffix(path)
    if path.exists() and not overwrite:
        raise OutputError(f"output exists: {path} (use --overwrite to replace it)")
    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}")
    with atomic_output(path) as tmp:
        image.save(tmp, format="PNG" if path.suffix.lower() == ".png" else "JPEG")
    return path
