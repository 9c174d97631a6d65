"""Causal audio analysis: FrameFeatures from a stream of audio blocks, one frame at a time.

The offline analysis sees the whole track; live mode only sees the past. `CausalAnalyzer` keeps
the offline definitions and ranges (`visualizer.analysis.features.FrameFeatures`) but computes
every value from samples that have already arrived:

- the stream is cut into the offline analysis's hops (`visualizer.analysis.spectral.HOP` =
  256 samples, N_FFT = 2048) and each hop looks at the window that ENDS at the hop (a
  Hann-windowed STFT column), where the offline analysis centres it;
- chroma uses the offline pitch-class filter bank (`chroma_basis`, bins below 4 kHz), the bands
  and energy the same edges and RMS; onsets the same SuperFlux-style log-mel flux (each mel
  band against the previous hop's 3-band maximum) - without the offline HPSS masks and the
  attack shift, which need look-ahead;
- frame ``i`` is shown at ``t_i = i / fps``, i.e. at sample ``s_i = floor(i * sr / fps)``; it is
  emitted as soon as sample ``s_i`` has arrived and it pools the hops ending in
  ``(s_{i-1}, s_i]`` (onsets max-pooled so a short transient is never lost between frames);
- normalisation is a running peak with a slow decay (half-life 20 s) instead of the track's
  maximum, so a quiet intro reads louder live than offline until something louder comes;
- beats, beat and bar phase, downbeats, meter and phrases come from a causal beat clock
  (`visualizer.analysis.causal_beats`: tempo by autocorrelation of the last 8 s of onset
  envelope, a flywheel that re-locks its phase on onsets, bars from low-band accents); sections
  from a slow/fast novelty detector.

Every value depends only on the sample stream, never on how it was cut into blocks: hops are
computed from identical sample windows in the same order, so feeding a file in blocks of any size
gives bit-identical features (`analyze_causal` is exactly that, with one block).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from visualizer.analysis.causal_beats import BeatClock, BeatState
from visualizer.analysis.features import FrameFeatures
from visualizer.analysis.spectral import (
    BAND_EDGES,
    CHROMA_FMAX,
    HOP,
    N_FFT,
    N_MELS,
    SILENCE_RMS,
    chroma_basis,
    mel_basis,
)

PEAK_HALF_LIFE_S = 20.0  # running-peak normaliser forgets a loud passage over ~20 s
RISE_SMOOTH_S, RISE_LAG_S = 0.05, 0.1  # energy rise: smoothed energy minus its value 0.1 s ago
ONSET_DELTA = 0.12  # onset when the normalised flux exceeds its running mean by this much
ONSET_MIN_GAP_S = 0.08
SECTION_MIN_GAP_S = 8.0
LOW_FLOOR_DB, LOW_RANGE_DB, LOW_CAP_DB = -100.0, 40.0, 12.0  # the low band's flux (bar accents)
SECTION_NOVELTY = 0.35


@dataclass
class _Peak:
    """Running peak with exponential decay: x / peak is a causal stand-in for x / max(x)."""

    decay: float
    floor: float
    value: float = 0.0

    def normalise(self, x: float) -> float:
        self.value = max(x, self.value * self.decay, self.floor)
        return min(1.0, x / self.value)


@dataclass
class _Hop:
    end: int  # sample index one past the window's last sample
    chroma: np.ndarray
    onset: float
    is_onset: bool
    energy: float
    rise: float
    bands: np.ndarray
    beat: BeatState
    is_section_start: bool


class CausalAnalyzer:
    """Turn audio blocks into FrameFeatures, causally and independently of the block size.

    ``push(block)`` takes mono float samples (any length, values in [-1, 1]) and returns the
    frames completed by them, in order. ``sr`` is the sample rate of the stream, ``fps`` the
    video frame rate.
    """

    def __init__(self, sr: int, fps: Fraction | int | float) -> None:
        self.sr = int(sr)
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        self.hop, self.n_fft = HOP, N_FFT
        self.window = np.hanning(self.n_fft + 1)[:-1]  # periodic Hann, as the offline STFT
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.sr)
        self._n_low = int(np.searchsorted(freqs, CHROMA_FMAX))
        self._chroma_fb = chroma_basis(self.sr, self._n_low).astype(np.float64)
        self._mel_fb = mel_basis(self.sr, self.n_fft, N_MELS)
        low, high = BAND_EDGES
        self._bands = [freqs < low, (freqs >= low) & (freqs < high), freqs >= high]
        hops_per_s = self.sr / self.hop
        self._energy_hist: list[float] = []  # recent hop energies for the smoothed rise
        self._smooth_n = max(1, round(RISE_SMOOTH_S * hops_per_s))
        self._lag_n = max(1, round(RISE_LAG_S * hops_per_s))
        decay = 0.5 ** (1.0 / (PEAK_HALF_LIFE_S * hops_per_s))
        self._onset_peak = _Peak(decay, 1.0)  # dB flux; below 1 dB counts as quiet
        # a live input's level is unknown: only near-silence (< -40 dBFS) is kept from scaling up
        self._energy_peak = _Peak(decay, 0.01)
        self._rise_peak = _Peak(decay, 0.05)
        self._band_peaks = [_Peak(decay, 1e-3) for _ in range(3)]
        self._onset_mean = 0.0
        self._onset_alpha = 1.0 / (0.5 * hops_per_s)
        self._last_onset_hop = -(10**9)
        self._min_gap = max(1, round(ONSET_MIN_GAP_S * hops_per_s))
        self._beats = BeatClock(hops_per_s)
        self._low_db = LOW_FLOOR_DB  # the previous hop's floored low-band level
        self._low_peak = LOW_FLOOR_DB  # running peak of the low-band level (dB)
        self._low_decay = 6.0 / hops_per_s  # dB per hop: the peak forgets 6 dB a second
        self._fast = np.zeros(4)
        self._slow = np.zeros(4)
        self._fast_alpha = 1.0 / (2.0 * hops_per_s)
        self._slow_alpha = 1.0 / (12.0 * hops_per_s)
        self._last_section_hop = 0
        self._tail = np.zeros(self.n_fft, dtype=np.float32)  # the last n_fft samples received
        self._received = 0  # samples received so far
        self._k = 0  # next hop index; hop k ends at sample (k + 1) * hop
        self._prev_logmel: np.ndarray | None = None
        self._frame = 0  # next frame index
        self._pending: list[_Hop] = []  # hops of the frame being built
        self._last: _Hop | None = None

    @property
    def frames_emitted(self) -> int:
        return self._frame

    def frame_sample(self, index: int) -> int:
        """The sample index at which frame ``index`` is shown: floor(index * sr / fps)."""
        return int(Fraction(index * self.sr) / self.fps)

    def push(self, block: np.ndarray) -> list[FrameFeatures]:
        """Feed the next samples (1-D float array); return the frames they complete."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        start = self._received
        stream = np.concatenate([self._tail, block])  # stream[j] is sample start - n_fft + j
        self._received += block.size
        out: list[FrameFeatures] = []
        while True:
            hop_end = (self._k + 1) * self.hop
            frame_at = self.frame_sample(self._frame)
            if hop_end <= frame_at and hop_end <= self._received:
                offset = hop_end - start + self.n_fft
                self._pending.append(self._analyse_hop(stream[offset - self.n_fft : offset]))
                self._k += 1
            elif frame_at < hop_end and frame_at < self._received:
                out.append(self._emit_frame())
            else:
                break
        self._tail = stream[-self.n_fft :].copy()
        return out

    def _analyse_hop(self, samples: np.ndarray) -> _Hop:
        k = self._k
        x = samples.astype(np.float64)
        spectrum = np.abs(np.fft.rfft(x * self.window)) ** 2
        rms = float(np.sqrt(np.mean(x * x)))
        logmel = 10.0 * np.log10(np.maximum(self._mel_fb @ spectrum, 1e-10))
        flux = 0.0
        if self._prev_logmel is not None:
            flux = float(np.mean(np.maximum(0.0, logmel - self._prev_logmel)))
        # the next hop compares against this hop's 3-band maximum (vibrato is not an onset)
        padded = np.pad(logmel, 1, mode="edge")
        self._prev_logmel = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
        onset = self._onset_peak.normalise(flux)
        threshold = self._onset_mean + ONSET_DELTA
        is_onset = onset >= threshold and k - self._last_onset_hop >= self._min_gap
        if is_onset:
            self._last_onset_hop = k
        self._onset_mean += self._onset_alpha * (onset - self._onset_mean)
        if rms < SILENCE_RMS:
            chroma = np.zeros(12)
        else:
            chroma = self._chroma_fb @ spectrum[: self._n_low]
            top = float(chroma.max())
            chroma = chroma / top if top > 1e-12 else np.zeros(12)
        loud = rms >= SILENCE_RMS
        energy = self._energy_peak.normalise(rms if loud else 0.0)
        bands = np.array(
            [
                p.normalise(float(np.sqrt(spectrum[m].mean())) if loud else 0.0)
                for p, m in zip(self._band_peaks, self._bands, strict=True)
            ]
        )
        history = self._energy_hist
        history.append(energy)
        del history[: max(0, len(history) - self._smooth_n - self._lag_n)]
        smooth_now = sum(history[-self._smooth_n :]) / min(len(history), self._smooth_n)
        earlier = history[: -self._lag_n][-self._smooth_n :] or [0.0]
        rise = self._rise_peak.normalise(max(0.0, smooth_now - sum(earlier) / len(earlier)))
        low_flux = self._low_flux(float(spectrum[self._bands[0]].mean()))
        beat = self._beats.step(k, onset, is_onset, low_flux)
        vector = np.concatenate([[energy], bands])
        self._fast += self._fast_alpha * (vector - self._fast)
        self._slow += self._slow_alpha * (vector - self._slow)
        novelty = float(np.abs(self._fast - self._slow).sum() / (self._slow.sum() + 0.1))
        gap = SECTION_MIN_GAP_S * self.sr / self.hop
        is_section = novelty > SECTION_NOVELTY and k - self._last_section_hop >= gap
        if is_section:
            self._last_section_hop = k
        return _Hop(
            (k + 1) * self.hop,
            chroma,
            onset,
            is_onset,
            energy,
            rise,
            bands,
            beat,
            is_section,
        )

    def _low_flux(self, power: float) -> float:
        """The rise in dB of the low band (< 200 Hz) over the last hop, against a floor
        LOW_RANGE_DB under its running peak and capped at LOW_CAP_DB, so the music starting out
        of silence is not a hundred times any kick."""
        level = 10.0 * float(np.log10(max(power, 1e-10)))
        self._low_peak = max(level, self._low_peak - self._low_decay)
        level = max(level, self._low_peak - LOW_RANGE_DB)
        flux = min(max(0.0, level - self._low_db), LOW_CAP_DB)
        self._low_db = level
        return flux

    def _emit_frame(self) -> FrameFeatures:
        hops, self._pending = self._pending, []
        if hops:
            self._last = hops[-1]
        last = self._last
        energy = last.energy if last else 0.0
        beat = last.beat if last else BeatState()
        index = self._frame
        self._frame += 1
        return FrameFeatures(
            index=index,
            chroma=(last.chroma if last else np.zeros(12)).astype(np.float32),
            onset_strength=max((h.onset for h in hops), default=0.0),
            is_onset=any(h.is_onset for h in hops),
            energy=energy,
            energy_rise=max((h.rise for h in hops), default=0.0),
            bands=(last.bands if last else np.zeros(3)).astype(np.float32),
            is_beat=any(h.beat.is_beat for h in hops),
            is_section_start=index == 0 or any(h.is_section_start for h in hops),
            tempo=float(beat.bpm),
            beat_phase=beat.beat_phase,
            bar_phase=beat.bar_phase,
            is_downbeat=any(h.beat.is_downbeat for h in hops),
            is_phrase_start=any(h.beat.is_phrase_start for h in hops),
            meter=beat.meter,
        )


def analyze_causal(
    samples: np.ndarray, sr: int, fps: Fraction | int | float, *, block: int | None = None
) -> list[FrameFeatures]:
    """Causal features of a whole signal: one FrameFeatures per frame ``i`` with ``s_i < len``.

    ``samples`` is mono float (N,); ``block`` (samples) only exists to show that the result does
    not depend on it. The frame count is ceil(N * fps / sr), as the offline analysis counts them.
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    analyzer = CausalAnalyzer(sr, fps)
    n_frames = frame_count(samples.size, sr, analyzer.fps)
    step = samples.size if not block else int(block)
    rows: list[FrameFeatures] = []
    for begin in range(0, samples.size, max(1, step)):
        rows.extend(analyzer.push(samples[begin : begin + step]))
    return rows[:n_frames]


def frame_count(n_samples: int, sr: int, fps: Fraction) -> int:
    """Frames whose time i / fps lies inside the audio: ceil(n_samples * fps / sr)."""
    value = Fraction(n_samples) * Fraction(fps) / sr
    return int(-(-value.numerator // value.denominator))
