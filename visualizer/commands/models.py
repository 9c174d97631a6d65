"""`visualizer models` (not built yet)."""

from visualizer.errors import VisualizerError


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise VisualizerError("'models' is not available yet")
