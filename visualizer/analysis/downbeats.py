"""Downbeats, meter and the metrical level from beats: a bar-position HMM over beat-synchronous
features.

A bar starts where the bass comes in, the harmony changes and the accent falls. Each beat gets a
*downbeat salience* from three beat-synchronous features, each z-scored over the track:

- the low-band (< 200 Hz) onset strength at the beat (kick drums, bass notes),
- the harmonic change: the cosine distance between the chroma of the beat's interval and the
  interval before it (chords change on bar lines),
- the loudness rise over the beat (accents),

and a large bonus on the beats where sections start (`visualizer.analysis.rhythm`'s novelty over
the same beats): a new part starts on a bar line, so the strongest changes of the piece anchor
the bar count, which then carries through the quieter bars around them.

For each meter M in METERS, a Viterbi path over bar positions 0..M-1 (each beat advances one
position; a bar may be cut short or made one beat longer, at a cost, so a dropped or added
beat or a bar of another length does not throw the count off for the rest of the track)
collects the salience on its downbeats. Changing a bar's length is dear where the beats run
steadily (an odd bar is rare there, and a wrong one shifts every bar after it) and cheap where
the beat intervals wander (where the beat tracker may have added or dropped a beat: below a
section start's bonus, so a section start re-anchors the count there). The meter whose path
collects the most, after a small prior for 4, wins. Plain numpy: B beats x 7 states.

The metrical level: a beat tracker may lock onto half or double the felt beat (two beats of the
music per tracked beat, the tracked beats on the snare's 2 and 4; or eighth notes). At the right
level the bar is plain: one bar position collects clearly more downbeat salience than the others
and the chords fill whole bars; at half the level two positions per "bar" look alike (two real
downbeats), at double the level each bar holds two half bars. `metrical_level` tracks the beats
again at double (or half) the tempo and keeps that level when its bar evidence is at least
LEVEL_RATIO times the tracked level's, or AWAY_RATIO times when its tempo lies further from the
tracker's prior (120 BPM): the prior chose the tracked level, and the other level's bar evidence
is often high by chance (on 82 real tracks this rule changes the level of 10, 7 of them to the
reference tracker's tempo and 2 away from it; BENCHMARKS.md, "Musical time").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from visualizer.analysis.beats import MAX_BPM, MIN_BPM, PRIOR_BPM, track_beats

METERS = (3, 4)
METER_PRIOR = {3: 0.0, 4: 0.5}  # salience units: 4/4 unless 3/4 is clearly better
STEADY_RESET = 24.0  # salience units to cut a bar short where the beats run steadily
LOOSE_RESET = 6.0  # ... where they wander: below SECTION_BONUS
IRREGULAR = 0.1  # a beat interval this far (log) from the median of the 8 around it: wandering
SECTION_BONUS = 8.0  # salience units added where a section starts: sections start on bar lines
LEVEL_RATIO = 2.0  # another metrical level wins with this many times the bar evidence,
AWAY_RATIO = LEVEL_RATIO**2  # ... and this many when its tempo lies further from PRIOR_BPM
LEVEL_BARS = 8  # bars a level needs before its evidence counts (fewer: a few bars' noise)
LEVEL_PRIOR_OCTAVES = 0.15  # the tempo prior that holds the tracker at the other level
# These weights, costs and ratios were chosen against the reference tracker on 19 real tracks
# (BENCHMARKS.md, "Musical time"); the benchmark's other 11 tracks were not used to choose them.
# AWAY_RATIO came from the errors on 13 more tracks and was checked on 39 from other games.
WEIGHTS = {"low": 0.3, "harmony": 0.7, "rise": 1.0}


class BeatRows(NamedTuple):
    """The per-hop rows the bar cues are read from: low-band onset strength (N,), chroma
    (12, M) per block of ``chroma_pool`` hops, log loudness (N,)."""

    low_flux: np.ndarray
    chroma: np.ndarray
    loudness: np.ndarray
    chroma_pool: int = 1


def low_band_flux(low_power: np.ndarray) -> np.ndarray:
    """Positive dB rise (N,) float64 of the low-band power (N,) from hop to hop, the power
    floored 80 dB under its peak (so silence and noise make no onsets)."""
    low_db = 10.0 * np.log10(np.maximum(np.asarray(low_power, np.float64), 1e-10))
    if low_db.size == 0:
        return low_db
    low_db = np.maximum(low_db, low_db.max() - 80.0)
    return np.maximum(np.diff(low_db, prepend=low_db[:1]), 0.0)


def beat_means(rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Means of ``rows`` (d, N) over the beat intervals [starts[k], starts[k + 1]) (the last
    interval runs to N): (d, B) float64; an empty interval takes its start's column."""
    rows = np.asarray(rows, np.float64)
    n = rows.shape[1]
    starts = np.clip(np.asarray(starts, np.int64), 0, max(0, n - 1))
    if n == 0 or starts.size == 0:
        return np.zeros((rows.shape[0], starts.size))
    sums = np.add.reduceat(rows, starts, axis=1)
    counts = np.diff(np.append(starts, n))
    single = rows[:, starts]
    return np.where(counts > 0, sums / np.maximum(counts, 1), single)


def zscore(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std, zeros when x is constant."""
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return x
    std = float(x.std())
    return (x - x.mean()) / std if std > 1e-12 else np.zeros_like(x)


def beat_chroma(beats: np.ndarray, rows: BeatRows) -> np.ndarray:
    """Unit-length chroma (12, B) of each beat's interval (zero columns in silence)."""
    means = beat_means(rows.chroma, np.asarray(beats, np.int64) // rows.chroma_pool)
    norms = np.linalg.norm(means, axis=0)
    return np.divide(means, norms, out=np.zeros_like(means), where=norms > 1e-12)


def downbeat_salience(
    beats: np.ndarray, rows: BeatRows, anchors: np.ndarray | None = None
) -> np.ndarray:
    """(B,) float64 salience of each beat (``beats``: (B,) hop indices) as a downbeat (z-score
    units, higher is likelier); ``anchors``: indices of the beats where sections start
    (SECTION_BONUS each)."""
    beats = np.asarray(beats, np.int64)
    if beats.size == 0:
        return np.zeros(0)
    n = rows.low_flux.size
    # the strongest low-band onset within a 16th of a beat (at least 2 hops) of the beat
    half = max(2, int(np.median(np.diff(beats)) / 8)) if beats.size > 1 else 2
    window = np.clip(beats[:, None] + np.arange(-half, half + 1)[None, :], 0, max(0, n - 1))
    low = rows.low_flux[window].max(axis=1) if n else np.zeros(beats.size)
    unit = beat_chroma(beats, rows)
    harmony = np.zeros(beats.size)
    harmony[1:] = 1.0 - np.sum(unit[:, 1:] * unit[:, :-1], axis=0)
    loud = beat_means(rows.loudness[None, :], beats)[0]
    rise = np.zeros(beats.size)
    rise[1:] = np.maximum(loud[1:] - loud[:-1], 0.0)
    salience = (
        WEIGHTS["low"] * zscore(low)
        + WEIGHTS["harmony"] * zscore(harmony)
        + WEIGHTS["rise"] * zscore(rise)
    )
    if anchors is not None and anchors.size:
        salience[np.clip(anchors, 0, beats.size - 1)] += SECTION_BONUS
    return salience


def homogeneity(unit: np.ndarray, meter: int) -> np.ndarray:
    """(B,) z-scored: minus the spread of the unit chroma ``unit`` (12, B) over the beats
    [k, k + meter) (the variance per pitch class, summed): high where a bar starting at beat k
    holds one chord."""
    b = unit.shape[1]
    if b == 0:
        return np.zeros(0)
    first = np.cumsum(np.pad(unit, ((0, 0), (1, 0))), axis=1)
    second = np.cumsum(np.pad(unit**2, ((0, 0), (1, 0))), axis=1)
    start = np.arange(b)
    stop = np.minimum(b, start + meter)
    count = stop - start
    mean = (first[:, stop] - first[:, start]) / count
    spread = ((second[:, stop] - second[:, start]) / count - mean**2).sum(axis=0)
    return zscore(-spread)


def bar_evidence(beats: np.ndarray, rows: BeatRows) -> float:
    """How plainly ``beats`` group into bars: for the meter that shows it best, the lead of the
    best bar position over the second in mean downbeat salience and in `homogeneity` (z-score
    units, >= 0; 0 with fewer than LEVEL_BARS bars)."""
    beats = np.asarray(beats, np.int64)
    salience = downbeat_salience(beats, rows)
    unit = beat_chroma(beats, rows)
    best = 0.0
    for meter in METERS:
        if beats.size < LEVEL_BARS * meter:
            continue
        lead = 0.0
        for cue in (salience, homogeneity(unit, meter)):
            profile = np.sort([cue[p::meter].mean() for p in range(meter)])
            lead += float(profile[-1] - profile[-2])
        best = max(best, lead)
    return best


def metrical_level(
    envelope: np.ndarray, rate: float, beats: np.ndarray, tempo: float, rows: BeatRows
) -> tuple[np.ndarray, float]:
    """(beats, tempo) at the metrical level whose bars are plainest: the tracked ``beats`` at
    ``tempo`` BPM (`visualizer.analysis.beats.track_beats` of ``envelope`` at ``rate`` hops
    per second), or the beats tracked again at double or half that tempo when their
    `bar_evidence` wins (`level_wins`; a track too short to judge keeps its level)."""
    own = bar_evidence(beats, rows) if beats.size >= 2 else 0.0
    if own <= 0.0:
        return beats, tempo
    best = (own, beats, tempo)
    for factor in (2.0, 0.5):
        if not MIN_BPM <= tempo * factor <= MAX_BPM:
            continue
        other, other_tempo = track_beats(
            envelope, rate=rate, tempo=tempo * factor, octaves=LEVEL_PRIOR_OCTAVES
        )
        if other.size < 2:
            continue
        evidence = bar_evidence(other, rows)
        if level_wins(evidence, own, other_tempo, tempo) and evidence > best[0]:
            best = (evidence, other, other_tempo)
    return best[1], best[2]


def level_wins(evidence: float, own: float, tempo: float, own_tempo: float) -> bool:
    """Whether beats at ``tempo`` BPM with bar ``evidence`` replace the tracked ones (``own``
    evidence at ``own_tempo``): with LEVEL_RATIO times the evidence, or AWAY_RATIO times when
    ``tempo`` lies further (log) from PRIOR_BPM, the tracker's prior, which chose the tracked
    level."""
    away = abs(math.log(tempo / PRIOR_BPM)) > abs(math.log(own_tempo / PRIOR_BPM))
    return evidence >= own * (AWAY_RATIO if away else LEVEL_RATIO)


def reset_costs(beats: np.ndarray) -> np.ndarray:
    """(B,) salience units to cut a bar short at each beat: LOOSE_RESET where an interval among
    the 8 around the beat lies IRREGULAR (log) or more from their median, else STEADY_RESET."""
    beats = np.asarray(beats, np.int64)
    costs = np.full(beats.size, STEADY_RESET)
    if beats.size < 3:
        return costs
    intervals = np.diff(beats).astype(np.float64)
    # the intervals k - 4 .. k + 3 around beat k (interval j runs from beat j to beat j + 1)
    padded = np.pad(intervals, (4, 4), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 8)[: beats.size]
    median = np.nanmedian(windows, axis=1, keepdims=True)
    spread = np.nanmax(np.abs(np.log(windows / median)), axis=1)
    costs[spread > IRREGULAR] = LOOSE_RESET
    return costs


def bar_positions(
    salience: np.ndarray, meter: int, costs: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Viterbi bar positions (B,) int64 in [0, meter) of beats with ``salience``, and the path's
    score (the salience summed over its downbeats, less the cost of the bars it cut short or
    made a beat longer;
    ``costs`` (B,): the cost of cutting a bar short at each beat, STEADY_RESET when None)."""
    b = salience.size
    if b == 0:
        return np.zeros(0, np.int64), 0.0
    costs = np.full(b, STEADY_RESET) if costs is None else costs
    score = np.where(np.arange(meter) == 0, salience[0], 0.0)
    back = np.zeros((b, meter), np.int64)
    from_p = np.roll(np.arange(meter), 1)  # position p came from p - 1
    for k in range(1, b):
        new = np.roll(score, 1)
        sources = from_p.copy()
        # position 0 may also follow any position (a bar cut short), and the last position
        # itself (a bar one beat longer: the tracker added a beat), at the beat's cost
        best_reset = int(np.argmax(score))
        if score[best_reset] - costs[k] > new[0]:
            new[0], sources[0] = score[best_reset] - costs[k], best_reset
        if meter > 1 and score[-1] - costs[k] > new[-1]:
            new[-1], sources[-1] = score[-1] - costs[k], meter - 1
        new[0] += salience[k]
        back[k], score = sources, new
    position = np.zeros(b, np.int64)
    position[-1] = int(np.argmax(score))
    for k in range(b - 1, 0, -1):
        position[k - 1] = back[k, position[k]]
    return position, float(score.max())


def track_downbeats(
    salience: np.ndarray, costs: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """(indices into the beats that start bars, meter); (empty, 0) without beats. ``costs``:
    see `bar_positions` (`reset_costs` of the beats)."""
    if salience.size == 0:
        return np.zeros(0, np.int64), 0
    paths = {meter: bar_positions(salience, meter, costs) for meter in METERS}
    totals = {m: score + METER_PRIOR[m] * salience.size / m for m, (_, score) in paths.items()}
    meter = max(METERS, key=lambda m: totals[m])
    position = paths[meter][0]
    return np.flatnonzero(position == 0).astype(np.int64), meter
