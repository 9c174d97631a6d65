"""The ffmpeg binary both ends of the pipeline drive: the decoder of what libsndfile cannot read
(`visualizer.analysis.decode`) and the video encoder and muxer (the render stage)."""

from __future__ import annotations

import functools


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary imageio-ffmpeg ships for every platform (there may be no system
    ffmpeg, and a system one may lack the encoders the render expects)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
