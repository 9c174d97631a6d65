"""One STFT over a stream of samples, reduced chunk by chunk to the rows the features need.

Centred frames (N_FFT samples, Hann window) every HOP samples, as if the whole signal were padded
with N_FFT / 2 zeros at each end; frames come CHUNK at a time and only the overlap between two
chunks (N_FFT - HOP samples) is kept, so memory does not grow with the track. Each chunk reduces
to per-hop rows: RMS, mel power, band power, and the magnitude below CHROMA_FMAX averaged over
CHROMA_POOL hops. The filter banks are numpy tables equal to librosa's (importing librosa costs
~110 MiB of resident memory and a second of start-up for them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

N_FFT = 2048  # 93 ms at 22050 Hz: enough frequency resolution for chroma
HOP = 256  # 11.6 ms at 22050 Hz: onsets land within a frame even at 60 fps
CHUNK = 2048  # hops per STFT chunk; a multiple of CHROMA_POOL
CHROMA_POOL = 4  # chroma and its HPSS run on 4-hop blocks (46 ms)
CHROMA_FMAX = 4000.0  # Hz; above this a spectrum holds overtones and noise, not pitch classes
N_MELS = 128
BAND_EDGES = (200.0, 2000.0)  # Hz: low < 200 <= mid < 2000 <= high
SILENCE_RMS = 1e-4  # -80 dBFS: quieter analysis frames count as silence


def frame_chunks(blocks: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, int | None]]:
    """(frames, total) for consecutive chunks of centred frames of the samples in ``blocks``.

    ``frames`` float32 (k, N_FFT), k = CHUNK except in the last chunk (1 <= k <= CHUNK); the
    signal of n samples has 1 + n // HOP frames in all. ``total`` is n on the last chunk and None
    before it: the last chunk is the only one whose frames reach into the end padding.
    """
    half = N_FFT // 2
    need = (CHUNK - 1) * HOP + N_FFT  # samples spanned by one chunk of frames
    buffer = np.zeros(half, np.float32)  # the start padding
    total = 0
    for block in blocks:
        buffer = np.concatenate([buffer, np.asarray(block, np.float32)])
        total += block.shape[0]
        while buffer.shape[0] >= need:
            yield _frames(buffer[:need]), None
            buffer = buffer[CHUNK * HOP :]
    # at least N_FFT - HOP samples remain (the overlap), so the tail holds at least one frame
    tail = _frames(np.concatenate([buffer, np.zeros(half, np.float32)]))
    for start in range(0, tail.shape[0], CHUNK):
        last = start + CHUNK >= tail.shape[0]
        yield tail[start : start + CHUNK], total if last else None


def _frames(samples: np.ndarray) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]


class SpectrumReducer:
    """Per-hop reductions of chunks of STFT frames at ``sr`` Hz (see `reduce`)."""

    def __init__(self, sr: int):
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
        self.window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
        self.mel_filters = mel_basis(sr).T  # (bins, mels)
        self.n_low = int(np.searchsorted(freqs, CHROMA_FMAX))
        self.band_starts = np.concatenate([[0], np.searchsorted(freqs, BAND_EDGES)])
        self.band_sizes = np.diff(np.append(self.band_starts, freqs.size)).astype(np.float32)
        # the mel band each low bin feeds most
        self.mel_of_bin = np.argmax(self.mel_filters[: self.n_low], axis=1)

    def reduce(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """rms (k,), mel power (k, N_MELS), band power (k, 3) and "low": the magnitude below
        CHROMA_FMAX averaged over CHROMA_POOL hops (ceil(k / CHROMA_POOL), n_low); a last block
        that ends mid-way is averaged with zeros."""
        import scipy.fft

        rms = np.sqrt(np.einsum("ij,ij->i", frames, frames) / N_FFT)
        spectrum = scipy.fft.rfft(frames * self.window, axis=1, workers=-1)
        power = spectrum.real**2 + spectrum.imag**2
        mel = power @ self.mel_filters
        band = np.add.reduceat(power, self.band_starts, axis=1) / self.band_sizes
        magnitude = np.sqrt(power[:, : self.n_low])
        pad = -magnitude.shape[0] % CHROMA_POOL
        magnitude = np.pad(magnitude, ((0, pad), (0, 0))).reshape(-1, CHROMA_POOL, self.n_low)
        return {"rms": rms, "mel": mel, "band": band, "low": magnitude.mean(1)}


def mel_basis(
    sr: int,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    *,
    fmin: float = 0.0,
    fmax: float | None = None,
    area: bool = True,
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular mel filters from ``fmin`` to ``fmax`` Hz
    (default sr / 2).

    The same numbers as ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`` (Slaney mel
    scale, area-normalised triangles), in numpy; ``area=False`` leaves every triangle's peak at
    1, as torchaudio's ``melscale_fbanks(norm=None, mel_scale="slaney")``.
    """
    top = sr / 2.0 if fmax is None else fmax
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(top), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    # float32 before the area normalisation, then again after it, as librosa rounds
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    if area:
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
