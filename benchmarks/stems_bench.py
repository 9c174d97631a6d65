"""Kicks on the drums, not on the bass: the `band` preset with real stems and with stand-ins.

    python benchmarks/stems_bench.py [--seconds 60] [--fps 30] [--preset band] [--seed 1]

Builds a song from separately generated drum, bass and chord stems (`visualizer.bench.stems`:
drum hits on every eighth, bass notes on off-beat sixteenths, so the truth is known), writes them
as wav files, and makes the preset's Timeline the way `visualizer timeline` does (real analysis
of every source, real mapping): with ``--stems`` (drums, bass and the chords as ``other``; the
vocals stood in for) and without (every stem stood in for from the mix). For each it prints the
correlation of the kick motion (`visualizer.bench.stems.kick_motion`: how much the pulse's share
of the latent grows per frame) with the drum hits and with the bass notes, and the latent's law
(rms(u), shares beyond 1.5 and 2). Goals with stems: drums >= 0.7, bass <= 0.2, rms 0.80-0.95,
<= 11 % beyond 1.5, <= 0.5 % beyond 2. Statistics, not timings; no generator is loaded. Prints a
markdown table, then one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import soundfile as sf

from visualizer.analysis.track import analyze_file
from visualizer.bench.stems import StemSong, kick_figures, stem_song
from visualizer.pipeline.options import RenderOptions
from visualizer.pipeline.stems import parse_stems
from visualizer.pipeline.timeline import make_timeline


def _measure(song: StemSong, folder: Path, preset: str, fps: Fraction) -> dict[str, dict]:
    """The figures of ``preset`` with the stems and with stand-ins, the song written to
    ``folder`` as wav files."""
    (folder / "stems").mkdir()
    mix = folder / "mix.wav"
    sf.write(mix, song.mix, song.sr, subtype="FLOAT")
    for name, samples in song.stems.items():
        sf.write(folder / "stems" / f"{name}.wav", samples, song.sr, subtype="FLOAT")
    features = analyze_file(mix, fps=fps)
    results = {}
    for label, stems in (("stems", parse_stems(folder / "stems")), ("stand-ins", ())):
        started = time.perf_counter()
        options = RenderOptions(preset=preset, fps=fps, stems=stems)
        kicked = make_timeline(mix, options)
        still = make_timeline(mix, dataclasses.replace(options, overrides=("pulse.amount=0",)))
        figures = kick_figures(song, features, kicked, still)
        results[label] = {
            **dataclasses.asdict(figures),
            "meets_goals": figures.meets_goals(),
            "seconds": round(time.perf_counter() - started, 2),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=Fraction, default=Fraction(30))
    parser.add_argument("--preset", default="band")
    parser.add_argument("--seed", type=int, default=1, help="the song's seed")
    args = parser.parse_args(argv)
    song = stem_song(args.seconds, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="stems-bench-") as tmp:
        results = _measure(song, Path(tmp), args.preset, args.fps)
    print(f"{args.seconds:g} s at {args.fps} fps: {song.drum_hits.size} drum hits, "
          f"{song.bass_notes.size} bass notes, preset {args.preset}")  # fmt: skip
    print("| sources | kicks~drums | kicks~bass | rms(u) | abs(u) > 1.5 | abs(u) > 2 | goals |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, r in results.items():
        print(
            f"| {label} | {r['drums']:.2f} | {r['bass']:.2f} | {r['rms']:.3f} "
            f"| {100 * r['beyond_1_5']:.1f} % | {100 * r['beyond_2']:.2f} % "
            f"| {'yes' if r['meets_goals'] else 'no'} |"
        )
    print(json.dumps({"seconds": args.seconds, "fps": str(args.fps), **results}))
    return 0 if results["stems"]["meets_goals"] else 1


if __name__ == "__main__":
    sys.exit(main())
