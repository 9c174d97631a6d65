"""The live (causal) beat clock: beats, beat and bar phase, downbeats, meter and phrases, hop by
hop, from the past only.

Tempo is the autocorrelation of the last TEMPO_WINDOW_S of onset envelope (re-estimated every
TEMPO_EVERY_S), and a flywheel fires beats at that period, re-locking its phase on onsets near
the predicted beat; each tempo estimate also finds the phase where the window's onsets pile up
(folded at the period, recent ones weighing more) and moves the grid there if it drifted off.

Bars: every beat's low-band accent (the low-band flux over the first third of the beat: kick
drums and bass notes, which fill the 93 ms window after the beat fired) goes, when the next beat
fires, into a decaying histogram of bar positions, one per meter in METERS; the meter is 4 unless
the 3-beat histogram is clearly more peaked, and the downbeat is the position with the strongest
accent. Phrases open every `visualizer.analysis.bars.bars_per_phrase` bars. A live clock source
(tap, MIDI clock, Link) knows better and overrides all of this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from visualizer.analysis.bars import BELOW_ONE, bars_per_phrase

TEMPO_WINDOW_S = 8.0
TEMPO_EVERY_S = 1.0
MIN_BPM, MAX_BPM = 60.0, 200.0
METERS = (3, 4)
PHASE_BINS = 16  # the beat's phase is found to a 16th of a beat
ACCENT_DECAY = 0.97  # per beat: the bar histogram forgets over ~30 beats
ACCENT_SPAN = 1.0 / 3.0  # of a beat: the low-band flux after a beat that is its accent
THREE_MARGIN = 1.5  # the 3-beat histogram's contrast must beat the 4-beat one by this factor


@dataclass
class BeatState:
    """What the clock says at one hop."""

    is_beat: bool = False
    beat_phase: float = 0.0  # [0, 1)
    bar_phase: float = 0.0  # [0, 1)
    is_downbeat: bool = False
    is_phrase_start: bool = False
    meter: int = 4
    bpm: float = 0.0


@dataclass
class BeatClock:
    """Feed `step` one hop at a time (hop index, onset strength in [0, 1], is it an onset,
    low-band flux in dB); it returns the hop's `BeatState`."""

    hops_per_s: float
    history: list[float] = field(default_factory=list)
    period: float = 0.0  # hops per beat, 0 while unknown
    next_beat: float = 0.0
    last_beat: float = -1e9
    last_onset: int = -1
    since_estimate: int = 0
    beats_seen: int = 0  # beats fired so far; the last one was beat beats_seen - 1
    bars_seen: int = 0  # downbeats fired so far
    meter: int = 4
    offset: int = 0  # the bar position (beats_seen mod meter) of downbeats
    accent: float = 0.0  # the low-band flux gathered since the last beat
    accents: dict[int, np.ndarray] = field(default_factory=lambda: {m: np.zeros(m) for m in METERS})

    def step(self, k: int, onset: float, is_onset: bool, low_flux: float = 0.0) -> BeatState:
        is_beat = self._beat(k, onset, is_onset)
        state = BeatState(is_beat=is_beat, meter=self.meter, bpm=self.bpm)
        if is_beat:
            self._count_bar(state)
        if self.period > 0 and self.beats_seen > 0:
            span = max(self.next_beat - self.last_beat, 1.0)
            state.beat_phase = float(min(max((k - self.last_beat) / span, 0.0), BELOW_ONE))
            position = (self.beats_seen - 1 - self.offset) % self.meter
            state.bar_phase = float(min((position + state.beat_phase) / self.meter, BELOW_ONE))
            if k - self.last_beat <= ACCENT_SPAN * self.period:
                self.accent += low_flux
        return state

    def _count_bar(self, state: BeatState) -> None:
        if self.beats_seen > 0:  # the previous beat's accent is complete now
            for meter, histogram in self.accents.items():
                histogram *= ACCENT_DECAY
                histogram[(self.beats_seen - 1) % meter] += self.accent
        self.accent = 0.0
        self.beats_seen += 1
        if self.beats_seen >= 8:  # two bars before the accents mean anything
            self.meter = self._meter()
            self.offset = int(np.argmax(self.accents[self.meter]))
        state.meter = self.meter
        if (self.beats_seen - 1 - self.offset) % self.meter == 0:
            state.is_downbeat = True
            state.is_phrase_start = self.bars_seen % bars_per_phrase(self.bpm, self.meter) == 0
            self.bars_seen += 1

    def _meter(self) -> int:
        def contrast(histogram: np.ndarray) -> float:
            mean = float(histogram.mean())
            return (float(histogram.max()) - mean) / mean if mean > 1e-9 else 0.0

        three, four = contrast(self.accents[3]), contrast(self.accents[4])
        return 3 if three > THREE_MARGIN * four and three > 0.5 else 4

    def _beat(self, k: int, onset: float, is_onset: bool) -> bool:
        window = int(TEMPO_WINDOW_S * self.hops_per_s)
        self.history.append(onset)
        if len(self.history) > window:
            del self.history[0]
        self.since_estimate += 1
        if is_onset:
            self.last_onset = k
        if self.since_estimate >= int(TEMPO_EVERY_S * self.hops_per_s) and len(self.history) > (
            window // 2
        ):
            self.since_estimate = 0
            self._estimate()
            if self.period > 0:
                self._align(k)
        if self.period <= 0:
            return False
        tolerance = 0.25 * self.period
        if is_onset and 0 < self.next_beat - k <= tolerance:
            # an onset just before the predicted beat: the beat is now (re-lock the phase)
            self.last_beat, self.next_beat = k, k + self.period
            return True
        if is_onset and 0 < k - self.last_beat <= tolerance:
            # an onset just after the beat we fired: shift the phase, do not fire twice
            self.last_beat, self.next_beat = k, k + self.period
            return False
        if k >= self.next_beat:
            self.last_beat = k
            self.next_beat = max(self.next_beat + self.period, k + 0.5 * self.period)
            return True
        return False

    def _estimate(self) -> None:
        env = np.asarray(self.history, dtype=np.float64)
        env = env - env.mean()
        energy = float(env @ env)
        if energy <= 1e-9:
            self.period = 0.0
            return
        lo = int(np.floor(60.0 * self.hops_per_s / MAX_BPM))
        hi = int(np.ceil(60.0 * self.hops_per_s / MIN_BPM))
        lags = np.arange(lo, hi + 1)
        ac = np.array([env[lag:] @ env[:-lag] for lag in lags]) / energy
        bpm = 60.0 * self.hops_per_s / lags
        # log-normal prior around 120 BPM, as librosa's tracker uses, to pick the tactus
        weighted = ac * np.exp(-0.5 * (np.log2(bpm / 120.0)) ** 2)
        best = int(np.argmax(weighted))
        if ac[best] < 0.1:
            self.period = 0.0
            return
        offset = 0.0
        if 0 < best < len(lags) - 1:  # parabolic refinement for a fractional period
            a, b, c = weighted[best - 1], weighted[best], weighted[best + 1]
            denominator = a - 2 * b + c
            offset = 0.5 * (a - c) / denominator if denominator else 0.0
        self.period = float(lags[best] + offset)

    def _align(self, k: int) -> None:
        """Move the next beat onto the phase where the window's onsets pile up, unless the grid
        is already within a quarter beat of it."""
        env = np.maximum(np.asarray(self.history, np.float64), 0.0)
        times = k - env.size + 1 + np.arange(env.size)
        bins = (np.mod(times / self.period, 1.0) * PHASE_BINS).astype(np.int64) % PHASE_BINS
        recency = np.linspace(0.25, 1.0, env.size)
        profile = np.bincount(bins, weights=env * recency, minlength=PHASE_BINS)
        profile = profile + 0.5 * (np.roll(profile, 1) + np.roll(profile, -1))  # circular blur
        phase = (int(np.argmax(profile)) + 0.5) / PHASE_BINS
        best = self.period * (np.ceil(k / self.period - phase) + phase)  # next grid beat > k
        if best <= k:
            best += self.period
        off = (best - self.next_beat + 0.5 * self.period) % self.period - 0.5 * self.period
        if self.beats_seen == 0 or abs(off) > 0.25 * self.period:
            while best - self.last_beat < 0.5 * self.period:
                best += self.period
            self.next_beat = best

    @property
    def bpm(self) -> float:
        return 60.0 * self.hops_per_s / self.period if self.period > 0 else 0.0
