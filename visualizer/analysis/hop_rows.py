"""The per-hop stage of the analysis: HPSS, chroma, onset flux and timbre rows, chunk by chunk.

`HopRows` takes the STFT's chunks (`visualizer.analysis.stft`) as they stream and keeps only
small per-hop rows (RMS, band power, 13 MFCCs + loudness), chroma per CHROMA_POOL-hop block, and
the percussive log-mel spectrum spilled to an anonymous temporary file for the onset flux, which
needs the whole track's maximum before it can be computed. The HPSS medians look at most
HPSS_BLOCKS // 2 blocks either side, so a chunk is finished once the next one has arrived: every
result equals the whole-track computation (median filters over a window that holds all their
neighbours, and edge reflection only at the track's real edges).
"""

from __future__ import annotations

import tempfile

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter

from visualizer.analysis.stft import CHROMA_POOL, HOP, N_FFT, N_MELS, SILENCE_RMS, chroma_basis

HPSS_BLOCKS = 9  # harmonic median: 9 blocks of CHROMA_POOL hops (0.42 s) in time
HPSS_BANDS = 9  # percussive median: 9 mel bands
CONTEXT = (HPSS_BLOCKS // 2) * CHROMA_POOL  # hops of context a chunk needs on each side
MIN_ONSET_DB = 4.0  # mean log-mel flux of a clear onset (music peaks at 15-50, a held chord < 0.3)
ATTACK_HOPS = 13  # hops (0.15 s): a sound at t = 0 that decays within them is an onset there
ONSET_SHIFT = 3  # hops: the log-flux peak leads the true attack (measured on click tracks)
N_MFCC = 13
SPILL_BLOCK = 8192  # hops of spilled rows read back at once (4 MiB)


class HopRows:
    """Consumes `SpectrumReducer` chunks in order (`add`), then `finish` gives the rows.

    A context manager: leaving it deletes the temporary file.
    """

    def __init__(self, sr: int, mel_of_bin: np.ndarray, n_low: int):
        self.mel_of_bin = mel_of_bin
        self.chroma_filters = chroma_basis(sr, n_low)
        self.pending: list[tuple[dict, int]] = []  # chunks (and their first hop) not yet done
        self.before = np.zeros((0, N_MELS), np.float32)  # the last CONTEXT mel rows done
        self.rms: list[np.ndarray] = []
        self.band: list[np.ndarray] = []
        self.chroma: list[np.ndarray] = []
        self.timbre: list[np.ndarray] = []
        # percussive log-mel rows, float32 (N, N_MELS): anonymous, gone when closed (`close`)
        self.spill = tempfile.TemporaryFile()  # noqa: SIM115 - the object owns it
        self.db_max, self.db_min = -np.inf, np.inf
        self.n_hops = 0

    def add(self, reduced: dict[str, np.ndarray], total: int | None) -> None:
        """Take the next chunk; ``total`` (samples in the track) comes with the last one."""
        self.pending.append((reduced, self.n_hops))
        self.n_hops += reduced["rms"].shape[0]
        while len(self.pending) > 1:
            chunk, first = self.pending.pop(0)
            self._finish_chunk(chunk, first, self.pending[0][0]["mel"][:CONTEXT], None)
        if total is not None:
            chunk, first = self.pending.pop()
            self._finish_chunk(chunk, first, np.zeros((0, N_MELS), np.float32), total)

    def _finish_chunk(self, chunk: dict, first: int, after: np.ndarray, total: int | None):
        mel = chunk["mel"]
        n = mel.shape[0]
        context = np.concatenate([self.before, mel, after])
        lead = self.before.shape[0]
        blocks = _blocks(context)
        harmonic_blocks = median_filter(blocks, size=(HPSS_BLOCKS, 1), mode="reflect")
        harmonic_blocks = harmonic_blocks[lead // CHROMA_POOL :][: -(-n // CHROMA_POOL)]
        blocks = blocks[lead // CHROMA_POOL :][: harmonic_blocks.shape[0]]
        percussive = median_filter(mel, size=(1, HPSS_BANDS), mode="reflect")
        harmonic = np.repeat(harmonic_blocks, CHROMA_POOL, axis=0)[:n]
        percussive_mask = (percussive**2 / (harmonic**2 + percussive**2 + 1e-20)).astype(np.float32)
        percussive_blocks = median_filter(blocks, size=(1, HPSS_BANDS), mode="reflect")
        harmonic_mask = harmonic_blocks**2 / (harmonic_blocks**2 + percussive_blocks**2 + 1e-20)
        self.chroma.append(self._chroma(chunk, harmonic_mask.astype(np.float32)))
        held = _hold_end(context, first - lead, total)[lead : lead + n]
        self._spill_db(held * percussive_mask)
        self.timbre.append(_timbre(mel))
        self.rms.append(chunk["rms"])
        self.band.append(chunk["band"])
        self.before = np.concatenate([self.before, mel])[-CONTEXT:]

    def _chroma(self, chunk: dict, harmonic_mask: np.ndarray) -> np.ndarray:
        """Harmonic chroma (12, blocks) of one chunk, each column max-normalised; 0 in silence."""
        low, rms = chunk["low"], chunk["rms"]
        harmonic = low * harmonic_mask[:, self.mel_of_bin]
        chroma = self.chroma_filters @ (harmonic**2).T
        m = low.shape[0]
        block_rms = np.pad(rms, (0, m * CHROMA_POOL - rms.shape[0])).reshape(m, -1).max(1)
        chroma[:, block_rms < SILENCE_RMS] = 0.0
        top = chroma.max(axis=0, keepdims=True)
        return np.divide(chroma, top, out=np.zeros_like(chroma), where=top > 1e-12)

    def _spill_db(self, percussive_power: np.ndarray) -> None:
        db = (10.0 * np.log10(np.maximum(percussive_power, 1e-10))).astype(np.float32)
        self.db_max = max(self.db_max, float(db.max()))
        self.db_min = min(self.db_min, float(db.min()))
        self.spill.write(db.tobytes())

    def finish(self) -> dict[str, np.ndarray]:
        """rms (N,), band (N, 3), chroma (12, ceil(N / CHROMA_POOL)), timbre (N_MFCC + 1, N)
        (MFCCs 1-13 and log loudness per hop) and the onset envelope (N,) in [0, 1]."""
        rows = {}
        for name, axis in (("rms", 0), ("band", 0), ("chroma", 1), ("timbre", 1)):
            parts = getattr(self, name)
            rows[name] = np.concatenate(parts, axis=axis)
            parts.clear()  # one list's chunks and its joined copy at a time, not all of them
        rows["envelope"] = self._onset_envelope(rows["rms"].shape[0])
        return rows

    def close(self) -> None:
        """Delete the spilled rows (also when the stream failed half-way)."""
        self.spill.close()

    def __enter__(self) -> HopRows:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _onset_envelope(self, n: int) -> np.ndarray:
        """Percussive onset strength (N,) in [0, 1] from the spilled log-mel rows.

        The positive log-power flux of the percussive part against the previous hop's 3-band
        maximum (SuperFlux-style, so vibrato is not an onset), shifted onto the attack; the
        spectrum is floored 80 dB under the track's peak, so the flux needs the peak first.
        """
        if n < 2 or self.db_max <= -100.0:  # no power anywhere: log10 of the 1e-10 floor
            return np.zeros(n, np.float32)
        floor = np.float32(self.db_max) - 80.0  # in float32, as the whole-track code rounds
        flux = np.zeros(n)  # float64: flux[t] compares hop t with hop t - 1; flux[0] = 0
        previous = None  # the 3-band maximum of the hop before the block
        head = np.zeros((0, N_MELS), np.float32)
        self.spill.seek(0)
        for start in range(0, n, SPILL_BLOCK):
            count = min(SPILL_BLOCK, n - start)
            raw = self.spill.read(count * N_MELS * 4)
            db = np.maximum(np.frombuffer(raw, np.float32).reshape(count, N_MELS), floor)
            reference = maximum_filter1d(db, 3, axis=1)
            if previous is None:
                head = db[: 1 + ATTACK_HOPS].copy()
                flux[1:count] = np.maximum(db[1:] - reference[:-1], 0.0).mean(axis=1)
            else:
                earlier = np.concatenate([previous, reference[:-1]])
                flux[start : start + count] = np.maximum(db - earlier, 0.0).mean(axis=1)
            previous = reference[-1:]
        flux = np.concatenate([np.zeros(ONSET_SHIFT, np.float32), flux])[:n]  # onto the attack
        lowest = max(self.db_min, float(floor))
        flux[0] = max(flux[0], min(_attack_at_start(head, lowest), float(flux[1:].max(initial=0))))
        # Normalised to the strongest onset, but never to less than a real onset's flux: steady
        # audio (a held chord) has only noise-level flux, which must not become full onsets.
        return np.clip(flux / max(float(flux.max()), MIN_ONSET_DB), 0.0, 1.0).astype(np.float32)


def _blocks(mel: np.ndarray) -> np.ndarray:
    """Mean of each CHROMA_POOL hops of ``mel`` (k, N_MELS); a partial last block is zero-padded."""
    m = max(1, -(-mel.shape[0] // CHROMA_POOL))
    padded = np.pad(mel, ((0, m * CHROMA_POOL - mel.shape[0]), (0, 0)))
    return padded.reshape(m, CHROMA_POOL, -1).mean(1)


def _timbre(mel: np.ndarray) -> np.ndarray:
    """MFCCs 1-13 (timbre, loudness-free) and log loudness of mel power (k, N_MELS): (14, k)."""
    import scipy.fft

    log_mel = np.log(np.maximum(mel, 1e-10)).T
    mfcc = scipy.fft.dct(log_mel, axis=0, norm="ortho")[1 : 1 + N_MFCC]
    loud = np.log(np.maximum(mel.sum(axis=1), 1e-10))[None]
    return np.concatenate([mfcc, loud]).astype(np.float32)


def _hold_end(mel: np.ndarray, first: int, total: int | None) -> np.ndarray:
    """``mel`` (rows of hops ``first``..) with the hops whose window runs past the end of the
    audio (``total`` samples; None: not in this chunk) replaced by the last hop inside it.

    Those windows are partly silence: the end of a file (or of a note cut by it) would make a
    broadband click there, and so an onset. Holding the spectrum says "the sound went on as it
    was", which is all the audio tells. (The start needs no such care: `_attack_at_start`.)
    """
    if total is None:
        return mel
    last = (total - N_FFT // 2) // HOP - first  # the last hop whose window ends inside
    if last < 0 or last + 1 >= mel.shape[0]:
        return mel
    held = mel.copy()
    held[last + 1 :] = mel[last]
    return held


def _attack_at_start(head: np.ndarray, lowest: float) -> float:
    """Onset strength at t = 0 in dB from the first 1 + ATTACK_HOPS rows of the floored
    percussive log-mel power ``head`` and the track's lowest value ``lowest``.

    Nothing comes before the first hop to compare it with. A sound that starts at t = 0 is an
    attack: the first hop (centred on t = 0) holds its peak and the level falls within the next
    ``ATTACK_HOPS`` hops; it then counts as rising from the track's floor, like any onset. Audio
    cut mid-note (a file that starts inside a held sound) keeps or gains level as the first
    windows fill: the cut is not an onset.
    """
    after = head[1:]
    if after.shape[0] == 0:
        return 0.0
    drop = float(np.maximum(head[0] - after.min(axis=0), 0.0).mean())
    if drop < MIN_ONSET_DB:
        return drop
    return float(np.maximum(head[0] - lowest, 0.0).mean())
