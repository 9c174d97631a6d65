"""visualizer: turn music into BigGAN-deep video.

The stages (see DESIGN.md): audio -> Features (analysis on the frame clock) -> Timeline (mapping,
driven by a preset and a seed) -> frames (BigGAN-deep) -> video (ffmpeg, original soundtrack).
Heavy libraries (torch, librosa) are imported by the modules that need them, never here, so that
`visualizer --help` stays instant.
"""

__version__ = "0.1.0"
