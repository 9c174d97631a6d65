"""Beats, downbeats, meter, tempo and sections on real music, against a reference tracker.

    python benchmarks/beats_bench.py TRACK... [--fps 30] [--beats dsp|dsp:BPM|beat-this|file:PATH]
                                     [--presets all|none|A,B] [--reference-env DIR]
                                     [--json OUT.json]
    python benchmarks/beats_bench.py --make-reference-env DIR

The reference is madmom's RNN + DBN beat and downbeat trackers (`beats_reference.py`), run as a
measuring instrument in an environment of its own (never a dependency: its trained models are
for non-commercial use); its answers are cached per audio content, so a rerun only analyses.
Per track and as medians over the tracks (the first 5 s are skipped for beat scores, as
mir_eval does):

- beat F (70 ms window), CMLt and AMLt (continuity, 17.5 % phase and period tolerance, AMLt also
  accepting double, half and off-beat variants of the reference), downbeat F (70 ms);
- tempo: ours within 4 % of the reference's, or of an exact octave of it; meter: equal;
- phase: the beat of the reference's bar most of our downbeats fall on, and their share on it
  (1: on the reference's downbeats; 3 with a high share: bars of the right length, steadily
  half a 4/4 bar late); and the reference's own consistency: its bar in its beats (its
  downbeat tracker may run at twice its beat tracker's tempo: 2-beat bars) and the share of its
  downbeats on its beats;
- sections: starts per minute and the share of starts (after 0) within 70 ms of a reference
  downbeat;
- per built-in preset: the changes of what is shown (a new keyframe, palette, morph class or
  pose: the techniques' own `changed`, between the first and last beat) and the share of them
  within 70 ms of a reference downbeat (median and worst track) and of our own downbeats,
  beside the share chance would give.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beats_reference import default_environment, make_environment, reference  # noqa: E402

from visualizer.commands.common import beats_value  # noqa: E402

WINDOW = 0.07  # seconds: an event within 70 ms of the reference's is a hit
SKIP = 5.0  # seconds at the start left out of the beat scores (mir_eval's trim_beats)
TEMPO_TOLERANCE = 0.04
CONTINUITY = 0.175  # phase and period tolerance of CMLt / AMLt
STEADY = 0.8  # a share of our downbeats on one beat of the reference's bar: a steady phase


def f_measure(estimate: np.ndarray, truth: np.ndarray, window: float = WINDOW) -> float:
    """F-measure of event times (s) matched one-to-one within ``window``; 0 when either is
    empty (1 when both are)."""
    if truth.size == 0 and estimate.size == 0:
        return 1.0
    if truth.size == 0 or estimate.size == 0:
        return 0.0
    hits, used = 0, np.zeros(estimate.size, bool)
    for t in truth:  # greedy, in time order: events are further apart than twice the window
        near = np.flatnonzero(~used & (np.abs(estimate - t) <= window))
        if near.size:
            used[near[np.argmin(np.abs(estimate[near] - t))]] = True
            hits += 1
    precision, recall = hits / estimate.size, hits / truth.size
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def continuity_total(truth: np.ndarray, estimate: np.ndarray) -> float:
    """mir_eval's total continuity accuracy (the "t" of CMLt) of ``estimate`` against one
    reference sequence."""
    if truth.size < 2 or estimate.size < 2:
        return 0.0
    used = np.zeros(estimate.size, bool)
    hits = 0
    for m, beat in enumerate(truth):
        distance = np.abs(estimate - beat)
        nearest = int(np.argmin(distance))
        if used[nearest]:
            continue
        if m == 0 or nearest == 0:
            if nearest + 1 >= estimate.size or m + 1 >= truth.size:
                continue
            interval = truth[m + 1] - truth[m]
            period = abs(1 - (estimate[nearest + 1] - estimate[nearest]) / interval)
        else:
            interval = truth[m] - truth[m - 1]
            period = abs(1 - (estimate[nearest] - estimate[nearest - 1]) / interval)
        if distance[nearest] / interval < CONTINUITY and period < CONTINUITY:
            used[nearest] = True
            hits += 1
    return hits / truth.size


def cml_aml(truth: np.ndarray, estimate: np.ndarray) -> tuple[float, float]:
    """(CMLt, AMLt): AMLt is the best of the reference, its off-beats, double, and both halves."""
    if truth.size < 2:
        return 0.0, 0.0
    off = truth[:-1] + np.diff(truth) / 2
    variants = [truth, off, np.sort(np.concatenate([truth, off])), truth[::2], truth[1::2]]
    scores = [continuity_total(v, estimate) for v in variants]
    return scores[0], max(scores)


def tempo_agrees(ours: float, truth: float) -> bool:
    if ours <= 0 or truth <= 0:
        return ours == truth
    return any(abs(ours / (truth * f) - 1) <= TEMPO_TOLERANCE for f in (1.0, 2.0, 0.5))


def on_grid(times: np.ndarray, grid: np.ndarray, window: float = WINDOW) -> float:
    """Share of ``times`` within ``window`` of an element of ``grid`` (nan when no times)."""
    if times.size == 0:
        return float("nan")
    if grid.size == 0:
        return 0.0
    index = np.clip(np.searchsorted(grid, times), 1, grid.size - 1) if grid.size > 1 else None
    if index is None:
        return float(np.mean(np.abs(times - grid[0]) <= window))
    nearest = np.minimum(np.abs(times - grid[index - 1]), np.abs(times - grid[index]))
    return float(np.mean(nearest <= window))


def beat_in_bar(times: np.ndarray, beats: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """(n,) int64: for each of ``times``, the beat of the reference's bar (1 on its downbeat, 2
    on the next beat, ...) of the reference beat within WINDOW of it; 0 where no reference beat
    is that near or the beat comes before the reference's first downbeat. ``beats`` and
    ``downbeats`` (a subset of them): the reference's, sorted seconds."""
    times = np.asarray(times, np.float64)
    if times.size == 0 or beats.size == 0 or downbeats.size == 0:
        return np.zeros(times.size, np.int64)
    nearest = lambda x: np.clip(np.searchsorted(beats, x - WINDOW), 0, beats.size - 1)  # noqa: E731
    starts = nearest(downbeats)
    # a reference downbeat off the reference's beats (its downbeat tracker at another level or
    # phase than its beat tracker) starts no bar of those beats
    bar_starts = np.unique(starts[np.abs(beats[starts] - downbeats) <= WINDOW])
    if bar_starts.size == 0:
        return np.zeros(times.size, np.int64)
    index = nearest(times)  # the first reference beat not before the window
    step = (index + 1 < beats.size) & (
        np.abs(beats[np.minimum(index + 1, beats.size - 1)] - times) < np.abs(beats[index] - times)
    )
    index = index + step
    bar = np.searchsorted(bar_starts, index, side="right") - 1
    position = np.where(bar >= 0, index - bar_starts[np.maximum(bar, 0)] + 1, 0)
    return np.where(np.abs(beats[index] - times) <= WINDOW, position, 0).astype(np.int64)


def bar_phase_of(downbeats: np.ndarray, beats: np.ndarray, ref_downbeats: np.ndarray) -> list:
    """[the beat of the reference's bar (`beat_in_bar`) most of ``downbeats`` fall on, the share
    of them on it]: [1, 0.98] is downbeats on the reference's; [3, 0.98] a steady phase error
    of half a 4/4 bar; [0, nan] without downbeats."""
    positions = beat_in_bar(downbeats, beats, ref_downbeats)
    if positions.size == 0:
        return [0, float("nan")]
    counts = np.bincount(positions)
    counts[0] = 0  # off the reference's beats: no phase
    top = int(np.argmax(counts))
    return [top, float(counts[top] / positions.size)]


def preset_shares(features, truth_downbeats: np.ndarray, presets: list[str]) -> dict:
    """{preset: [changes, share on a reference downbeat, share on our downbeats]} for the
    built-in ``presets``. A change is a frame where the picture changes at once: a new keyframe,
    palette, morph class or pose (the techniques' own `changed`, as `downbeat_bench.py` counts
    them), from the first to the last beat (outside them there is no bar line to land on)."""
    from visualizer.bench.reactivity import change_frames, near_share
    from visualizer.mapping.presets import load_preset

    fps = float(features.fps)
    beats = features.beats
    out = {}
    for name in presets:
        frames = change_frames(features, load_preset(name))
        if beats.size:
            frames = frames[(frames >= beats[0]) & (frames <= beats[-1])]
        ours = near_share(frames, features.downbeats, tolerance=int(WINDOW * fps))
        out[name] = [int(frames.size), on_grid(frames / fps, truth_downbeats), ours]
    return out


def measure(track: Path, args, presets: list[str]) -> dict:
    from visualizer.analysis.track import analyze_file

    truth = reference(track, args.reference_env, args.reference_cache)
    start = time.process_time()
    features = analyze_file(track, fps=args.fps, cache=False, tracker=args.beats)
    cpu = time.process_time() - start
    fps = float(features.fps)
    # an analysis from before musical time (the "before" column) has no downbeats or meter
    downbeat_frames = getattr(features, "downbeats", None)
    beats = features.beats / fps
    downbeats = np.zeros(0) if downbeat_frames is None else downbeat_frames / fps
    ref_beats, ref_downbeats = np.asarray(truth["beats"]), np.asarray(truth["downbeats"])
    trim = lambda x: x[x >= SKIP]  # noqa: E731
    cml, aml = cml_aml(trim(ref_beats), trim(beats))
    sections = features.sections[1:] / fps
    minutes = features.duration / 60.0
    chance = min(1.0, 2 * WINDOW * ref_downbeats.size / max(features.duration, 1e-9))
    return {
        "track": str(track),
        "duration": features.duration,
        "cpu_s": cpu,
        "beat_f": f_measure(trim(beats), trim(ref_beats)),
        "cmlt": cml,
        "amlt": aml,
        "downbeat_f": float("nan")
        if downbeat_frames is None
        else f_measure(trim(downbeats), trim(ref_downbeats)),
        "tempo": features.tempo,
        "ref_tempo": truth["tempo"],
        "tempo_ok": tempo_agrees(features.tempo, truth["tempo"]),
        "meter": getattr(features, "meter", 0),
        "ref_meter": truth["meter"],
        "meter_ok": getattr(features, "meter", 0) == truth["meter"],
        "sections": int(features.sections.size),
        "sections_per_min": features.sections.size / max(minutes, 1e-9),
        "sections_on_downbeat": on_grid(sections, ref_downbeats),
        "phase": bar_phase_of(downbeats, ref_beats, ref_downbeats),
        "ref_bar_beats": _ref_bar_beats(ref_beats, ref_downbeats),
        "ref_downbeats_on_beats": on_grid(ref_downbeats, ref_beats),
        "chance": chance,
        "presets": preset_shares(features, ref_downbeats, presets),
    }


def report(rows: list[dict], presets: list[str]) -> str:
    head = (
        "| track | min | beat F | CMLt | AMLt | downbeat F | tempo (ref) | meter (ref) | "
        "sections | on downbeat | phase |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {Path(r['track']).stem} | {r['duration'] / 60:.1f} | {r['beat_f']:.2f} | "
            f"{r['cmlt']:.2f} | {r['amlt']:.2f} | {r['downbeat_f']:.2f} | "
            f"{r['tempo']:.1f} ({r['ref_tempo']:.1f}){'' if r['tempo_ok'] else ' x'} | "
            f"{r['meter']} ({r['ref_meter']}){'' if r['meter_ok'] else ' x'} | "
            f"{r['sections']} | {_pct(r['sections_on_downbeat'])} | "
            f"{r['phase'][0]} ({_pct(r['phase'][1])}) |"
        )
    med = lambda key: float(np.nanmedian([r[key] for r in rows]))  # noqa: E731
    share = lambda key: float(np.mean([r[key] for r in rows]))  # noqa: E731
    audio = sum(r["duration"] for r in rows) / 60.0
    per_minute = [r["sections_per_min"] for r in rows]
    cpu = sum(r["cpu_s"] for r in rows)
    shifted = [Path(r["track"]).stem for r in rows if r["phase"][0] > 1 and r["phase"][1] >= STEADY]
    halves = [Path(r["track"]).stem for r in rows if abs(r["ref_bar_beats"] - 2.0) < 0.25]
    off = [Path(r["track"]).stem for r in rows if r["ref_downbeats_on_beats"] < STEADY]
    lines += [
        "",
        f"medians over {len(rows)} tracks: beat F {med('beat_f'):.3f}, CMLt {med('cmlt'):.3f}, "
        f"AMLt {med('amlt'):.3f}, downbeat F {med('downbeat_f'):.3f}; tempo right on "
        f"{share('tempo_ok'):.0%}, meter right on {share('meter_ok'):.0%}; sections "
        f"{med('sections_per_min'):.2f} per minute (min {min(per_minute):.2f}, max "
        f"{max(per_minute):.2f}), section starts on a downbeat "
        f"{_pct(med('sections_on_downbeat'))} (pooled {_pct(_pooled(rows))})",
        f"downbeats steadily on another beat of the reference's bar ({_pct(STEADY)} of them or "
        f"more on one beat other than 1): {len(shifted)} tracks {', '.join(shifted)}".rstrip(),
        f"the reference's own bars: 2 of its beats long on {len(halves)} tracks "
        f"{', '.join(halves)}; its downbeats off its beats (under {_pct(STEADY)} on them) on "
        f"{len(off)} tracks {', '.join(off)}".rstrip(),
        f"analysis: {cpu:.1f} CPU s for {audio:.1f} audio minutes = {cpu / audio:.2f} CPU s per "
        "audio minute",
    ]
    if presets:
        lines += [
            "",
            "| preset | tracks | changes | on a reference downbeat (median) | worst track | "
            "on our downbeats (median) | chance (median) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name in presets:
            found = [r["presets"][name] for r in rows if r["presets"][name][0]]
            if not found:
                lines.append(f"| {name} | 0 | 0 | - | - | - | {_pct(med('chance'))} |")
                continue
            on_reference = [share for _, share, _ in found]
            lines.append(
                f"| {name} | {len(found)} | {sum(n for n, _, _ in found)} | "
                f"{_pct(float(np.median(on_reference)))} | {_pct(min(on_reference))} | "
                f"{_pct(float(np.median([ours for _, _, ours in found])))} | "
                f"{_pct(med('chance'))} |"
            )
    return "\n".join(lines)


def _ref_bar_beats(beats: np.ndarray, downbeats: np.ndarray) -> float:
    """The reference's median bar in its own median beats (4.0 for 4/4; 2.0 where its downbeat
    tracker ran at twice its beat tracker's tempo); nan with fewer than 2 of either."""
    if beats.size < 2 or downbeats.size < 2:
        return float("nan")
    return float(np.median(np.diff(downbeats)) / np.median(np.diff(beats)))


def _pooled(rows: list[dict]) -> float:
    total = sum(r["sections"] - 1 for r in rows)
    hits = sum((r["sections"] - 1) * np.nan_to_num(r["sections_on_downbeat"]) for r in rows)
    return hits / total if total else float("nan")


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.0f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracks", nargs="*", type=Path)
    parser.add_argument("--fps", type=Fraction, default=Fraction(30))
    parser.add_argument(
        "--beats",
        type=beats_value,
        default="dsp",
        metavar="dsp|dsp:BPM|beat-this|file:PATH",
        help="our tracker to measure (dsp:BPM: the user's tempo; file:PATH: one track's grid)",
    )
    parser.add_argument("--presets", default="all", help="all, none, or names with commas")
    parser.add_argument("--reference-env", type=Path, default=None)
    parser.add_argument("--reference-cache", type=Path, default=None)
    parser.add_argument("--make-reference-env", type=Path, default=None, metavar="DIR")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure")
    args = parser.parse_args(argv)
    from visualizer.content import cache_dir

    if args.make_reference_env:
        print(make_environment(args.make_reference_env))
        return 0
    args.reference_env = args.reference_env or default_environment()
    args.reference_cache = args.reference_cache or cache_dir() / "beats-reference" / "answers"
    from visualizer.mapping.presets import list_presets

    names = [name for name, _ in list_presets()]
    presets = {"all": names, "none": []}.get(args.presets, args.presets.split(","))
    rows = []
    for track in args.tracks:
        rows.append(measure(track, args, presets))
        print(f"{track.name}: beat F {rows[-1]['beat_f']:.2f}", file=sys.stderr, flush=True)
    if not rows:
        parser.error("no TRACK given")
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load average {os.getloadavg()[0]:.2f} at the end; tracker --beats {args.beats}"
    )
    print(report(rows, presets))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
