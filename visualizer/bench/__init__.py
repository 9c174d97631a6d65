"""Benchmarks behind BENCHMARKS.md.

- `generator`: the precision sweep (fps, FLOPs, TFLOP/s, half-precision error) against the eager
  reference
- `end_to_end`: render fps over generator-only fps (`EndToEndOptions`), peak RSS by track length
- `memory`: peak resident memory of a process tree
- `reactivity`: latent statistics and reactivity per preset
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.bench.end_to_end import EndToEndOptions as EndToEndOptions
    from visualizer.bench.end_to_end import run_end_to_end_bench as run_end_to_end_bench
    from visualizer.bench.generator import run_precision_sweep as run_precision_sweep

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
