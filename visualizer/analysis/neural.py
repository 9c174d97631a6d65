"""The optional neural beat tracker: Beat This! (Foscarin, Schlueter & Widmer, ISMIR 2024).

``pip install "visualizer[beats]"`` installs the `beat-this` package (MIT; its maintainers state
that the MIT licence covers the published weights too, CPJKU/beat_this issue 16). Its weights
(`final0`, ~78 MB) download on first use into ``<cache>/beat-this/`` through
`visualizer.downloads.fetch_file` (lock, bounds, a full load with ``weights_only=True`` before
the file counts); ``$VISUALIZER_BEAT_THIS_CHECKPOINT`` points at a checkpoint file instead.

Only the network (`beat_this.model.beat_tracker.BeatThis`) and its peak-picking postprocessor
are used: the package's own audio front end imports torchaudio, whose wheels follow their own
torch release, so the log-mel spectrogram it was trained on is computed here (22050 Hz, 1024-point
FFT, hop 441 = 50 frames per second, 128 Slaney mel bands 30 Hz - 11 kHz without area
normalisation, magnitude / sqrt(1024), log(1 + 1000 x)), and the track runs through
the network in 30-second chunks with 6 overlapping frames, as the package does.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np

from visualizer.downloads import RemoteFile, fetch_file
from visualizer.errors import AudioError, WeightsError
from visualizer.options import tracker_spec
from visualizer.progress import ProgressCallback

CHECKPOINT_ENV = "VISUALIZER_BEAT_THIS_CHECKPOINT"
CHECKPOINT = RemoteFile(
    name="beat-this",
    filename="final0.ckpt",
    urls=("https://cloud.cp.jku.at/public.php/dav/files/7ik4RrBKTS273gp/final0.ckpt",),
    size=78 << 20,  # about; no checksum is published, so the full load below is the check
    what="beat tracker weights",
)
SR, N_FFT, HOP, N_MELS, FMIN, FMAX = 22050, 1024, 441, 128, 30.0, 11000.0
FPS = SR / HOP  # network frames per second
CHUNK, BORDER = 1500, 6  # frames per network call, frames of overlap discarded at each side


def check_tracker(name: str) -> str:
    """The one spelling of ``name`` if it is a known tracker (`visualizer.options.tracker_spec`:
    "dsp", "dsp:BPM" or "beat-this"); AudioError naming the valid forms otherwise."""
    try:
        return tracker_spec(name)
    except ValueError as error:
        raise AudioError(str(error)) from None


def _package():
    try:
        from beat_this.model.beat_tracker import BeatThis
        from beat_this.model.postprocessor import Postprocessor
    except ImportError as error:
        raise WeightsError(
            f"the beat-this tracker needs its package ({error}): pip install 'visualizer[beats]'"
        ) from None
    return BeatThis, Postprocessor


def load_network(path: Path):
    """The BeatThis network (eval mode, CPU) of a checkpoint in its published format: a dict
    with ``hyper_parameters`` and a ``state_dict`` whose keys start with ``model.``. Raises
    WeightsError naming the file and the problem."""
    import torch

    network_class, _ = _package()
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable or unsafe file is one error line
        raise WeightsError(f"{path}: not a loadable Beat This! checkpoint ({error})") from None
    if not isinstance(checkpoint, dict) or not {"hyper_parameters", "state_dict"} <= set(
        checkpoint
    ):
        raise WeightsError(f"{path}: not a Beat This! checkpoint (no hyper_parameters/state_dict)")
    accepted = set(inspect.signature(network_class).parameters)
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if k in accepted}
    state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()}
    network = network_class(**hparams)
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise WeightsError(
            f"{path}: checkpoint does not fit the network (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]})"
        )
    return network.eval()


def checkpoint_path(*, progress: ProgressCallback | None = None) -> Path:
    """The checkpoint to use: $VISUALIZER_BEAT_THIS_CHECKPOINT, else the cached download."""
    local = os.environ.get(CHECKPOINT_ENV)
    if local:
        if not Path(local).is_file():
            raise WeightsError(f"{CHECKPOINT_ENV}={local}: no such checkpoint file")
        return Path(local)
    return fetch_file(CHECKPOINT, verify=load_network, progress=progress)


def log_mel(samples: np.ndarray):
    """(frames, 128) float32 torch tensor: the spectrogram Beat This! reads, of mono samples at
    22050 Hz (see the module text)."""
    import torch

    from visualizer.analysis.stft import mel_basis

    x = torch.from_numpy(np.ascontiguousarray(samples, np.float32))
    window = torch.hann_window(N_FFT)
    spectrum = (
        torch.stft(
            x, N_FFT, HOP, window=window, center=True, pad_mode="reflect", return_complex=True
        ).abs()
        / N_FFT**0.5
    )  # torchaudio's normalized="frame_length": torch.stft(normalized=True)
    filters = torch.from_numpy(mel_basis(SR, N_FFT, N_MELS, fmin=FMIN, fmax=FMAX, area=False))
    return torch.log1p(1000.0 * (filters @ spectrum)).T.contiguous()


def beat_times(
    samples: np.ndarray, sr: int, *, progress: ProgressCallback | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(beat times, downbeat times) in seconds, float64 sorted, of mono ``samples`` at ``sr``."""
    import torch

    network = load_network(checkpoint_path(progress=progress))
    _, postprocessor = _package()
    if sr != SR:
        import soxr

        samples = soxr.resample(samples, sr, SR)
    spect = log_mel(samples)
    if spect.shape[0] < 2 * BORDER + 1:
        return np.zeros(0), np.zeros(0)
    with torch.inference_mode():
        beat, downbeat = _predict(network, spect)
    beats, downbeats = postprocessor(type="minimal", fps=int(FPS))(beat, downbeat)
    return np.sort(np.asarray(beats, np.float64)), np.sort(np.asarray(downbeats, np.float64))


def _predict(network, spect):
    """Frame logits (beat, downbeat) of the whole track: chunks of CHUNK frames overlapping by
    2 x BORDER, the first chunk's frames kept where two overlap (the package's "keep_first")."""
    import torch

    n = spect.shape[0]
    starts = list(range(-BORDER, n - BORDER, CHUNK - 2 * BORDER))
    if n > CHUNK - 2 * BORDER:
        starts[-1] = n - (CHUNK - BORDER)  # the last chunk ends at the end of the track
    beat = torch.full((n,), -1000.0)
    downbeat = torch.full((n,), -1000.0)
    for start in reversed(starts):  # earlier chunks overwrite later ones
        lo, hi = max(start, 0), min(start + CHUNK, n)
        chunk = torch.nn.functional.pad(
            spect[lo:hi], (0, 0, max(0, -start), max(0, min(BORDER, start + CHUNK - n)))
        )
        out = network(chunk.unsqueeze(0))
        keep = slice(start + BORDER, start + CHUNK - BORDER)
        size = len(range(n)[keep])
        beat[keep] = out["beat"][0][BORDER : BORDER + size]
        downbeat[keep] = out["downbeat"][0][BORDER : BORDER + size]
    return beat, downbeat
