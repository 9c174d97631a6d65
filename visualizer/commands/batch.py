"""`visualizer batch` (not built yet)."""

from visualizer.errors import VisualizerError


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise VisualizerError("'batch' is not available yet")
