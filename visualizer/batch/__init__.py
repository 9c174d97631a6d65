"""Job: whole albums and playlists, on this machine or a Ray cluster.

- `album`: tracks from folders and playlists, output names, album overrides, settings hashes
- `manifest`: `manifest.json`, the record of every track's state
- `jobs`: batch options and per-track jobs, decided against the manifest
- `runner`: the local runner and `run_batch`
- `tracks`: one track on a worker that holds the generator
- `ray_runner`, `ray_worker`: Ray actors, retries, split renders
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    "BatchOptions": "jobs",
    "BatchResult": "jobs",
    "Manifest": "manifest",
    "run_batch": "runner",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
