"""Beat tracking that follows tempo changes: a bar-pointer hidden Markov model (Viterbi) over a
beat activation, as the dynamic Bayesian beat trackers do (Krebs, Boeck & Widmer 2015).

The hidden state is (beat period tau in hops, position phi in 0..tau-1 within the beat). Each hop
phi advances by one; at the end of a beat the tracker may move to another period tau' with
probability proportional to ``exp(-TRANSITION_LAMBDA * |tau' / tau - 1|)`` times a prior on
tau' around the track's tempo (log-normal, TEMPO_PRIOR_OCTAVES wide), so the tempo drifts with
rubato and steps with a tempo change but does not wander off to a multiple of the beat. A state
in the first 1 / OBSERVATION_LAMBDA of its beat "is a beat" and sees the activation ``a`` with
probability ``a``; every other state sees it with ``(1 - a) / (OBSERVATION_LAMBDA - 1)``.

Only the beat-end -> beat-start transitions are a choice, so a Viterbi step is a shift of the
state vector plus one (periods x periods) maximum; the back-pointers are one byte per period
and hop. A 5-minute track (26,000 hops, ~4,200 states) takes about a second.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

from visualizer.options import TEMPO_RANGE_BPM

MIN_BPM, MAX_BPM = TEMPO_RANGE_BPM  # a --beats dsp:BPM hint is checked against it
TRANSITION_LAMBDA = 100.0
OBSERVATION_LAMBDA = 16
PRIOR_BPM = 120.0  # the tempo prior's centre: the felt beat of most music lies near it
TEMPO_PRIOR_OCTAVES = 0.7  # and its width (log-normal, in octaves)
LOCAL_SECONDS = 4.0  # the activation is the onset envelope over its maximum of the last 4 s
LOCAL_FLOOR = 0.05  # (never over less than this: a quiet passage's noise stays small)


def track_beats(
    envelope: np.ndarray,
    *,
    rate: float,
    tempo: float = PRIOR_BPM,
    octaves: float = TEMPO_PRIOR_OCTAVES,
) -> tuple[np.ndarray, float]:
    """(beat positions (B,) int64 hop indices, tempo in BPM) of an onset envelope (N,) in
    [0, 1] at ``rate`` hops per second; (empty, 0.0) when fewer than two beats are found.

    The envelope, scaled by its local maximum so a quiet verse counts as much as a loud chorus,
    is the activation of `viterbi_beats`, its tempo prior centred on ``tempo`` BPM and
    ``octaves`` wide (a narrow prior asks for the beats at one metrical level: see
    `visualizer.analysis.downbeats.metrical_level`); beats before the first and after the last
    strong one (the silence or noise around the music) are dropped. The returned tempo is 60 /
    the median beat interval.
    """
    env = np.asarray(envelope, np.float64)
    if env.size == 0:
        return np.zeros(0, np.int64), 0.0
    top = maximum_filter1d(env, max(1, int(LOCAL_SECONDS * rate)), mode="nearest")
    activation = env / np.maximum(top, LOCAL_FLOOR)
    found = viterbi_beats(activation, rate=rate, tempo=tempo, octaves=octaves)
    beats = _trim_weak(found, env)
    if beats.size < 2:
        return np.zeros(0, np.int64), 0.0
    return beats, float(60.0 * rate / np.median(np.diff(beats)))


def _trim_weak(beats: np.ndarray, env: np.ndarray) -> np.ndarray:
    """``beats`` from the first to the last whose onset strength (the envelope's maximum within
    2 hops) reaches half the rms strength of all beats."""
    if beats.size == 0:
        return beats
    strength = maximum_filter1d(env, 5, mode="nearest")[beats]
    strong = np.flatnonzero(strength >= 0.5 * np.sqrt(np.mean(strength**2)))
    if strong.size == 0 or not np.any(strength > 0):
        return np.zeros(0, np.int64)
    return beats[strong[0] : strong[-1] + 1]


def periods_for(rate: float, min_bpm: float = MIN_BPM, max_bpm: float = MAX_BPM) -> np.ndarray:
    """The beat periods (int64 hops, ascending, unique) the tracker can be in."""
    lo = max(2, int(np.floor(60.0 * rate / max_bpm)))
    hi = max(lo + 1, int(np.ceil(60.0 * rate / min_bpm)))
    return np.arange(lo, hi + 1, dtype=np.int64)


def viterbi_beats(
    activation: np.ndarray,
    *,
    rate: float,
    tempo: float = 0.0,
    octaves: float = TEMPO_PRIOR_OCTAVES,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
) -> np.ndarray:
    """Beat positions (int64 hop indices, sorted) of ``activation`` (N,) in [0, 1] at ``rate``
    hops per second; ``tempo`` (BPM, 0: none) centres the tempo prior, ``octaves`` is its
    width. Empty for a flat or too-short activation."""
    act = np.clip(np.asarray(activation, np.float64), 1e-6, 1.0 - 1e-6)
    periods = periods_for(rate, min_bpm, max_bpm)
    if act.size < 2 * periods[-1] or np.ptp(act) <= 1e-6:
        return np.zeros(0, np.int64)
    starts = np.concatenate([[0], np.cumsum(periods)[:-1]])  # first state of each period
    ends = starts + periods - 1
    n_states = int(periods.sum())
    phi = np.arange(n_states) - np.repeat(starts, periods)
    beat_region = phi < np.repeat(np.maximum(1, periods // OBSERVATION_LAMBDA), periods)
    log_beat = np.log(act)
    log_other = np.log((1.0 - act) / (OBSERVATION_LAMBDA - 1))
    # transition from the end of period i to the start of period j, with the tempo prior on j
    ratio = periods[None, :] / periods[:, None]
    log_trans = -TRANSITION_LAMBDA * np.abs(ratio - 1.0)
    log_trans -= np.logaddexp.reduce(log_trans, axis=1, keepdims=True)
    # the prior is a cost paid on every beat (not normalised away per row): over a track it
    # decides between a tempo and its double or half, which fit the onsets about as well
    log_prior = _log_prior(periods, rate, tempo, octaves)
    log_trans += log_prior[None, :]
    # start anywhere, weighted by the prior and spread over the positions of each period
    delta = np.repeat(log_prior - np.log(periods), periods)
    delta += np.where(beat_region, log_beat[0], log_other[0])
    # one byte per period and hop (71 periods at 86 hops/s: 22 MB for an hour)
    back = np.empty((act.size, periods.size), np.int8 if periods.size <= 127 else np.int16)
    beat_states = np.flatnonzero(beat_region)
    columns = np.arange(periods.size)
    gain = log_beat - log_other  # what a beat state sees over the others
    for t in range(1, act.size):
        candidates = delta[ends][:, None] + log_trans
        best = np.argmax(candidates, axis=0)
        new = np.empty(n_states)
        new[1:] = delta[:-1]  # every state moves one position on
        new[starts] = candidates[best, columns]  # a new beat, from the best beat end
        back[t] = best
        new += log_other[t]
        new[beat_states] += gain[t]
        delta = new
    beats = _backtrack(delta, back, starts, periods)
    return _refine(beats, act, max(1, int(periods[0]) // OBSERVATION_LAMBDA + 1))


def _log_prior(periods: np.ndarray, rate: float, tempo: float, octaves: float) -> np.ndarray:
    if tempo <= 0 or octaves <= 0:
        return np.zeros(periods.size)
    bpm = 60.0 * rate / periods
    return -0.5 * (np.log2(bpm / tempo) / octaves) ** 2


def _refine(beats: np.ndarray, act: np.ndarray, reach: int) -> np.ndarray:
    """Each beat moved onto the activation's maximum within ``reach`` hops: the path may sit
    anywhere in a beat's observation window when the onset comes, so its position 0 can fall a
    few hops before the onset."""
    if beats.size == 0:
        return beats
    window = np.clip(beats[:, None] + np.arange(-reach, reach + 1)[None, :], 0, act.size - 1)
    moved = window[np.arange(beats.size), np.argmax(act[window], axis=1)]
    return np.unique(moved).astype(np.int64)


def _backtrack(
    delta: np.ndarray, back: np.ndarray, starts: np.ndarray, periods: np.ndarray
) -> np.ndarray:
    """Hops where the best path is at position 0 of a beat, walking back from its last state;
    a path that starts inside a beat's observation window has a beat at hop 0 too."""
    state = int(np.argmax(delta))
    block = int(np.searchsorted(starts, state, side="right") - 1)
    position = state - int(starts[block])
    beats = []
    t = back.shape[0] - 1
    while t >= 0:
        # the path stays in this beat for `position` more hops back
        if t - position < 0:
            if position - t < max(1, int(periods[block]) // OBSERVATION_LAMBDA):
                beats.append(0)  # the track starts on (just after) a beat
            break
        t -= position
        beats.append(t)
        if t == 0:
            break
        block = int(back[t, block])
        position = int(periods[block]) - 1
        t -= 1
    return np.asarray(beats[::-1], np.int64)
