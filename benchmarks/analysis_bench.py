"""Analysis speed: a generated 4-minute track, analysed in a fresh process, then from the cache.

    python benchmarks/analysis_bench.py [--seconds 240] [--format wav] [--fps 30] [--librosa]

Each measurement is a new Python process running `analyze_file` (imports included, as a user's
`visualizer analyze` or `render` pays them), with its own empty cache folder for the first run.
``--librosa`` also times the naive librosa pass (HPSS + onset strength + beat_track + chroma_cqt)
in a fresh process, for comparison.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ANALYZE = """
import time
t0 = time.perf_counter()
from visualizer.analysis.track import analyze_file
f = analyze_file({path!r}, fps={fps!r})
print(f"{{time.perf_counter() - t0:.3f}} {{f.n_frames}} {{f.tempo:.2f}} {{f.beats.size}} "
      f"{{f.onsets.size}} {{f.sections.size}}")
"""

NAIVE = """
import time
t0 = time.perf_counter()
import librosa
y, sr = librosa.load({path!r}, sr=22050)
harmonic, percussive = librosa.effects.hpss(y)
onset = librosa.onset.onset_strength(y=percussive, sr=sr)
tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr)
chroma = librosa.feature.chroma_cqt(y=harmonic, sr=sr)
print(f"{{time.perf_counter() - t0:.3f}}")
"""


def run_fresh(code: str, cache: Path) -> tuple[float, str]:
    """Run ``code`` in a new interpreter; (wall seconds of the whole process, its stdout).

    Also prints the child's CPU seconds: on a shared machine wall time includes waiting.
    """
    env = {**os.environ, "VISUALIZER_CACHE": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"  (process: {wall:.2f} s wall, {cpu:.2f} s CPU, load {os.getloadavg()[0]:.1f})")
    return wall, proc.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--format", default="wav", choices=("wav", "flac", "mp3", "m4a", "ogg"))
    parser.add_argument("--fps", default="30")
    parser.add_argument("--librosa", action="store_true", help="also time naive librosa")
    args = parser.parse_args(argv)

    from tests.fixtures_audio import music_like, write_with_ffmpeg

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="analysis-bench-") as tmp:
        folder = Path(tmp)
        track = write_with_ffmpeg(
            folder / f"track.{args.format}", music_like(args.seconds, seed=0), 22050
        )
        print(
            f"track: {args.seconds:.0f} s music_like, {args.format}, "
            f"{track.stat().st_size / 1e6:.1f} MB"
        )
        cache = folder / "cache"
        code = ANALYZE.format(path=str(track), fps=args.fps)
        wall, out = run_fresh(code, cache)
        inner, n_frames, tempo, beats, onsets, sections = out.split()
        print(
            f"fresh process, no cache: {wall:.2f} s wall ({inner} s in Python after startup); "
            f"{n_frames} frames, tempo {tempo}, {beats} beats, {onsets} onsets, "
            f"{sections} sections"
        )
        wall, out = run_fresh(code, cache)
        print(f"fresh process, cached:   {wall:.2f} s wall ({out.split()[0]} s in Python)")
        if args.librosa:
            wall, out = run_fresh(NAIVE.format(path=str(track)), cache)
            print(f"naive librosa, fresh:    {wall:.2f} s wall ({out} s in Python)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
