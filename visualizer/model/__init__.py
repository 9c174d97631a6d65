"""The network: BigGAN-deep, its weights and how it is made ready to run.

- `network`: the BigGAN-deep module and loading of the published checkpoint format
- `random_weights`: seeded untrained weights in the published format (no download)
- `weights`: the model registry, cache, download, `--weights` resolution and loading
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    "BigGANConfig": "network",
    "BigGANDeep": "network",
    "random_state_dict": "random_weights",
    "ModelInfo": "weights",
    "model_info": "weights",
    "download": "weights",
    "load_generator": "weights",
    "resolve_device": "weights",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
