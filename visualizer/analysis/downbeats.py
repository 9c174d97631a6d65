"""Downbeats and meter from beats: a bar-position HMM over beat-synchronous features.

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
position; a bar may be cut short, at a cost, so a dropped or added beat or a bar of another
length does not throw the count off for the rest of the track) collects the salience on its
downbeats. The meter whose path collects the most, after a small prior for 4, wins. Plain numpy:
B beats x 7 states.
"""

from __future__ import annotations

import numpy as np

METERS = (3, 4)
METER_PRIOR = {3: 0.0, 4: 0.5}  # salience units: 4/4 unless 3/4 is clearly better
RESET_COST = 12.0  # salience units to cut a bar short: the bar count holds unless the music insists
SECTION_BONUS = 8.0  # salience units added where a section starts: sections start on bar lines
# These weights and costs were chosen against the reference tracker on 19 real tracks
# (BENCHMARKS.md, "Musical time"); the benchmark's other 11 tracks were not looked at for it.
WEIGHTS = {"low": 0.3, "harmony": 0.7, "rise": 1.0}


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


def downbeat_salience(
    beats: np.ndarray,
    low_flux: np.ndarray,
    chroma: np.ndarray,
    loudness: np.ndarray,
    *,
    chroma_pool: int = 1,
    anchors: np.ndarray | None = None,
) -> np.ndarray:
    """(B,) float64 salience of each beat as a downbeat (z-score units, higher is likelier).

    ``beats`` (B,) hop indices; ``low_flux`` (N,) low-band onset strength per hop; ``chroma``
    (12, M) per block of ``chroma_pool`` hops; ``loudness`` (N,) log loudness per hop;
    ``anchors``: indices of the beats where sections start (SECTION_BONUS each).
    """
    beats = np.asarray(beats, np.int64)
    if beats.size == 0:
        return np.zeros(0)
    n = low_flux.size
    # the strongest low-band onset within a 16th of a beat (at least 2 hops) of the beat
    half = max(2, int(np.median(np.diff(beats)) / 8)) if beats.size > 1 else 2
    window = np.clip(beats[:, None] + np.arange(-half, half + 1)[None, :], 0, max(0, n - 1))
    low = low_flux[window].max(axis=1) if n else np.zeros(beats.size)
    means = beat_means(chroma, beats // chroma_pool)
    norms = np.linalg.norm(means, axis=0)
    unit = np.divide(means, norms, out=np.zeros_like(means), where=norms > 1e-12)
    harmony = np.zeros(beats.size)
    harmony[1:] = 1.0 - np.sum(unit[:, 1:] * unit[:, :-1], axis=0)
    loud = beat_means(loudness[None, :], beats)[0]
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


def bar_positions(salience: np.ndarray, meter: int) -> tuple[np.ndarray, float]:
    """Viterbi bar positions (B,) int64 in [0, meter) of beats with ``salience``, and the path's
    score (the salience summed over its downbeats, less the cost of the bars it cut short)."""
    b = salience.size
    if b == 0:
        return np.zeros(0, np.int64), 0.0
    score = np.where(np.arange(meter) == 0, salience[0], 0.0)
    back = np.zeros((b, meter), np.int64)
    for k in range(1, b):
        advance = np.roll(score, 1)  # position p came from p - 1
        from_p = np.roll(np.arange(meter), 1)
        # position 0 may also follow any position (a bar cut short) at RESET_COST
        best_reset = int(np.argmax(score))
        new = advance.copy()
        sources = from_p.copy()
        if score[best_reset] - RESET_COST > advance[0]:
            new[0], sources[0] = score[best_reset] - RESET_COST, best_reset
        new[0] += salience[k]
        back[k], score = sources, new
    position = np.zeros(b, np.int64)
    position[-1] = int(np.argmax(score))
    for k in range(b - 1, 0, -1):
        position[k - 1] = back[k, position[k]]
    return position, float(score.max())


def track_downbeats(salience: np.ndarray) -> tuple[np.ndarray, int]:
    """(indices into the beats that start bars, meter); (empty, 0) without beats."""
    if salience.size == 0:
        return np.zeros(0, np.int64), 0
    paths = {meter: bar_positions(salience, meter) for meter in METERS}
    totals = {m: score + METER_PRIOR[m] * salience.size / m for m, (_, score) in paths.items()}
    meter = max(METERS, key=lambda m: totals[m])
    position = paths[meter][0]
    return np.flatnonzero(position == 0).astype(np.int64), meter
