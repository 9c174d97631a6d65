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
- `upscaler`, `upscale_srvgg`, `upscale_rrdb`, `upscale_loading`: learned upscalers after the
  generator (``--upscale``): the seam, its two architectures, loading and the `Upscaler`
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.model.config import BigGANConfig as BigGANConfig
    from visualizer.model.devices import resolve_device as resolve_device
    from visualizer.model.inference import Generator as Generator
    from visualizer.model.inference import load_generator as load_generator
    from visualizer.model.inference import warm_up as warm_up
    from visualizer.model.loading import check_weights as check_weights
    from visualizer.model.loading import download as download
    from visualizer.model.loading import load_network as load_network
    from visualizer.model.network import BigGANDeep as BigGANDeep
    from visualizer.model.random_weights import random_generator as random_generator
    from visualizer.model.random_weights import random_state_dict as random_state_dict
    from visualizer.model.registry import ModelInfo as ModelInfo
    from visualizer.model.registry import model_info as model_info
    from visualizer.model.upscale_loading import Upscaler as Upscaler
    from visualizer.model.upscale_loading import load_upscaler as load_upscaler

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
