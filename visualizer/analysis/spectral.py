"""The analysis itself: a stream of samples -> `Features` on the frame clock (`analysis.features`).

Budget: a 4-minute track in a few seconds on 2 CPU cores, in a fresh process, and memory that
does not grow with the samples (a one-hour mix analyses like a song). Hence one STFT, computed
chunk by chunk as the decoder streams (`visualizer.analysis.stft`) and reduced on the fly to small
per-hop rows (`visualizer.analysis.hop_rows`: median-filter HPSS on reduced grids, chroma per
block, the onset flux), and numpy beat tracking (`visualizer.analysis.beats`, a bar-pointer
HMM that follows tempo changes) instead of librosa's numba-compiled tracker.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import numpy as np
from scipy.ndimage import uniform_filter1d

from visualizer.analysis import bars, rhythm
from visualizer.analysis.beats import track_beats
from visualizer.analysis.downbeats import (
    LEVEL_PRIOR_OCTAVES,
    BeatRows,
    downbeat_salience,
    low_band_flux,
    metrical_level,
    reset_costs,
    track_downbeats,
)
from visualizer.analysis.features import Features, n_frames_for, times_to_frames
from visualizer.analysis.hop_rows import HopRows
from visualizer.analysis.stft import (
    BAND_EDGES,
    CHROMA_FMAX,
    CHROMA_POOL,
    HOP,
    N_FFT,
    N_MELS,
    SILENCE_RMS,
    SpectrumReducer,
    chroma_basis,
    frame_chunks,
    mel_basis,
)
from visualizer.progress import ProgressCallback, report

__all__ = [  # the STFT's parameters and tables, for the causal (live) analysis
    "BAND_EDGES",
    "CHROMA_FMAX",
    "HOP",
    "N_FFT",
    "N_MELS",
    "SILENCE_RMS",
    "analyze_samples",
    "analyze_stream",
    "chroma_basis",
    "mel_basis",
]

SECTION_KERNEL = 16  # blocks (beats, or 0.5 s without beats) each side of a section boundary
SECTION_THRESHOLD = 0.4  # novelty in [0, 1]; 0.5+ where texture and key both change
SECTION_EVERY_S = 75.0  # at least one section start per 75 s (the strongest changes)
SECTION_SPAN = 16384  # hops of section features (26 x float64 each) built at once
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
    return analyze_stream([y], sr, fps=fps, progress=progress)


def analyze_stream(
    blocks: Iterable[np.ndarray],
    sr: int,
    *,
    fps: Fraction,
    progress: ProgressCallback | None = None,
    given_beats: tuple[np.ndarray, np.ndarray | None] | None = None,
    tempo_hint: float | None = None,
) -> Features:
    """Features of a track given as consecutive mono float32 ``blocks`` of samples at ``sr`` Hz.

    The blocks are consumed as they come and never held together: memory grows only by the
    per-hop rows (~100 bytes per 11.6 ms hop), whatever the blocks' sizes. The result equals
    `analyze_samples` of the blocks joined. ``given_beats`` (beat times, downbeat times in
    seconds, from another tracker: `visualizer.analysis.neural`, or a beats file:
    `visualizer.analysis.beat_file`) replace the beat and downbeat tracking; downbeats of None
    are found among the given beats as among the tracker's. ``tempo_hint`` (BPM, ``--beats
    dsp:BPM``): the beats are tracked near that tempo (a prior LEVEL_PRIOR_OCTAVES wide) and kept
    at that metrical level.
    """
    report(progress, "analyze", 0, STEPS, "step", "analyze")
    reducer = SpectrumReducer(sr)
    n_samples = 0
    with HopRows(sr, reducer.mel_of_bin, reducer.n_low) as rows:
        for frames, total in frame_chunks(blocks):
            rows.add(reducer.reduce(frames), total)
            n_samples = total if total is not None else n_samples
        spec = rows.finish()
    report(progress, "analyze", 1, STEPS, "step", "analyze")
    n_frames = n_frames_for(Fraction(n_samples, sr), fps)
    rate = sr / HOP  # analysis frames per second
    n_hops = spec["rms"].shape[0]
    lo = _pool_starts(n_frames, fps, spec["rms"].shape[0], rate)
    silent = float(spec["rms"].max(initial=0.0)) < SILENCE_RMS

    energy, rise, bands = _energy_features(spec, rate)
    report(progress, "analyze", 2, STEPS, "step", "analyze")
    envelope = spec["envelope"]
    onset_strength = _pool(envelope, lo, np.maximum)  # already in [0, 1], on the track's scale
    peaks = rhythm.peak_pick(envelope, rate=rate)
    report(progress, "analyze", 3, STEPS, "step", "analyze")
    # no tempo without onsets: steady audio only has noise in its envelope
    beat_idx, tempo = np.zeros(0, np.int64), 0.0
    if given_beats is not None:
        beat_idx, tempo = _given(given_beats[0], rate, envelope.size)
    elif not silent and peaks.size >= 2:  # steady audio only has noise in its envelope
        if tempo_hint is None:
            beat_idx, tempo = track_beats(envelope, rate=rate)
            beat_idx, tempo = metrical_level(envelope, rate, beat_idx, tempo, _beat_rows(spec))
        else:  # the user's tempo, at the user's level
            beat_idx, tempo = track_beats(
                envelope, rate=rate, tempo=tempo_hint, octaves=LEVEL_PRIOR_OCTAVES
            )
    report(progress, "analyze", 4, STEPS, "step", "analyze")
    chroma_blocks = spec["chroma"]
    block_lo = _pool_starts(n_frames, fps, chroma_blocks.shape[1], rate / CHROMA_POOL)
    chroma = _column_max_normalise(_pool(chroma_blocks, block_lo, np.add))
    report(progress, "analyze", 5, STEPS, "step", "analyze")
    section_times = _section_times(spec["timbre"], chroma_blocks, beat_idx, rate, silent)
    if given_beats is not None and given_beats[1] is not None:
        down_idx, meter = bars.downbeats_among(beat_idx, _given(given_beats[1], rate, n_hops)[0])
    else:
        down_idx, meter = _downbeats(spec, beat_idx, section_times * rate)
    report(progress, "analyze", 6, STEPS, "step", "analyze")

    beats = times_to_frames(beat_idx / rate, fps, n_frames)
    # the frames of the downbeats, as a subset of the beats' (two beats never share a frame)
    downbeats = times_to_frames(down_idx / rate, fps, n_frames)
    sections = times_to_frames(section_times, fps, n_frames)
    sections = bars.snap_sections(sections, downbeats, float(fps))
    musical = bars.musical_time(
        beats, downbeats, meter, sections, n_frames=n_frames, tempo=float(tempo)
    )
    return Features(
        fps=fps,
        n_frames=n_frames,
        duration=n_samples / sr,
        chroma=chroma.astype(np.float32),
        onset_strength=onset_strength.astype(np.float32),
        onsets=times_to_frames(_refine_peaks(envelope, peaks) / rate, fps, n_frames),
        energy=_pool_mean(energy, lo).astype(np.float32),
        energy_rise=_pool(rise, lo, np.maximum).astype(np.float32),
        bands=np.stack([_pool_mean(b, lo) for b in bands]).astype(np.float32),
        beats=beats,
        tempo=float(tempo),
        sections=sections,
        **musical,
    )


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


def _given(times: np.ndarray, rate: float, n_hops: int) -> tuple[np.ndarray, float]:
    """(hop indices, tempo) of event times from another tracker; (empty, 0) under two."""
    hops = np.unique(np.round(np.asarray(times, np.float64) * rate).astype(np.int64))
    hops = hops[(hops >= 0) & (hops < n_hops)]
    if hops.size < 2:
        return np.zeros(0, np.int64), 0.0
    return hops, float(60.0 * rate / np.median(np.diff(hops)))


def _beat_rows(spec: dict) -> BeatRows:
    """The per-hop rows the bar cues read (`visualizer.analysis.downbeats.BeatRows`)."""
    return BeatRows(
        low_band_flux(spec["band"][:, 0]), spec["chroma"], spec["timbre"][-1], CHROMA_POOL
    )


def _downbeats(
    spec: dict, beat_idx: np.ndarray, section_hops: np.ndarray
) -> tuple[np.ndarray, int]:
    """(downbeat hop indices (D,), a subset of ``beat_idx``, meter) from the per-hop rows and
    the section starts (hops; the first, 0, is the track's start and no evidence)."""
    if beat_idx.size < 2:
        return np.zeros(0, np.int64), 0
    anchors = np.searchsorted(beat_idx, np.round(section_hops[1:]).astype(np.int64))
    anchors = np.unique(np.clip(anchors, 0, beat_idx.size - 1))
    salience = downbeat_salience(beat_idx, _beat_rows(spec), anchors)
    positions, meter = track_downbeats(salience, reset_costs(beat_idx))
    return beat_idx[positions], meter


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


def _section_times(
    timbre: np.ndarray, chroma_blocks: np.ndarray, beats: np.ndarray, rate: float, silent: bool
) -> np.ndarray:
    """Section start times in seconds (0 first) from beat-synchronous chroma + MFCC novelty.

    ``timbre`` (14, N): MFCCs 1-13 and log loudness per hop; ``chroma_blocks`` (12, M) per
    CHROMA_POOL hops. The per-hop features are averaged between beats (or every 0.5 s without
    beats), a span of hops at a time, so the (26, N) float64 matrix is never whole.
    """
    n = timbre.shape[1]
    if silent or n == 0:
        return np.zeros(1)
    if beats.size >= 2 * SECTION_KERNEL:
        starts = np.unique(np.concatenate([[0], beats]))
    else:
        starts = np.arange(0, n, max(1, int(round(0.5 * rate))))
    bounds = np.append(starts, n)
    blocks = np.empty((12 + timbre.shape[0], starts.size))
    group = 0
    while group < starts.size:  # whole blocks at a time: each mean sums one block's hops
        last = max(group + 1, int(np.searchsorted(bounds, bounds[group] + SECTION_SPAN)) - 1)
        first_hop, stop_hop = bounds[group], bounds[last]
        feats = np.concatenate(
            [_hop_chroma(chroma_blocks, first_hop, stop_hop), timbre[:, first_hop:stop_hop]]
        ).astype(np.float64)
        sums = np.add.reduceat(feats, bounds[group:last] - first_hop, axis=1)
        blocks[:, group:last] = sums / np.diff(bounds[group : last + 1])
        group = last
    boundaries = rhythm.novelty_boundaries(
        blocks,
        kernel=SECTION_KERNEL,
        threshold=SECTION_THRESHOLD,
        min_starts=int(n / rate / SECTION_EVERY_S),
    )
    times = starts[boundaries] / rate
    times[0] = 0.0
    return times


def _hop_chroma(chroma_blocks: np.ndarray, first: int, stop: int) -> np.ndarray:
    """Chroma (12, stop - first) of hops [first, stop), each hop taking its block's column."""
    block = np.arange(first, stop) // CHROMA_POOL
    inside = block < chroma_blocks.shape[1]
    out = np.zeros((chroma_blocks.shape[0], stop - first), chroma_blocks.dtype)
    out[:, inside] = chroma_blocks[:, block[inside]]
    return out
