"""The network: BigGAN-deep, its weights and how it is made ready to run.

- `config`: the architecture as data (`BigGANConfig` from config.json), torch-free
- `network`: the BigGAN-deep module and loading of the published checkpoint format
- `random_weights`: seeded untrained weights in the published format (no download)
- `registry`: the model registry, the weights cache and verified downloads
- `devices`: `--device` (auto = CUDA, else Apple MPS, else CPU) and `--precision`
- `loading`: `--weights` (folder, file, random), preparing a module to run
- `inference`: `Generator`, the network as the render path uses it, and `load_generator`, the
  one loader of render, batch, preview, live and the benchmarks
- `device_memory`: the automatic batch size and out-of-memory recognition
- `thread`: `GeneratorThread`, one thread for a compiled generator's warm-up and renders
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    "BigGANConfig": "config",
    "BigGANDeep": "network",
    "random_state_dict": "random_weights",
    "random_generator": "random_weights",
    "ModelInfo": "registry",
    "model_info": "registry",
    "download": "loading",
    "check_weights": "loading",
    "load_network": "loading",
    "resolve_device": "devices",
    "Generator": "inference",
    "load_generator": "inference",
    "warm_up": "inference",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
