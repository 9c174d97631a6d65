"""Onset peaks and section boundaries from envelopes and feature matrices.

Plain numpy + scipy on purpose (librosa's numba-compiled functions cost seconds to compile in a
fresh process): peak picking as librosa does it, and Foote's checkerboard novelty on a
self-similarity matrix for section boundaries. Beats are `visualizer.analysis.beats`.

All functions take keyword-only parameters, return empty results for degenerate input (silence,
too short) and never NaN.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

NOVELTY_TILE = 512  # blocks of self-similarity rows built at once (2 MiB)


def peak_pick(
    envelope: np.ndarray, *, rate: float, delta: float = 0.07, wait: float = 0.03
) -> np.ndarray:
    """Indices of onset peaks in ``envelope`` (T,), values in [0, 1], sampled at ``rate`` Hz.

    A peak is the maximum within +-30 ms, exceeds the mean over the previous 100 ms and the
    next 70 ms by ``delta``, and lies at least ``wait`` seconds after the previous peak.
    Returns int64 (K,) sorted; empty for a flat envelope.
    """
    env = np.asarray(envelope, dtype=np.float64)
    if env.size == 0 or not np.any(env > 0):
        return np.zeros(0, np.int64)
    half_max = max(1, int(round(0.03 * rate)))
    is_max = env >= maximum_filter1d(env, 2 * half_max + 1, mode="constant")
    # asymmetric mean: 100 ms before, 70 ms after
    pre, post = max(1, int(round(0.1 * rate))), max(1, int(round(0.07 * rate)))
    width = pre + post + 1
    mean = uniform_filter1d(env, width, mode="nearest", origin=(post - pre) // 2)
    candidates = np.flatnonzero(is_max & (env >= mean + delta) & (env > 0))
    keep: list[int] = []
    min_gap = wait * rate
    for index in candidates:
        if not keep or index - keep[-1] >= min_gap:
            keep.append(int(index))
    return np.asarray(keep, dtype=np.int64)


def novelty_boundaries(
    features: np.ndarray,
    *,
    kernel: int = 16,
    threshold: float = 0.3,
    relative: float = 0.7,
    floor: float = 0.2,
    min_starts: int = 0,
) -> np.ndarray:
    """Section starts (block indices, 0 first) from block features ``(d, N)``.

    Foote's checkerboard novelty: a Gaussian-tapered ``kernel x kernel`` checkerboard slid along
    the diagonal of the cosine self-similarity matrix of the z-scored features (novelty scaled to
    [0, 1] by its largest possible value). Peaks that are maxima within half a kernel start a
    section when they reach ``threshold``, or ``relative`` times the track's strongest peak if
    that is lower (but never below ``floor``): produced music with smooth transitions peaks around
    0.25-0.35 where a generated track's hard cuts reach 0.5, and a fixed bar found one section in
    a five-minute song. When fewer than ``min_starts`` peaks pass, the ``min_starts`` strongest
    peaks above a tenth of the strongest start sections (a long piece whose changes are all
    gradual still has parts). Returns int64 (S,) starting with 0; [0] when nothing changes or
    N < kernel.
    """
    x = np.asarray(features, dtype=np.float64)
    n = x.shape[1] if x.ndim == 2 else 0
    if n < kernel or kernel < 4:
        return np.zeros(1, np.int64)
    x = x - x.mean(axis=1, keepdims=True)
    scale = x.std(axis=1, keepdims=True)
    x = np.divide(x, scale, out=np.zeros_like(x), where=scale > 1e-9)
    norms = np.linalg.norm(x, axis=0)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 1e-9)
    half = kernel // 2
    axis = np.arange(-half, half) + 0.5
    taper = np.exp(-0.5 * (axis / (0.5 * half)) ** 2)
    checker = np.outer(np.sign(axis), np.sign(axis)) * np.outer(taper, taper)
    checker /= np.abs(checker).sum()
    novelty = np.zeros(n)
    # The checkerboard only sees the SSM within half a kernel of its diagonal, so the (N, N)
    # matrix (415 MB for the 7200 beats of an hour) is built a tile of rows at a time.
    for first in range(0, n, NOVELTY_TILE):
        stop = min(n, first + NOVELTY_TILE)
        # cosine self-similarity of blocks [first - half, stop + half), zeros outside the track
        lo, hi = max(0, first - half), min(n, stop + half)
        padded = np.zeros((stop - first + kernel,) * 2)
        inner = slice(lo - (first - half), hi - (first - half))
        padded[inner, inner] = x[:, lo:hi].T @ x[:, lo:hi]  # in [-1, 1]
        for i in range(first, stop):
            k = i - first
            novelty[i] = np.sum(padded[k : k + kernel, k : k + kernel] * checker)
    # within-segment quadrants similar, cross quadrants dissimilar: high at a boundary
    novelty = np.clip(novelty, 0.0, None)
    is_peak = novelty >= maximum_filter1d(novelty, kernel + 1, mode="constant")
    strongest = novelty[is_peak].max(initial=0.0)
    bar = min(threshold, max(floor, relative * strongest))
    inside = np.zeros(n, bool)
    inside[half // 2 : n - half // 2 + 1] = True
    starts = np.flatnonzero(is_peak & inside & (novelty >= bar))
    if starts.size < min_starts:
        peaks = np.flatnonzero(is_peak & inside & (novelty >= 0.1 * strongest) & (novelty > 0))
        strongest_first = peaks[np.argsort(novelty[peaks])[::-1]]
        starts = np.sort(strongest_first[:min_starts])
    return np.concatenate([[0], starts]).astype(np.int64)
