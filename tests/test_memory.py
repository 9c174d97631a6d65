"""Memory: the process-tree sampler, the heap trim, and random weights built with one model."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import torch

from tests.fixtures_biggan import checkpoint_config
from visualizer.bench.memory import (
    _shares_parent_memory,
    run_with_tree_peak,
    tree_pids,
    tree_rss_kib,
)
from visualizer.memory import release_free_memory
from visualizer.model.network import BigGANDeep, load_state_dict_published
from visualizer.model.random_weights import random_generator, random_state_dict

# A child that holds ~150 MiB while its own child (a second process) holds ~100 MiB.
_HOLDER = (
    "import time; b = bytearray({mib} << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep({s})"
)


def test_tree_peak_counts_the_children_of_the_process():
    inner = [sys.executable, "-c", _HOLDER.format(mib=100, s=1.5)]
    outer = (
        "import subprocess, sys; p = subprocess.Popen(sys.argv[1:]); "
        + _HOLDER.format(mib=150, s=1.0)
        + "; p.wait()"
    )
    peak = run_with_tree_peak([sys.executable, "-c", outer, *inner], period=0.01)
    assert peak.returncode == 0
    assert peak.main_mib >= 150  # the parent's own high-water mark
    assert peak.tree_mib >= 250  # parent + child resident together
    assert peak.peak_mib == max(peak.tree_mib, peak.main_mib)
    # Where the peak was: both processes, largest first, adding up to the tree's figure.
    sizes = [mib for _, mib in peak.at_peak]
    assert len(sizes) == 2 and sizes[0] >= 150 and sizes[1] >= 100
    assert abs(sum(sizes) - peak.tree_mib) < 0.01
    assert peak.summary()["tree_at_peak_mib"][0].startswith("python")


def test_a_child_that_has_not_exec_d_yet_is_not_counted_twice():
    """Between vfork and exec a child runs in its parent's pages and /proc shows them as its own."""
    parent = {"Name": "python", "VmPeak": "900 kB", "VmSize": "880 kB", "VmHWM": "700 kB"}
    assert _shares_parent_memory(dict(parent, VmRSS="650 kB"), parent)
    assert not _shares_parent_memory(dict(parent, Name="ffmpeg"), parent)
    assert not _shares_parent_memory(dict(parent, VmSize="120 kB"), parent)
    assert not _shares_parent_memory(parent, {})  # the root has no parent in the tree


def test_tree_pids_and_rss_see_a_live_child():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.2)
        assert child.pid in tree_pids(os.getpid())
        assert tree_rss_kib(os.getpid()) > tree_rss_kib(child.pid) > 0
    finally:
        child.kill()
        child.wait()


def test_a_failed_command_reports_its_status_and_stderr():
    peak = run_with_tree_peak([sys.executable, "-c", "import sys; sys.exit('bad value 7')"])
    assert peak.returncode == 1
    assert "bad value 7" in peak.stderr


def test_release_free_memory_runs_on_this_platform():
    assert release_free_memory() in (True, False)


def test_random_generator_equals_folding_random_state_dict():
    config = checkpoint_config(128, channel_width=8)
    expected = load_state_dict_published(BigGANDeep(config), random_state_dict(config, 5), "x")
    for hf_compatible in (False, True):
        model = random_generator(config, 5, hf_compatible)
        assert model.hf_compatible is hf_compatible
        got = model.state_dict()
        for key, value in expected.state_dict().items():
            assert torch.equal(got[key], value), key
    other = random_generator(config, 6).state_dict()
    assert not torch.equal(other["gen_z.weight"], expected.state_dict()["gen_z.weight"])


def test_mel_basis_is_librosas_filter_bank_bit_for_bit():
    import librosa
    import numpy as np

    from visualizer.analysis.spectral import mel_basis

    for sr, n_fft in ((22050, 2048), (44100, 2048), (16000, 1024), (48000, 512)):
        expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=128)
        got = mel_basis(sr, n_fft, 128)
        assert got.dtype == np.float32
        assert np.array_equal(got, expected), (sr, n_fft)


def test_analysis_does_not_import_librosa(tmp_path):
    """librosa (and numba under it) holds ~110 MiB once imported: the analysis must not need it."""
    import soundfile as sf

    from tests.fixtures_audio import SR, music_like

    track = tmp_path / "t.wav"
    sf.write(track, music_like(4.0, SR, seed=0), SR)
    probe = (
        "import sys\n"
        "from visualizer.analysis.track import analyze_file\n"
        "from visualizer.analysis.causal import CausalAnalyzer\n"
        f"analyze_file({str(track)!r}, fps=30)\n"
        "CausalAnalyzer(22050, 30)\n"
        "print(sorted(m for m in ('librosa', 'numba') if m in sys.modules))\n"
    )
    env = {**os.environ, "VISUALIZER_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"
