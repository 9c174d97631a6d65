"""Cache of analyses, so a re-render with another preset skips the audio analysis.

An entry is ``<cache_dir>/features/<key>.npz`` (a `save_features` file). The key hashes the audio
file's bytes (not its name or date: a renamed copy hits, an edited file misses), the analysis
parameters (fps, start, duration, sample rate) and `ANALYSIS_VERSION`, which changes whenever
the analysis would produce different numbers. A cache hit imports neither librosa nor scipy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from fractions import Fraction
from pathlib import Path

from visualizer.errors import FeaturesError
from visualizer.features import Features, load_features, save_features
from visualizer.progress import ProgressCallback, report

log = logging.getLogger("visualizer")

ANALYSIS_VERSION = "2"  # 2: section threshold relative to the track


def default_cache_dir() -> Path:
    """$VISUALIZER_CACHE, else $XDG_CACHE_HOME/visualizer, else ~/.cache/visualizer."""
    explicit = os.environ.get("VISUALIZER_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "visualizer"


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of the file's bytes (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cache_key(path: Path, *, fps: Fraction, start: float, duration: float | None, sr: int) -> str:
    """The cache entry name for analysing ``path`` with these parameters."""
    params = {
        "audio": file_digest(path),
        "fps": f"{fps.numerator}/{fps.denominator}",
        "start": round(float(start), 6),
        "duration": None if duration is None else round(float(duration), 6),
        "sr": sr,
        "version": ANALYSIS_VERSION,
    }
    text = json.dumps(params, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_path(key: str) -> Path:
    return default_cache_dir() / "features" / f"{key}.npz"


def analyze_file_cached(
    path: str | os.PathLike,
    *,
    fps: Fraction,
    start: float = 0.0,
    duration: float | None = None,
    progress: ProgressCallback | None = None,
    cache: bool = True,
) -> Features:
    """`visualizer.features.analyze_file`: load + analyse ``path``, through the cache.

    A cache hit reports one "analyze" progress event labelled "cached". A cache entry that
    cannot be read is replaced; a cache folder that cannot be written only logs a warning.
    """
    from visualizer.audio import DEFAULT_SR, _check_file

    path = Path(path)
    _check_file(path)  # a missing file is an AudioError before anything is hashed
    key = cache_key(path, fps=fps, start=start, duration=duration, sr=DEFAULT_SR) if cache else ""
    if cache:
        entry = cache_path(key)
        if entry.is_file():
            try:
                features = load_features(entry)
            except FeaturesError as error:
                log.warning("ignoring a damaged analysis cache entry (%s)", error)
            else:
                report(progress, "analyze", 1, 1, "step", "analyze (cached)")
                return features
    features = _analyze_uncached(path, fps=fps, start=start, duration=duration, progress=progress)
    if cache:
        try:
            save_features(features, cache_path(key))
        except OSError as error:
            log.warning("could not write the analysis cache in %s (%s)", default_cache_dir(), error)
    return features


def _analyze_uncached(
    path: Path,
    *,
    fps: Fraction,
    start: float,
    duration: float | None,
    progress: ProgressCallback | None,
) -> Features:
    from visualizer.audio import load_audio
    from visualizer.features import analyze

    audio = load_audio(path, start=start, duration=duration)
    return analyze(audio, fps=fps, progress=progress)
