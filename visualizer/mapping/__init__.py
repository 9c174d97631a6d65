"""The mapping stage: features + preset + seed -> Timeline, offline or frame by frame.

Techniques, one module each (all pure numpy, seeded):

- a `palette`: chroma -> class blend over a palette, with sensitivity and smoothing
- b `interpolate`: linear / spherical interpolation between keyframe classes, exact endpoints
- c `breed`: ``a*y1 + (1-a)*y2`` of two classes, ``a`` driven by a signal
- d `walk`: noise walk whose step follows energy and its rise, turning back at the bound
- e `pulse`: onsets or beats kick the latent, then decay
- f `truncation`: truncation between min and max driven by a signal; truncated-normal latents
- g `warp.hallucinate`: ``sin(z)`` resampling driven by a signal
- h `warp.zoom`: latent pushed towards ``-a * sign(z)`` driven by a signal
- i `rotary`: latent circles in a random plane, one turn per N beats
- j `palette.palette_for_section`: sections switch the class palette

`mapper` composes them: `CausalMapper` (live) and `build_timeline` (offline) share its code.
"""

from visualizer.mapping.mapper import CausalMapper, build_timeline

__all__ = ["CausalMapper", "build_timeline"]
