"""The render stage: batching, out-of-memory retry, the writer thread, cancel and errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from tests.render_fixtures import OutOfMemoryOnce, ToyGenerator, random_timeline
from visualizer.errors import Cancelled, RenderError
from visualizer.model.device_memory import auto_batch_size
from visualizer.model.inference import wrap
from visualizer.rendering import frames as render

CPU = torch.device("cpu")


def _all_frames(generator, timeline, batch_size, start=0, stop=None):
    stop = timeline.n_frames if stop is None else stop
    out = [
        (first, frames.numpy())
        for first, frames in render.generate(
            wrap(generator), timeline, start, stop, batch_size=batch_size
        )
    ]
    return out


def test_a_batch_equals_its_frames_one_by_one():
    timeline = random_timeline(7)
    generator = ToyGenerator()
    one = np.concatenate([f for _, f in _all_frames(generator, timeline, 1)])
    batched = _all_frames(generator, timeline, 3)
    assert [first for first, _ in batched] == [0, 3, 6]
    assert np.array_equal(np.concatenate([f for _, f in batched]), one)


def test_generate_covers_exactly_the_requested_range_in_batches_on_a_grid_from_frame_0():
    timeline = random_timeline(10)
    generator = ToyGenerator()
    batches = _all_frames(generator, timeline, 4, start=3, stop=9)
    assert [(first, len(f)) for first, f in batches] == [(3, 1), (4, 4), (8, 1)]
    assert generator.calls == [4, 4, 2]  # frames 0-3, 4-7, 8-9: the batches of a whole render


def test_out_of_memory_halves_the_batch_and_continues():
    timeline = random_timeline(9)
    expected = np.concatenate([f for _, f in _all_frames(ToyGenerator(), timeline, 9)])
    flaky = OutOfMemoryOnce(ToyGenerator(), limit=4)
    got = _all_frames(flaky, timeline, 8)
    assert flaky.raised == 1
    assert flaky.inner.calls[0] == 4  # 8 failed once, then halves
    assert np.array_equal(np.concatenate([f for _, f in got]), expected)


def test_out_of_memory_at_batch_one_is_a_render_error():
    class AlwaysOom(ToyGenerator):
        def frames_uint8(self, z, y, t):
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    with pytest.raises(RenderError, match="batch size 1"):
        _all_frames(AlwaysOom(), random_timeline(3), 2)


def test_other_generator_errors_pass_through_unchanged():
    class Broken(ToyGenerator):
        def frames_uint8(self, z, y, t):
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        _all_frames(Broken(), random_timeline(3), 2)


def test_auto_batch_size_on_cpu_is_small():
    assert auto_batch_size(CPU, 128) == 2
    assert auto_batch_size(CPU, 512) == 1


def test_stream_consumes_in_order_on_another_thread_and_reports_progress():
    timeline = random_timeline(10)
    seen: list[tuple[int, int, str]] = []
    events = []

    def consume(first, frames):
        seen.append((first, len(frames), threading.current_thread().name))

    batches = render.generate(wrap(ToyGenerator()), timeline, 0, 10, batch_size=3)
    count = render.stream(batches, consume, total=10, progress=events.append)
    assert count == 10
    assert [(a, b) for a, b, _ in seen] == [(0, 3), (3, 3), (6, 3), (9, 1)]
    assert {name for *_, name in seen} == {"visualizer-writer"}
    assert [e.done for e in events] == [3, 6, 9, 10]
    assert all(e.stage == "render" and e.total == 10 and e.unit == "frame" for e in events)


def test_stream_holds_a_bounded_number_of_batches():
    # The generator can run ahead of a slow writer by at most the queue size (+1 being handed
    # over, +1 being written): memory never grows with the length of the track.
    produced, consumed = [], []
    gate = threading.Event()

    def batches():
        for i in range(20):
            produced.append(i)
            yield i, np.zeros((1, 4, 4, 3), np.uint8)

    def consume(first, frames):
        gate.wait(5)
        consumed.append(first)
        ahead.append(len(produced) - len(consumed))

    ahead: list[int] = []
    thread = threading.Timer(0.3, gate.set)
    thread.start()
    render.stream(batches(), consume, total=20, queue_size=2)
    assert consumed == list(range(20))
    assert max(ahead) <= 2 + 2


def test_writer_error_reaches_the_caller_and_stops_generation():
    produced = []

    def batches():
        for i in range(100):
            produced.append(i)
            yield i, np.zeros((1, 4, 4, 3), np.uint8)

    def consume(first, frames):
        if first == 2:
            raise RenderError("video encoder failed: disk full")

    with pytest.raises(RenderError, match="disk full"):
        render.stream(batches(), consume, total=100, queue_size=2)
    assert len(produced) < 100


def test_a_progress_callback_can_cancel():
    def cancel(event):
        if event.done >= 4:
            raise Cancelled("stop")

    consumed = []
    batches = render.generate(wrap(ToyGenerator()), random_timeline(12), 0, 12, batch_size=2)
    with pytest.raises(Cancelled):
        render.stream(batches, lambda f, x: consumed.append(f), total=12, progress=cancel)
    assert len(consumed) < 6  # stopped early: at most what was queued is consumed


def test_storyboard_samples_spread_over_the_song_with_timestamps():
    from visualizer.rendering.storyboard import contact_sheet, sample_indices, timestamp

    assert sample_indices(100, 4) == [12, 37, 62, 87]
    assert sample_indices(2, 5) == [0, 1]
    assert sample_indices(0, 3) == []
    assert timestamp(83.25) == "1:23.2"
    tiles = [np.full((16, 16, 3), k * 40, np.uint8) for k in range(5)]
    sheet = contact_sheet(tiles, [timestamp(k) for k in range(5)], columns=3)
    assert sheet.size[0] > 3 * 16 and sheet.size[1] > 2 * 16
    pixels = np.asarray(sheet)
    assert (pixels == 160).all(axis=2).any()  # the fifth tile is on the sheet
