"""The analysis itself: samples -> `Features` on the frame clock (see `analysis.features`).

Budget: a 4-minute track in a few seconds on 2 CPU cores, in a fresh process. Hence one STFT,
computed in chunks and reduced on the fly to the few small matrices the features need (the full
spectrogram is never held), median-filter HPSS on reduced grids, and numpy beat tracking in
`visualizer.analysis.rhythm` instead of librosa's numba-compiled tracker.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d

from visualizer.analysis import rhythm
from visualizer.analysis.features import Features, n_frames_for, times_to_frames
from visualizer.progress import ProgressCallback, report

N_FFT = 2048  # 93 ms at 22050 Hz: enough frequency resolution for chroma
HOP = 256  # 11.6 ms at 22050 Hz: onsets land within a frame even at 60 fps
CHROMA_POOL = 4  # chroma and its HPSS run on 4-hop blocks (46 ms)
CHROMA_FMAX = 4000.0  # Hz; above this a spectrum holds overtones and noise, not pitch classes
N_MELS = 128
BAND_EDGES = (200.0, 2000.0)  # Hz: low < 200 <= mid < 2000 <= high
SILENCE_RMS = 1e-4  # -80 dBFS: quieter analysis frames count as silence
MIN_ONSET_DB = 4.0  # mean log-mel flux of a clear onset (music peaks at 15-50, a held chord < 0.3)
ATTACK_HOPS = 13  # hops (0.15 s): a sound at t = 0 that decays within them is an onset there
ONSET_SHIFT = 3  # hops: the log-flux peak leads the true attack (measured on click tracks)
SECTION_KERNEL = 16  # blocks (beats, or 0.5 s without beats) each side of a section boundary
SECTION_THRESHOLD = 0.4  # novelty in [0, 1]; 0.5+ where texture and key both change
STEPS = 6


def analyze_samples(
    samples: np.ndarray,
    sr: int,
    *,
    fps: Fraction,
    progress: ProgressCallback | None = None,
) -> Features:
    """Features of mono float32 ``samples`` (n,) at ``sr`` Hz on the frame clock of ``fps``."""
    y = np.asarray(samples, dtype=np.float32)
    n_frames = n_frames_for(Fraction(y.shape[0], sr), fps)
    rate = sr / HOP  # analysis frames per second
    report(progress, "analyze", 0, STEPS, "step", "analyze")
    spec = _spectral_reductions(y, sr)
    report(progress, "analyze", 1, STEPS, "step", "analyze")
    lo = _pool_starts(n_frames, fps, spec["rms"].shape[0], rate)
    silent = float(spec["rms"].max(initial=0.0)) < SILENCE_RMS

    energy, rise, bands = _energy_features(spec, rate)
    report(progress, "analyze", 2, STEPS, "step", "analyze")
    percussive_mask, harmonic_mask = _hpss_masks(spec["mel"])
    envelope = _onset_envelope(_hold_end(spec["mel"], y.shape[0]), percussive_mask)
    onset_strength = _pool(envelope, lo, np.maximum)  # already in [0, 1], on the track's scale
    peaks = rhythm.peak_pick(envelope, rate=rate)
    report(progress, "analyze", 3, STEPS, "step", "analyze")
    # no tempo without onsets: steady audio only has noise in its envelope
    tempo = 0.0 if silent or peaks.size < 2 else rhythm.estimate_tempo(envelope, rate=rate)
    beat_idx = rhythm.track_beats(envelope, rate=rate, bpm=tempo)
    if beat_idx.size < 2:
        beat_idx, tempo = np.zeros(0, np.int64), 0.0
    report(progress, "analyze", 4, STEPS, "step", "analyze")
    chroma_blocks = _chroma(spec, harmonic_mask, sr)
    block_lo = _pool_starts(n_frames, fps, chroma_blocks.shape[1], rate / CHROMA_POOL)
    chroma = _column_max_normalise(_pool(chroma_blocks, block_lo, np.add))
    report(progress, "analyze", 5, STEPS, "step", "analyze")
    section_times = _section_times(spec["mel"], chroma_blocks, beat_idx, rate, silent)
    report(progress, "analyze", 6, STEPS, "step", "analyze")

    sections = times_to_frames(section_times, fps, n_frames)
    if sections.size == 0 or sections[0] != 0:
        sections = np.concatenate([[0], sections]).astype(np.int64)
    return Features(
        fps=fps,
        n_frames=n_frames,
        duration=y.shape[0] / sr,
        chroma=chroma.astype(np.float32),
        onset_strength=onset_strength.astype(np.float32),
        onsets=times_to_frames(_refine_peaks(envelope, peaks) / rate, fps, n_frames),
        energy=_pool_mean(energy, lo).astype(np.float32),
        energy_rise=_pool(rise, lo, np.maximum).astype(np.float32),
        bands=np.stack([_pool_mean(b, lo) for b in bands]).astype(np.float32),
        beats=times_to_frames(beat_idx / rate, fps, n_frames),
        tempo=float(tempo),
        sections=sections,
    )


# ---------------------------------------------------------------------------------------------
# One chunked STFT, reduced on the fly


def _spectral_reductions(y: np.ndarray, sr: int, chunk: int = 2048) -> dict[str, np.ndarray]:
    """Per-hop reductions of one STFT (centred frames, Hann window).

    rms (N,), mel power (N, 128), band power (N, 3), and the magnitude below CHROMA_FMAX
    averaged over CHROMA_POOL hops ("low", (N / CHROMA_POOL, bins)).
    """
    import scipy.fft

    padded = np.pad(y, N_FFT // 2)
    if padded.shape[0] < N_FFT:
        padded = np.pad(padded, (0, N_FFT - padded.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    n = frames.shape[0]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    mel_filters = mel_basis(sr).T  # (bins, mels)
    n_low = int(np.searchsorted(freqs, CHROMA_FMAX))
    band_starts = np.concatenate([[0], np.searchsorted(freqs, BAND_EDGES)])  # low, mid, high
    band_sizes = np.diff(np.append(band_starts, freqs.size)).astype(np.float32)
    rms = np.empty(n, np.float32)
    mel = np.empty((n, N_MELS), np.float32)
    band = np.empty((n, 3), np.float32)
    n_blocks = max(1, -(-n // CHROMA_POOL))
    low = np.zeros((n_blocks, n_low), np.float32)  # pooled per chunk: hours of audio fit
    chunk -= chunk % CHROMA_POOL
    for start in range(0, n, chunk):
        block = frames[start : start + chunk]
        stop = start + block.shape[0]
        rms[start:stop] = np.sqrt(np.einsum("ij,ij->i", block, block) / N_FFT)
        spectrum = scipy.fft.rfft(block * window, axis=1, workers=-1)
        power = spectrum.real**2 + spectrum.imag**2
        mel[start:stop] = power @ mel_filters
        band[start:stop] = np.add.reduceat(power, band_starts, axis=1) / band_sizes
        magnitude = np.sqrt(power[:, :n_low])
        pad = -magnitude.shape[0] % CHROMA_POOL  # the last chunk may end mid-block
        magnitude = np.pad(magnitude, ((0, pad), (0, 0))).reshape(-1, CHROMA_POOL, n_low)
        first = start // CHROMA_POOL
        low[first : first + magnitude.shape[0]] = magnitude.mean(1)
    mel_of_bin = np.argmax(mel_filters[:n_low], axis=1)  # the mel band each low bin feeds most
    return {"rms": rms, "mel": mel, "band": band, "low": low, "mel_of_bin": mel_of_bin}


# ---------------------------------------------------------------------------------------------
# Pooling analysis frames onto video frames


def _refine_peaks(envelope: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Peak positions (float, in hops) refined between hops by parabolic interpolation."""
    positions = peaks.astype(np.float64)
    inner = (peaks > 0) & (peaks < envelope.size - 1)
    k = peaks[inner]
    a, b, c = envelope[k - 1], envelope[k], envelope[k + 1]
    denom = a - 2.0 * b + c
    safe = np.where(denom < 0, denom, -1.0)
    positions[inner] += np.where(denom < 0, np.clip(0.5 * (a - c) / safe, -0.5, 0.5), 0.0)
    return positions


def _pool_starts(n_frames: int, fps: Fraction, n_analysis: int, rate: float) -> np.ndarray:
    """First analysis frame of each video frame's window [t_i - P/2, t_i + P/2).

    Analysis frame k is centred at k / rate. Windows are contiguous; one that holds no analysis
    frame (fps above the analysis rate) takes the next one.
    """
    edges = (np.arange(n_frames, dtype=np.float64) - 0.5) / float(fps)
    starts = np.ceil(edges * rate - 1e-9).astype(np.int64)
    return np.clip(starts, 0, max(0, n_analysis - 1))


def _pool(x: np.ndarray, starts: np.ndarray, op) -> np.ndarray:
    """``op``.reduceat over the last axis of ``x`` at ``starts``; zeros where x is empty."""
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1] + (starts.size,), np.float32)
    return op.reduceat(x, starts, axis=-1)


def _pool_mean(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    total = _pool(x, starts, np.add)
    stops = np.append(starts[1:], x.shape[-1])
    counts = np.maximum(stops - starts, 1)
    return total / counts


def _normalise(x: np.ndarray, percentile: float = 100.0) -> np.ndarray:
    """x / (a high percentile of x), clipped to [0, 1]; all zeros when x is all (near) zero."""
    x = np.asarray(x, np.float32)
    if x.size == 0:
        return x
    top = float(np.percentile(x, percentile))
    if top <= 1e-12:
        top = float(x.max())
    return np.clip(x / top, 0.0, 1.0) if top > 1e-12 else np.zeros_like(x)


def _column_max_normalise(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=0, keepdims=True)
    return np.divide(x, top, out=np.zeros_like(x), where=top > 1e-12)


# ---------------------------------------------------------------------------------------------
# Features


def _energy_features(spec: dict, rate: float) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """energy (N,), energy_rise (N,), and three band energies, each in [0, 1]."""
    rms = spec["rms"]
    loud = rms >= SILENCE_RMS
    energy = _normalise(np.where(loud, rms, 0.0), 99.5)
    smooth = uniform_filter1d(energy, max(1, int(round(0.05 * rate))), mode="nearest")
    lag = max(1, int(round(0.1 * rate)))
    rise = np.clip(
        # [:size], not smooth[:-lag]: a track shorter than the lag must still line up.
        smooth
        - np.concatenate([np.full(lag, smooth[0] if smooth.size else 0), smooth])[: smooth.size],
        0,
        None,
    )
    bands = [_normalise(np.where(loud, np.sqrt(spec["band"][:, b]), 0.0), 99.5) for b in range(3)]
    return energy, _normalise(rise[: rms.size]), bands


def _hpss_masks(mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft HPSS masks from mel power (N, 128): percussive (N, 128) and harmonic (M, 128).

    Median filtering in the mel domain on a coarse grid keeps this cheap: the harmonic estimate
    is a median over 9 blocks of CHROMA_POOL hops (0.42 s) in time, the percussive one a median
    over 9 mel bands. The harmonic mask stays on the block grid (M = ceil(N / CHROMA_POOL)),
    where chroma is computed.
    """
    n = mel.shape[0]
    m = max(1, -(-n // CHROMA_POOL))
    blocks = np.pad(mel, ((0, m * CHROMA_POOL - n), (0, 0))).reshape(m, CHROMA_POOL, -1).mean(1)
    harmonic_blocks = median_filter(blocks, size=(9, 1), mode="reflect")
    percussive = median_filter(mel, size=(1, 9), mode="reflect")
    harmonic = np.repeat(harmonic_blocks, CHROMA_POOL, axis=0)[:n]
    percussive_mask = percussive**2 / (harmonic**2 + percussive**2 + 1e-20)
    percussive_blocks = median_filter(blocks, size=(1, 9), mode="reflect")
    harmonic_mask = harmonic_blocks**2 / (harmonic_blocks**2 + percussive_blocks**2 + 1e-20)
    return percussive_mask.astype(np.float32), harmonic_mask.astype(np.float32)


def _onset_envelope(mel: np.ndarray, percussive_mask: np.ndarray) -> np.ndarray:
    """Percussive onset strength (N,) in [0, 1] from mel power (N, 128) and its HPSS mask.

    The positive log-power flux of the percussive part against the previous hop's 3-band
    maximum (SuperFlux-style, so vibrato is not an onset), shifted onto the attack.
    """
    n = mel.shape[0]
    if n < 2 or not np.any(mel > 0):
        return np.zeros(n, np.float32)
    db = 10.0 * np.log10(np.maximum(mel * percussive_mask, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    reference = maximum_filter1d(db, 3, axis=1)
    flux = np.maximum(db[1:] - reference[:-1], 0.0).mean(axis=1)
    flux = np.concatenate([np.zeros(1 + ONSET_SHIFT), flux])[:n]  # align to the attack
    flux[0] = max(flux[0], min(_attack_at_start(db), float(flux[1:].max(initial=0.0))))
    # Normalised to the strongest onset, but never to less than a real onset's flux: steady
    # audio (a held chord) has only noise-level flux, which must not become full-strength onsets.
    return np.clip(flux / max(float(flux.max()), MIN_ONSET_DB), 0.0, 1.0).astype(np.float32)


def _hold_end(mel: np.ndarray, n_samples: int) -> np.ndarray:
    """``mel`` (N, 128) with the hops whose window runs past the end of the audio replaced by
    the last hop whose window lies inside it.

    Those windows are partly silence: the end of a file (or of a note cut by it) would make a
    broadband click there, and so an onset. Holding the spectrum says "the sound went on as it
    was", which is all the audio tells. (The start needs no such care: `_attack_at_start`.)
    """
    last = (n_samples - N_FFT // 2) // HOP  # the last hop whose window ends at or before the end
    if last < 0 or last + 1 >= mel.shape[0]:
        return mel
    held = mel.copy()
    held[last + 1 :] = mel[last]
    return held


def _attack_at_start(db: np.ndarray) -> float:
    """Onset strength at t = 0 from percussive log-mel power ``db`` (N, 128), in dB.

    Nothing comes before the first hop to compare it with. A sound that starts at t = 0 is an
    attack: the first hop (centred on t = 0) holds its peak and the level falls within the next
    ``ATTACK_HOPS`` hops; it then counts as rising from the track's floor, like any onset. Audio
    cut mid-note (a file that starts inside a held sound) keeps or gains level as the first
    windows fill: the cut is not an onset.
    """
    after = db[1 : 1 + ATTACK_HOPS]
    if after.shape[0] == 0:
        return 0.0
    drop = float(np.maximum(db[0] - after.min(axis=0), 0.0).mean())
    if drop < MIN_ONSET_DB:
        return drop
    return float(np.maximum(db[0] - db.min(), 0.0).mean())


def mel_basis(sr: int, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular mel filters from 0 Hz to sr / 2.

    The same numbers as ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`` (Slaney mel
    scale, area-normalised triangles), in numpy: importing librosa costs ~110 MiB of resident
    memory and a second of start-up for this one table.
    """
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    # float32 before the area normalisation, then again after it, as librosa rounds
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights


_MEL_LINEAR_HZ = 200.0 / 3  # Slaney: linear below 1 kHz at 3 mels per 200 Hz,
_MEL_LOG_STEP = np.log(6.4) / 27.0  # then logarithmic, 27 mels per factor 6.4


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _MEL_LINEAR_HZ
    log = 1000.0 / _MEL_LINEAR_HZ + np.log(np.maximum(hz, 1e-10) / 1000.0) / _MEL_LOG_STEP
    return np.where(hz >= 1000.0, log, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    linear = mel * _MEL_LINEAR_HZ
    log = 1000.0 * np.exp(_MEL_LOG_STEP * (mel - 1000.0 / _MEL_LINEAR_HZ))
    return np.where(mel >= 1000.0 / _MEL_LINEAR_HZ, log, linear)


def chroma_basis(sr: int, n_bins: int) -> np.ndarray:
    """(12, n_bins) weights folding linear STFT bins (of N_FFT) onto pitch classes, C first.

    Each bin spreads over the pitch classes near its frequency with a Gaussian as wide as the
    bin (at least a third of a semitone), weighted by a 2-octave Gaussian around C5 like
    librosa's chroma filters; bins below 40 Hz are ignored. (librosa's own chroma filter
    costs a one-second numba compilation in a fresh process.)
    """
    freqs = np.arange(n_bins) * sr / N_FFT
    valid = freqs >= 40.0
    f = np.where(valid, freqs, 40.0)
    pitch = 12.0 * np.log2(f / 440.0) + 69.0  # MIDI number, float
    width = np.maximum(1.0 / 3.0, 12.0 * np.log2((f + 0.5 * sr / N_FFT) / f))
    classes = np.arange(12)[:, None]
    distance = (pitch[None, :] - classes + 6.0) % 12.0 - 6.0  # circular, in semitones
    weights = np.exp(-0.5 * (distance / width[None, :]) ** 2)
    weights /= weights.sum(axis=0, keepdims=True)
    octave_weight = np.exp(-0.5 * ((pitch / 12.0 - 1.0 - 5.0) / 2.0) ** 2)
    return (weights * octave_weight * valid).astype(np.float32)


def _chroma(spec: dict, harmonic_mask: np.ndarray, sr: int) -> np.ndarray:
    """Harmonic chroma (12, M) in [0, 1] on CHROMA_POOL-hop blocks, C first; 0 in silence."""
    low, rms = spec["low"], spec["rms"]
    m = low.shape[0]
    if m == 0 or not np.any(low > 0):
        return np.zeros((12, m), np.float32)
    harmonic = low * harmonic_mask[:m, spec["mel_of_bin"]]
    chroma = chroma_basis(sr, low.shape[1]) @ (harmonic**2).T  # (12, M)
    pad = m * CHROMA_POOL - rms.shape[0]
    block_rms = np.pad(rms, (0, max(0, pad)))[: m * CHROMA_POOL].reshape(m, -1).max(1)
    chroma[:, block_rms < SILENCE_RMS] = 0.0
    return _column_max_normalise(chroma.astype(np.float32))


def _section_times(
    mel: np.ndarray, chroma_blocks: np.ndarray, beats: np.ndarray, rate: float, silent: bool
) -> np.ndarray:
    """Section start times in seconds (0 first) from beat-synchronous chroma + MFCC novelty."""
    import scipy.fft

    n = mel.shape[0]
    if silent or n == 0:
        return np.zeros(1)
    log_mel = np.log(np.maximum(mel, 1e-10)).T  # (128, N)
    mfcc = scipy.fft.dct(log_mel, axis=0, norm="ortho")[1:14]  # timbre, loudness-free
    chroma = np.repeat(chroma_blocks, CHROMA_POOL, axis=1)[:, :n]
    if chroma.shape[1] < n:
        chroma = np.pad(chroma, ((0, 0), (0, n - chroma.shape[1])))
    loud = np.log(np.maximum(mel.sum(axis=1), 1e-10))[None]
    feats = np.concatenate([chroma, mfcc, loud]).astype(np.float64)  # (26, N)
    if beats.size >= 2 * SECTION_KERNEL:
        starts = np.unique(np.concatenate([[0], beats]))
    else:
        starts = np.arange(0, n, max(1, int(round(0.5 * rate))))
    counts = np.diff(np.append(starts, n))
    blocks = np.add.reduceat(feats, starts, axis=1) / counts
    boundaries = rhythm.novelty_boundaries(
        blocks, kernel=SECTION_KERNEL, threshold=SECTION_THRESHOLD
    )
    times = starts[boundaries] / rate
    times[0] = 0.0
    return times
