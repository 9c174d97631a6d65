"""visualizer: turn music into BigGAN-deep video.

The stages (see DESIGN.md): audio -> Features (analysis on the frame clock) -> Timeline (mapping,
driven by a preset and a seed) -> frames (BigGAN-deep) -> video (ffmpeg, original soundtrack).

The Python API (`visualizer.api`) is here, loaded on first use: ``render``, ``analyze``,
``make_timeline`` and ``load_preset``. Heavy libraries (torch, librosa) are imported by the
modules that need them, never here, so that ``import visualizer`` and ``visualizer --help`` stay
instant.
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.api import analyze as analyze
    from visualizer.api import load_preset as load_preset
    from visualizer.api import make_timeline as make_timeline
    from visualizer.api import render as render

__version__ = "0.1.0"

__getattr__, _, _api = lazy_exports(__name__, __file__)
__all__ = ["__version__", *_api]


def __dir__() -> list[str]:
    """The public names, ``__version__`` included (tab completion)."""
    return sorted(__all__)
