"""visualizer: turn music into BigGAN-deep video.

The stages (see DESIGN.md): audio -> Features (analysis on the frame clock) -> Timeline (mapping,
driven by a preset and a seed) -> frames (BigGAN-deep) -> video (ffmpeg, original soundtrack).

The Python API (`visualizer.api`) is here, loaded on first use: ``render``, ``analyze``,
``make_timeline`` and ``load_preset``. Heavy libraries (torch, librosa) are imported by the
modules that need them, never here, so that ``import visualizer`` and ``visualizer --help`` stay
instant.
"""

from visualizer.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {name: "api" for name in ("render", "analyze", "make_timeline", "load_preset")}
__all__ = ["__version__", *sorted(_EXPORTS)]
__getattr__, _ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    """The public names, ``__version__`` included (tab completion)."""
    return sorted(__all__)
