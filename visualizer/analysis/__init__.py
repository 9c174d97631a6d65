"""The analysis stage: audio file -> Features on the video's frame clock.

- `decode`: any audio file -> mono float32 `Audio`, or blocks of it (soundfile, then ffmpeg)
- `stft`: the STFT of a stream of samples, chunk by chunk, reduced to per-hop rows
- `hop_rows`: HPSS, chroma and onset flux from those rows with bounded windows
- `spectral`: the streamed rows -> onsets, chroma, energy, bands, beats, sections
- `rhythm`: onset peak picking, novelty sections (numpy only)
- `beats`: beat tracking that follows tempo changes (a bar-pointer HMM)
- `downbeats`: downbeats and meter (a bar-position HMM over beat-synchronous features)
- `bars`: musical time on the frame clock: beat and bar phase, phrases, sections on bar lines
- `neural`: the optional Beat This! tracker (`--beats beat-this`)
- `features`: the `Features` type, the frame clock, `.npz` files
- `track`: `analyze` / `analyze_file` / `analyze_window`, decode + features + cache in one call
- `cache`: analyses cached by audio content
- `causal`: block-by-block analysis for live mode (no look-ahead); `causal_beats` its beat clock
- `plot`: the one-glance features plot
"""

from typing import TYPE_CHECKING

from visualizer.lazy import lazy_exports

if TYPE_CHECKING:  # the real names, for type checkers and editors (loaded lazily)
    from visualizer.analysis.causal import CausalAnalyzer as CausalAnalyzer
    from visualizer.analysis.decode import Audio as Audio
    from visualizer.analysis.decode import load_audio as load_audio
    from visualizer.analysis.decode import probe_duration as probe_duration
    from visualizer.analysis.decode import stream_audio as stream_audio
    from visualizer.analysis.features import Features as Features
    from visualizer.analysis.features import FrameFeatures as FrameFeatures
    from visualizer.analysis.features import load_features as load_features
    from visualizer.analysis.features import save_features as save_features
    from visualizer.analysis.plot import plot_features as plot_features
    from visualizer.analysis.track import analyze as analyze
    from visualizer.analysis.track import analyze_file as analyze_file
    from visualizer.analysis.track import analyze_window as analyze_window

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
