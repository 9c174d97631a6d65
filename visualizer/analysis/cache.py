"""Cache of analyses, so a re-render with another preset skips the audio analysis.

An entry is ``<cache_dir>/features/<key>.npz`` (a `save_features` file). The key hashes the audio
file's bytes (not its name or date: a renamed copy hits, an edited file misses), the analysis
parameters (fps, sample rate, beat tracker; a beats file by its bytes) and `ANALYSIS_VERSION`,
which changes whenever the analysis would produce different numbers. A cache hit imports neither
librosa nor scipy.
"""

from __future__ import annotations

import json
import logging
from fractions import Fraction
from pathlib import Path

from visualizer.analysis.features import Features, load_features, save_features
from visualizer.content import beats_identity, cache_dir, file_sha256, text_sha256
from visualizer.errors import FeaturesError

log = logging.getLogger("visualizer")

# 2: section threshold relative to the track; 3: no edge onsets; 4: downbeats, meter, phases,
# phrases, sections on downbeats; 5: the metrical level by its bars, bar lengths that hold;
# 6: a metrical level further from the tempo prior needs more bar evidence
ANALYSIS_VERSION = "6"


def cache_key(path: Path, *, fps: Fraction, sr: int, tracker: str = "dsp") -> str:
    """The cache entry name for analysing the whole of ``path`` with these parameters.

    Excerpts are windows of the whole track's analysis, so they share its entry.
    """
    params = {
        "audio": file_sha256(path),
        "fps": f"{fps.numerator}/{fps.denominator}",
        "sr": sr,
        "version": ANALYSIS_VERSION,
    }
    tracker = beats_identity(tracker)  # "dsp:128.0" and "dsp:128" are one analysis
    if tracker != "dsp":  # the default keeps the keys it had, other trackers get their own
        params["tracker"] = tracker
    text = json.dumps(params, sort_keys=True)
    return text_sha256(text)[:32]


def cache_path(key: str) -> Path:
    return cache_dir() / "features" / f"{key}.npz"


def read_cached(key: str) -> Features | None:
    """The cached Features for ``key``, or None when there is no readable entry (a damaged entry
    is logged and will be replaced)."""
    entry = cache_path(key)
    if not entry.is_file():
        return None
    try:
        return load_features(entry)
    except FeaturesError as error:
        # Dropped, so the analysis runs again and writes a good entry in its place.
        log.warning("dropping a damaged analysis cache entry (%s)", error)
        entry.unlink(missing_ok=True)
        return None


def write_cached(key: str, features: Features) -> None:
    """Store ``features`` under ``key``; a cache folder that cannot be written only logs."""
    try:
        save_features(features, cache_path(key))
    except OSError as error:
        log.warning("could not write the analysis cache in %s (%s)", cache_dir(), error)
