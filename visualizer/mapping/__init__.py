"""The mapping stage: Features + preset + seed -> Timeline, offline or frame by frame.

- `classes`: the 1000 ImageNet names and the curated themes, lookup with suggestions
- `arithmetic`: class items (a class, a theme's classes, "tiger + 0.5 volcano") as class vectors
- `presets`: TOML presets loaded into frozen dataclasses, `--set` overrides, the preset writer
- `preset_schema`: the sections (from the registry), their ranges, validation
- `timeline`: the `Timeline` type (what the generator receives per frame) and its `.npz` file
- `technique`: the technique interface (section, signal, state, per-frame step), random streams
- `registry`: the one table of techniques; the preset schema and the mapper read it

Techniques, one module each (all pure numpy, each drawing from its own seeded stream):

- a `palette`: chroma -> class blend over a palette, with sensitivity and smoothing ([classes])
- b `keyframes`: linear / spherical interpolation between keyframe classes, exact endpoints,
  every N sections, beats, bars or phrases, or at given times
- c `breed`: ``a*y1 + (1-a)*y2`` of two classes, ``a`` driven by a signal
- d `walk`: the latent turns on circles of normal values, as far per frame as energy and its
  rise ask, so it keeps its law (`motion` composes d-i on that law; `truncation` maps it)
- e `pulse`: onsets or beats kick the latent towards a seeded direction, then decay
- f `truncation`: truncation between min and max driven by a signal; truncated-normal latents
- g `hallucinate`: the ``sin(z)`` fold (small values stay, large ones fold back; `warp`)
- h `zoom`: a signal scales the latent's magnitude up around its running mean (`warp`)
- i `rotary`: latent circles in a random plane, one turn per N bars or beats (bar / beat phase)
- j `palette`: sections switch the class palette
- l `morph`: the class glides through a list, a class per N bars or beats, while the latent
  holds still
- m `poses`: latent keyframes (seeds or saved latents) glide by slerp while the class holds

Shared by them: k `arithmetic` (weighted sums and differences of classes in one class vector),
`interpolate` (slerp, segments at sections / beats / bars / phrases / times), `musical` (beats,
bars and phrases counted from each frame's phases and flags, changes quantised to the next beat,
bar, phrase or section), `warp` (law-keeping folds, scales and blends), `signals` (features as
signals, causal and zero-phase smoothing).

The stages: `classmix` makes each frame's class vector (the technique classes.mode names, then
n `crossfade`: a change of classes glides over `classes.crossfade` beats, never a jump);
`motion` chains the latent techniques on standard normals, maps them to the truncated normal
and applies the poses; `mapper` runs the stages per frame and closes loops (o `loop`: the end of
a Timeline bent back into its start): `CausalMapper` (live) and `build_timeline` (offline) share
its code.
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.mapping.classes import resolve_classes as resolve_classes
    from visualizer.mapping.mapper import CausalMapper as CausalMapper
    from visualizer.mapping.mapper import build_timeline as build_timeline
    from visualizer.mapping.presets import Preset as Preset
    from visualizer.mapping.presets import load_preset as load_preset
    from visualizer.mapping.presets import preset_to_toml as preset_to_toml
    from visualizer.mapping.timeline import Timeline as Timeline

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
