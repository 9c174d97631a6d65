"""The optional neural beat tracker (`--beats beat-this`): a tiny network with random weights in
the published checkpoint format, downloaded on first use from a real HTTP server on 127.0.0.1
through the verified download path, then cached; the analysis cache keeps its entries apart."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.fixtures_audio import SR, bar_pattern, write_wav
from tests.fixtures_biggan import WeightsServer
from visualizer.analysis import neural
from visualizer.analysis.features import validate_features
from visualizer.analysis.track import analyze_file
from visualizer.cli import main
from visualizer.errors import AudioError, DownloadError, WeightsError

torch = pytest.importorskip("torch")
pytest.importorskip("beat_this.model.beat_tracker")

TINY = dict(spect_dim=128, transformer_dim=32, ff_mult=1, n_layers=1, head_dim=8, stem_dim=8)


def checkpoint_bytes(tmp_path, seed: int = 0, **changes) -> bytes:
    """A Beat This! checkpoint as published (a Lightning checkpoint stripped of the optimizer:
    ``state_dict`` with keys under ``model.``, ``hyper_parameters`` with the training's too)."""
    from beat_this.model.beat_tracker import BeatThis

    torch.manual_seed(seed)
    network = BeatThis(**TINY)
    state = {f"model.{k}": v for k, v in network.state_dict().items()}
    state.update(changes)
    path = tmp_path / f"tiny-{seed}.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {**TINY, "lr": 8e-4}}, path)
    return path.read_bytes()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(neural.CHECKPOINT_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("beat-this") / "bars.wav", bar_pattern(4, 120, 12.0))


def test_weights_download_once_and_the_analysis_uses_them(tmp_path, cache, song, monkeypatch):
    data = checkpoint_bytes(tmp_path)
    with WeightsServer({neural.CHECKPOINT.filename: data}) as server:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        features = analyze_file(song, fps=30, tracker="beat-this")
        assert neural.CHECKPOINT.path().read_bytes() == data
        assert len(server.requests) == 1
        again = analyze_file(song, fps=30, tracker="beat-this")  # the analysis cache
        assert len(server.requests) == 1
    assert validate_features(features) is None and features.fps == Fraction(30)
    np.testing.assert_array_equal(again.beats, features.beats)
    assert set(features.downbeats.tolist()) <= set(features.beats.tolist())
    # the project's own tracker has its own cache entry: different beats from a random network
    dsp = analyze_file(song, fps=30)
    assert dsp.meter == 4 and dsp.tempo == pytest.approx(120, rel=0.03)
    assert len(list((cache / "features").iterdir())) == 2


def test_weights_that_do_not_fit_the_network_never_take_their_name(tmp_path, cache, monkeypatch):
    wrong = checkpoint_bytes(tmp_path, **{"model.extra.weight": torch.zeros(2)})
    with WeightsServer({neural.CHECKPOINT.filename: wrong}) as server:
        monkeypatch.setenv("VISUALIZER_WEIGHTS_URL", server.url)
        monkeypatch.setattr(neural, "CHECKPOINT", _local_only(neural.CHECKPOINT))
        with pytest.raises(DownloadError, match=r"does not fit the network.*extra\.weight"):
            neural.checkpoint_path()
    assert not neural.CHECKPOINT.path().exists()


def _local_only(remote):
    """``remote`` with its published URL removed: tests never reach the internet."""
    return type(remote)(**{**remote.__dict__, "urls": ()})


def test_a_checkpoint_file_named_by_the_environment(tmp_path, cache, monkeypatch):
    path = tmp_path / "mine.ckpt"
    path.write_bytes(checkpoint_bytes(tmp_path, seed=1))
    monkeypatch.setenv(neural.CHECKPOINT_ENV, str(path))
    beats, downbeats = neural.beat_times(bar_pattern(3, 100, 8.0), SR)
    assert beats.ndim == 1 and np.all(np.diff(beats) > 0)
    assert set(downbeats.tolist()) <= set(beats.tolist())  # the package's postprocessing
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    monkeypatch.setenv(neural.CHECKPOINT_ENV, str(junk))
    with pytest.raises(WeightsError, match=r"junk\.ckpt: not a loadable Beat This! checkpoint"):
        neural.beat_times(bar_pattern(3, 100, 8.0), SR)
    monkeypatch.setenv(neural.CHECKPOINT_ENV, str(tmp_path / "absent.ckpt"))
    with pytest.raises(WeightsError, match=r"absent\.ckpt: no such checkpoint file"):
        neural.checkpoint_path()


def test_the_spectrogram_it_reads():
    samples = bar_pattern(4, 120, 3.0, sr=neural.SR)
    spect = neural.log_mel(samples)
    assert spect.shape == (1 + samples.size // neural.HOP, neural.N_MELS)
    assert spect.dtype == torch.float32 and float(spect.min()) >= 0.0
    # the kicks (low bands) rise on the beats: frame 50 (t = 1 s) against frame 75 (t = 1.5 s
    # holds a snare, t = 1.25 s nothing but decay)
    assert spect[50, :8].mean() > spect[62, :8].mean()


def test_unknown_tracker_is_one_clear_error(song, cache):
    with pytest.raises(AudioError, match=r"unknown beat tracker 'madmom': expected dsp, dsp:BPM"):
        analyze_file(song, fps=30, tracker="madmom")
    with pytest.raises(SystemExit) as stop:  # argparse: one usage line, exit status 2
        main(["analyze", str(song), "--beats", "madmom", "-q"])
    assert stop.value.code == 2
