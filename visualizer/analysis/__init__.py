"""The analysis stage: audio file -> Features on the video's frame clock.

- `decode`: any audio file -> mono float32 `Audio`, or blocks of it (soundfile, then ffmpeg)
- `stft`: the STFT of a stream of samples, chunk by chunk, reduced to per-hop rows
- `hop_rows`: HPSS, chroma and onset flux from those rows with bounded windows
- `spectral`: the streamed rows -> onsets, chroma, energy, bands, beats, sections
- `rhythm`: peak picking, tempo, beat tracking, novelty sections (numpy only)
- `features`: the `Features` type, the frame clock, `.npz` files
- `track`: `analyze` / `analyze_file` / `analyze_window`, decode + features + cache in one call
- `cache`: analyses cached by audio content
- `causal`: block-by-block analysis for live mode (no look-ahead)
- `plot`: the one-glance features plot
"""

from visualizer.lazy import lazy_exports

_EXPORTS = {
    "Audio": "decode",
    "load_audio": "decode",
    "stream_audio": "decode",
    "probe_duration": "decode",
    "Features": "features",
    "FrameFeatures": "features",
    "analyze": "track",
    "analyze_file": "track",
    "analyze_window": "track",
    "save_features": "features",
    "load_features": "features",
    "CausalAnalyzer": "causal",
    "plot_features": "plot",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
