"""Benchmarks behind BENCHMARKS.md.

- `generator`: the precision sweep (fps, FLOPs, TFLOP/s, half-precision error) against the eager
  reference
- `end_to_end`: render fps over generator-only fps (`EndToEndOptions`), peak RSS by track length
- `memory`: peak resident memory of a process tree
- `reactivity`: latent statistics and reactivity per preset
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    "run_precision_sweep": "generator",
    "EndToEndOptions": "end_to_end",
    "run_end_to_end_bench": "end_to_end",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
