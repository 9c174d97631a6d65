"""Video feeds: `visualizer live --output ndi` end to end (the real CLI sends, an NDI receiver in
this process takes the feed over loopback and its frames are the page's), the virtual camera
as far as this machine allows, and the one-line errors of the show options.

NDI finds sources by mDNS; a machine without an mDNS responder (containers, CI) finds them
through the NDI configuration file's extra addresses, which the tests point at 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_biggan import write_checkpoint
from tests.live_fixtures import write_preset, write_track
from tests.test_live_cli import _cli
from visualizer.errors import LiveIOError

# before the NDI library starts (it reads its configuration once): discovery on loopback
NDI_CONFIG = Path(tempfile.mkdtemp(prefix="ndi-config-"))
(NDI_CONFIG / "ndi-config.v1.json").write_text(
    json.dumps({"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""}}})
)
os.environ.setdefault("NDI_CONFIG_DIR", str(NDI_CONFIG))


def _ndi_receive(name: str, seconds: float, frames: list, info: dict) -> None:
    """Find the NDI source whose name contains ``name`` and keep its frames (RGB) for
    ``seconds``; ``info`` gets the resolution and announced frame rate."""
    from cyndilib.finder import Finder
    from cyndilib.receiver import ReceiveFrameType, Receiver
    from cyndilib.video_frame import VideoRecvFrame
    from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat

    finder = Finder()
    finder.open()
    try:
        deadline = time.monotonic() + 60
        found = []
        while not found and time.monotonic() < deadline:
            finder.wait_for_sources(0.5)
            found = [n for n in finder.get_source_names() if f"({name})" in n]
        info["source"] = found[0] if found else None
        if not found:
            return
        receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
        video = VideoRecvFrame()
        receiver.set_video_frame(video)
        receiver.set_source(finder.get_source(found[0]))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if receiver.receive(ReceiveFrameType.recv_video, 100) & ReceiveFrameType.recv_video:
                width, height = video.get_resolution()
                info["resolution"], info["fps"] = (width, height), video.get_frame_rate()
                frames.append(np.asarray(video).copy().reshape(height, width, 4)[..., :3])
        receiver.disconnect()
    finally:
        finder.close()


async def _page(url: str, stop: threading.Event) -> list[np.ndarray]:
    """Be the page: report a playing clock, decode the frames it is sent."""
    from PIL import Image
    from websockets.asyncio.client import connect

    shown = []
    async with connect(url) as ws:
        start = time.monotonic()
        while not stop.is_set() and time.monotonic() - start < 120:
            t = time.monotonic() - start
            await ws.send(json.dumps({"type": "clock", "t": t, "playing": True}))
            try:
                message = await asyncio.wait_for(ws.recv(), 0.1)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                length = int.from_bytes(message[:4], "big")
                jpeg = io.BytesIO(message[4 + length :])
                shown.append(np.asarray(Image.open(jpeg).convert("RGB")))
    return shown


def test_ndi_feed_carries_the_frames_the_page_shows(tmp_path):
    pytest.importorskip("cyndilib", reason="NDI needs the live extra (cyndilib)")
    track, _ = write_track(tmp_path, seconds=30.0)
    weights = write_checkpoint(tmp_path / "ckpt", 128, 8)
    name = f"visualizer-test-{os.getpid()}"
    process = _cli(
        "--audio", str(track), "--weights", str(weights), "--preset", str(write_preset(tmp_path)),
        "--fps", "24", "--port", "0", "--device", "cpu", "--output", "ndi", "--ndi-name", name,
    )  # fmt: skip
    received: list[np.ndarray] = []
    info: dict = {}
    try:
        line = process.stdout.readline()
        assert line.startswith("live: open http://127.0.0.1:"), process.stderr.read()
        assert f"NDI source {name!r}" in process.stdout.readline()
        receiver = threading.Thread(target=_ndi_receive, args=(name, 6.0, received, info))
        receiver.start()
        stop = threading.Event()
        page_url = line.split()[2].replace("http", "ws") + "ws"
        watcher = threading.Thread(target=lambda: (receiver.join(), stop.set()))
        watcher.start()
        shown = asyncio.run(_page(page_url, stop))
        watcher.join()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert info.get("source"), "the NDI source was never found"
    assert len(received) >= 3 and len(shown) >= 3
    assert info["resolution"] == (128, 128) and info["fps"] == Fraction(24)
    # the NDI frames are the page's frames (both through lossy codecs): most NDI frames have a
    # page frame within the codecs' loss, far closer than the typical other frame. The page's
    # one-frame slot may skip frames NDI sent (more so on a loaded machine), so not every one.
    nearest, typical = [], []
    for frame in received[1:]:
        distances = sorted(_distance(frame, s) for s in shown)
        nearest.append(distances[0])
        typical.append(distances[len(distances) // 2])
    matched = np.array(nearest) < 4.0
    assert matched.mean() >= 0.6, (nearest, typical)
    assert np.median(np.array(typical)[matched]) > 2 * 4.0, typical
    # and the feed moves with the show
    assert np.abs(received[-1].astype(int) - received[1].astype(int)).mean() > 1.0


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of 8x8-pixel block means: the codecs' losses (JPEG for the page,
    SpeedHQ for NDI) are mostly finer than that, the difference between frames is not."""
    blocks = [x.astype(np.float64).reshape(16, 8, 16, 8, 3).mean(axis=(1, 3)) for x in (a, b)]
    return float(np.abs(blocks[0] - blocks[1]).mean())


def test_virtual_camera_opens_or_says_what_is_missing():
    pytest.importorskip("pyvirtualcam", reason="the virtual camera needs the live extra")
    from visualizer.live.sink import Frame
    from visualizer.live.sink_camera import CameraSink

    try:
        camera = CameraSink(resolution=128, fps=Fraction(24))
    except LiveIOError as error:
        assert "cannot open a virtual camera" in str(error) and "v4l2loopback" in str(error)
        return
    try:  # a machine with a loopback device: the frame goes through
        camera.start()
        camera.receive(Frame(0, 0.0, np.zeros((128, 128, 3), np.uint8), b"", {}))
        deadline = time.monotonic() + 5
        while camera.sent == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert camera.sent == 1 and camera.failures == 0
    finally:
        camera.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--midi-map", "map.toml", "--midi"], "MIDI map map.toml: [[control]] #1: channel"),
        (["--output", "camera"], "cannot open a virtual camera"),
        (["--midi"], "cannot use MIDI here"),
        (["--midi", "virtual"], "cannot use MIDI here"),
    ],
)
def test_show_option_errors_are_one_line(tmp_path, args, message):
    if "--output" in args and Path("/dev/video0").exists():
        pytest.skip("this machine has a video device: the camera may open")
    if args[0] == "--midi" and Path("/dev/snd/seq").exists():
        pytest.skip("this machine has an ALSA sequencer: MIDI may open")
    track, _ = write_track(tmp_path, seconds=1.0)
    (tmp_path / "map.toml").write_text("[[control]]\nchannel = 0\nnumber = 1\ntarget = 'tap'\n")
    weights = write_checkpoint(tmp_path / "ckpt", 128, 8)
    process = _cli("--audio", str(track), "--weights", str(weights), "--port", "0", *args,
                   "--device", "cpu", cwd=tmp_path)  # fmt: skip
    _, err = process.communicate(timeout=180)
    assert process.returncode == 1, err
    assert err.count("error: ") == 1 and message in err and "Traceback" not in err
