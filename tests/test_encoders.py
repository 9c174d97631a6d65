"""Several segment encoders at once: each segment's ffmpeg is fed from its own thread, so one
still encoding never holds up the next; at most `Encoding.encoders` run at once; the queued
frames stay within a byte budget; a failure reaches the generator's side; abort keeps complete
segments. Real ffmpeg processes throughout: a stopped (SIGSTOP) encoder stands for a slow one."""

from __future__ import annotations

import os
import signal
import threading
from fractions import Fraction

import numpy as np
import pytest

from tests.video_fixtures import probe
from visualizer.errors import RenderError
from visualizer.rendering.encoders import FrameBudget, SegmentSink, encoder_layout
from visualizer.rendering.video import Encoding

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")

SEGMENTS = [(0, 4), (4, 8), (8, 12)]


def _sink(tmp_path, encoders: int, budget: int | None = None, size: int = 32) -> SegmentSink:
    paths = [tmp_path / f"segment-{i}.mp4" for i in range(len(SEGMENTS))]
    encoding = Encoding(Fraction(12), encoders=encoders, threads=1)
    return SegmentSink(SEGMENTS, paths, [0, 1, 2], encoding, budget=budget)


def _frames(n: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _pid(sink: SegmentSink, segment: int) -> int:
    return sink.feeds[segment].writer._proc.pid


def _in_thread(call) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_a_slow_segment_does_not_hold_up_the_next_one(tmp_path):
    sink = _sink(tmp_path, encoders=2)
    sink(0, _frames(4))  # segment 0 complete: sealed, encoding on its own thread
    os.kill(_pid(sink, 0), signal.SIGSTOP)  # ... and stuck
    try:
        sink(4, _frames(4))  # segment 1 opens beside it and finishes
        sink.feeds[1].wait(20)
        assert (tmp_path / "segment-1.mp4").is_file()
        assert not (tmp_path / "segment-0.mp4").exists()
    finally:
        os.kill(_pid(sink, 0), signal.SIGCONT)
    sink(8, _frames(4))
    sink.check_complete()
    assert [probe(tmp_path / f"segment-{i}.mp4")["frames"] for i in range(3)] == [4, 4, 4]


def test_no_more_encoders_than_the_layout_run_at_once(tmp_path):
    sink = _sink(tmp_path, encoders=1)
    sink(0, _frames(4))
    os.kill(_pid(sink, 0), signal.SIGSTOP)
    try:
        opened = _in_thread(lambda: sink(4, _frames(4)))
        opened.join(1.0)
        assert opened.is_alive() and 1 not in sink.feeds  # waits for segment 0's encoder
    finally:
        os.kill(_pid(sink, 0), signal.SIGCONT)
    opened.join(20)
    assert not opened.is_alive()
    sink(8, _frames(4))
    sink.check_complete()
    assert (tmp_path / "segment-0.mp4").is_file() and (tmp_path / "segment-2.mp4").is_file()


def test_queued_frames_stay_within_the_budget(tmp_path):
    frame_bytes = 256 * 256 * 3  # three times a pipe's 64 KiB
    sink = _sink(tmp_path, encoders=2, budget=frame_bytes)
    sink(0, _frames(1, 256))
    os.kill(_pid(sink, 0), signal.SIGSTOP)  # its pipe fills, then its queue
    try:
        more = _in_thread(lambda: [sink(i, _frames(1, 256)) for i in range(1, 4)])
        more.join(1.5)
        assert more.is_alive()  # the generator's side waits for room
        assert sink.budget.used <= frame_bytes
    finally:
        os.kill(_pid(sink, 0), signal.SIGCONT)
    more.join(20)
    assert not more.is_alive() and sink.budget.used <= frame_bytes
    sink.abort()  # segment 0 is complete: it finishes and stays
    assert probe(tmp_path / "segment-0.mp4")["frames"] == 4


def test_an_encoder_failure_reaches_the_caller_and_abort_keeps_complete_segments(tmp_path):
    sink = _sink(tmp_path, encoders=2)
    sink(0, _frames(4))
    sink.feeds[0].wait(20)
    sink(4, _frames(2))
    writer = sink.feeds[1].writer
    os.kill(writer._proc.pid, signal.SIGKILL)
    writer._proc.wait()
    sink(6, _frames(2))  # queued; writing them fails on the encoder's thread
    sink.feeds[1].wait(20)
    with pytest.raises(RenderError, match="video encoder failed"):
        sink(8, _frames(4))
    sink.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment-0.mp4"]


def test_budget_lets_one_oversized_chunk_through_when_empty():
    budget = FrameBudget(10)
    budget.take(100, lambda: None)  # nothing queued: passes
    blocked = _in_thread(lambda: budget.take(1, lambda: None))
    blocked.join(0.5)
    assert blocked.is_alive()
    budget.give(100)
    blocked.join(5)
    assert not blocked.is_alive() and budget.used == 1


def test_encoder_layout_shares_the_cores():
    assert encoder_layout(1) == (1, 1)
    assert encoder_layout(2) == (2, 1)
    assert encoder_layout(16) == (8, 2)
