"""Job: whole albums and playlists, on this machine or a Ray cluster.

- `album`: tracks from folders and playlists, output names, album overrides, settings hashes
- `manifest`: `manifest.json`, the record of every track's state
- `jobs`: batch options and per-track jobs, decided against the manifest
- `runner`: the local runner and `run_batch`
- `tracks`: one track on a worker that holds the generator
- `ray_runner`, `ray_worker`: Ray actors, retries, split renders
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.batch.jobs import BatchOptions as BatchOptions
    from visualizer.batch.jobs import BatchResult as BatchResult
    from visualizer.batch.manifest import Manifest as Manifest
    from visualizer.batch.runner import run_batch as run_batch

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
