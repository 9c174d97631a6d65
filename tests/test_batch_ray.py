"""Album batches on a real local Ray cluster started by this module: the album renders with the
corrupt track reported, a re-run skips, a worker killed mid-track leaves no partial output and the
track completes on retry, and a track split across two workers equals a single-worker render."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import write_checkpoint
from tests.video_fixtures import read_frames
from visualizer.batch.runner import BatchOptions, run_batch
from visualizer.cli import main
from visualizer.pipeline import work_dir_for
from visualizer.pipeline.options import RenderOptions

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray

FPS = 8


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster (2 CPUs) for the whole module; ~10 s to start on 2 cores."""
    # A short temp dir: Ray's unix socket paths must stay under ~107 characters.
    temp = tempfile.mkdtemp(prefix="vray")
    # The workers outlive each test's own cache folder: give them one of their own.
    cache = os.path.join(temp, "cache")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=temp,
        logging_level=logging.WARNING,
        log_to_driver=False,
        runtime_env={"env_vars": {"VISUALIZER_CACHE": cache}},
    )
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-album")
    album = root / "album"
    album.mkdir()
    write_wav(album / "a.wav", music_like(2.0, seed=3))
    write_wav(album / "b.wav", music_like(2.5, seed=4))
    (album / "c.wav").write_bytes(b"this is not a wav file at all" * 8)
    long = root / "long"
    long.mkdir()
    write_wav(long / "long.wav", music_like(8.0, seed=5))
    return {
        "album": album,
        "long": long / "long.wav",
        "weights": write_checkpoint(root / "tiny", channel_width=8),
        # wider channels: slow enough per frame that the test can kill a worker mid-track
        "slow_weights": write_checkpoint(root / "slow", channel_width=48),
    }


def options(weights: Path, **changes) -> RenderOptions:
    values = dict(weights=str(weights), device="cpu", fps=Fraction(FPS), segment_frames=8)
    return RenderOptions(**{**values, **changes})


def manifest(outdir: Path) -> dict:
    return json.loads((outdir / "manifest.json").read_text("utf-8"))["tracks"]


def test_ray_album_reports_corrupt_track_and_skips_on_rerun(cluster, files, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["batch", str(files["album"]), "-o", str(out), "--weights", str(files["weights"])]
    args += ["--device", "cpu", "--fps", str(FPS), "--ray", "auto", "--workers", "2", "-q"]
    assert main(args) == 1
    assert "c.mp4" in capsys.readouterr().err
    tracks = manifest(out)
    assert tracks["c.mp4"]["status"] == "failed" and "c.wav" in tracks["c.mp4"]["error"]
    for name, seconds in (("a.mp4", 2.0), ("b.mp4", 2.5)):
        assert tracks[name]["status"] == "done"
        assert len(read_frames(out / name)) == tracks[name]["frames"] == seconds * FPS
    workers = {tracks[name]["worker"] for name in ("a.mp4", "b.mp4")}
    assert all(":" in w and int(w.rsplit(":", 1)[1]) != os.getpid() for w in workers)
    mtime = (out / "a.mp4").stat().st_mtime_ns

    assert main(args) == 1
    tracks = manifest(out)
    assert tracks["a.mp4"]["last_run"] == tracks["b.mp4"]["last_run"] == "skipped"
    assert (out / "a.mp4").stat().st_mtime_ns == mtime


def test_worker_killed_mid_track_leaves_no_partial_output_and_retries(cluster, files, tmp_path):
    out = tmp_path / "out"
    output = out / "long.mp4"
    batch = BatchOptions(outdir=out, ray="auto", workers=1, retries=2)
    render = options(files["slow_weights"], batch_size=1)
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(result=run_batch([files["long"]], render, batch))
    )
    thread.start()
    try:
        killed = None
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and thread.is_alive():
            parts = work_dir_for(output)
            if parts.is_dir() and any(parts.glob("segment-*.mp4")):
                worker = manifest(out)["long.mp4"]["worker"]
                killed = int(worker.rsplit(":", 1)[1])
                os.kill(killed, signal.SIGKILL)
                assert not output.exists()
            time.sleep(0.02)
        assert killed is not None, "the track finished before the worker could be killed"
    finally:
        thread.join(timeout=240)
    entry = outcome["result"].tracks[0]
    assert (entry["status"], entry["last_run"], entry["attempts"]) == ("done", "resumed", 2)
    assert int(entry["worker"].rsplit(":", 1)[1]) != killed  # the restarted actor finished it
    assert len(read_frames(output)) == entry["frames"] == 8 * FPS
    assert {p.name for p in out.iterdir()} == {"manifest.json", "long.mp4", "long.preset.toml"}


def test_split_track_is_frame_identical_to_a_single_worker_render(cluster, files, tmp_path):
    render = options(files["weights"], batch_size=4)
    split = run_batch(
        [files["long"]], render, BatchOptions(outdir=tmp_path / "split", ray="auto", split=True)
    )
    # The single-worker render also runs in an actor: torch on 1 thread, like each split part
    # (a different thread count may round differently in the last bit).
    single = run_batch(
        [files["long"]], render, BatchOptions(outdir=tmp_path / "single", ray="auto", workers=1)
    )
    assert split.ok and single.ok
    a = read_frames(tmp_path / "split" / "long.mp4")
    b = read_frames(tmp_path / "single" / "long.mp4")
    assert a.shape == b.shape == (8 * FPS, 128, 128, 3)
    assert np.array_equal(a, b)
    assert len(split.tracks[0]["worker"].split(", ")) == 2  # both workers rendered a part
