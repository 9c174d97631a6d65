"""The CUDA-only code paths, exercised where a CPU can show them: the encoder probe and its
fallbacks, NVENC's lossless mode, the batch cap, out-of-memory recognition, the benchmark's
copy of CUDA-graph outputs and the Ray actor's device choice."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import subprocess
import threading
import weakref

import numpy as np
import pytest
import torch

from tests.render_fixtures import ToyGenerator, random_timeline
from tests.test_pipeline import _options, _render, setup  # noqa: F401 (fixture)
from tests.video_fixtures import read_frames
from visualizer import pipeline
from visualizer.batch.ray_worker import NOSET_VISIBLE, actor_device
from visualizer.bench.generator import warm_up_outputs
from visualizer.errors import RenderError
from visualizer.ffmpeg import ffmpeg_exe
from visualizer.model import device_memory as memory
from visualizer.model.config import BigGANConfig
from visualizer.model.inference import wrap
from visualizer.rendering import frames as render
from visualizer.rendering import video

no_nvenc_here = pytest.mark.skipif(
    torch.cuda.is_available(), reason="shows the fallback where NVENC cannot open"
)


@no_nvenc_here
def test_probe_finds_that_nvenc_cannot_encode_here_and_libx264_can():
    assert "h264_nvenc" in video.available_encoders()  # listed, yet it cannot run here
    assert video.encoder_problem("h264_nvenc", 128, 128)
    assert video.encoder_problem("libx264", 128, 128) is None


@no_nvenc_here
def test_auto_falls_back_to_libx264_with_an_info_line(caplog):
    with caplog.at_level(logging.INFO, logger="visualizer"):
        assert video.resolve_encoder("auto", cuda=True, size=(1920, 1080)) == "libx264"
    assert "h264_nvenc cannot encode 1920x1080 video here" in caplog.text
    with pytest.raises(RenderError, match=r"'h264_nvenc' cannot encode 128x128 .*libx264"):
        video.resolve_encoder("h264_nvenc", cuda=True, size=(128, 128))


@no_nvenc_here
def test_resume_whose_saved_encoder_cannot_open_renders_again_with_libx264(setup, tmp_path):  # noqa: F811
    track, saved, n = setup
    out = tmp_path / "out.mp4"
    plan = pipeline.plan_render(track, out, _options(saved))
    pipeline.render_segments(plan, [0, 1], wrap(ToyGenerator()))
    manifest_path = plan.work_dir / "render.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["encoder"] = "h264_nvenc"  # as if started on a machine with NVENC
    manifest_path.write_text(json.dumps(manifest))
    resumed = pipeline.plan_render(track, out, _options(saved, resume=True))
    assert resumed.encoder == "libx264"
    assert resumed.pending() == list(range(len(resumed.segments)))  # nvenc segments are gone
    assert json.loads(manifest_path.read_text())["encoder"] == "libx264"
    _render(track, out, _options(saved, resume=True))
    uninterrupted = tmp_path / "whole.mp4"
    _render(track, uninterrupted, _options(saved))
    assert np.array_equal(read_frames(out), read_frames(uninterrupted))


def test_quality_zero_is_lossless_with_both_encoders():
    assert video.encoder_args("h264_nvenc", 0)[-2:] == ["-tune", "lossless"]
    assert "-cq" not in video.encoder_args("h264_nvenc", 0)
    assert video.encoder_args("h264_nvenc", 23)[-2:] == ["-b:v", "0"]
    assert video.encoder_args("libx264", 0)[4:6] == ["-crf", "0"]
    # The bundled ffmpeg's NVENC accepts the value (an unknown one would fail at open).
    help_text = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-h", "encoder=h264_nvenc"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert re.search(r"^\s+lossless\s+\d+\s", help_text, flags=re.MULTILINE)


def test_batch_cap_keeps_every_activation_under_2_31_elements():
    assert BigGANConfig.for_model("biggan-deep-512").largest_activation() == 128 * 512 * 512
    for resolution in (128, 256, 512):
        cap = memory.batch_cap(resolution)
        largest = BigGANConfig.for_model(f"biggan-deep-{resolution}").largest_activation()
        assert cap * largest < 2**31 <= (cap + 1) * largest or cap == memory.MAX_AUTO_BATCH
    assert memory.batch_cap(512) == 63
    assert memory.auto_batch_size(torch.device("cpu"), 512) == 1


@pytest.mark.parametrize(
    "error, expected",
    [
        (torch.OutOfMemoryError("CUDA out of memory (injected)"), True),
        (torch.OutOfMemoryError(""), True),
        (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"), True),
        (RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"), True),
        (RuntimeError(""), False),
        (RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED"), False),
        (ValueError("CUDA out of memory"), False),
    ],
)
def test_out_of_memory_recognises_cublas_and_cudnn_allocation_failures(error, expected):
    assert memory.is_out_of_memory(error) is expected


def test_bench_warm_up_keeps_a_copy_of_a_reused_output_buffer():
    static = torch.zeros(2, 3)  # like a CUDA graph's output: one buffer, rewritten each replay

    def replay(value: float):
        def run():
            static.fill_(value)
            return static

        return run

    outputs = warm_up_outputs({"fp32": replay(1.0), "reference": replay(2.0)})
    assert outputs["fp32"].eq(1.0).all() and outputs["reference"].eq(2.0).all()
    assert outputs["fp32"].data_ptr() != static.data_ptr()


@pytest.mark.parametrize(
    "device, ids, env, expected",
    [
        ("cuda", [3], {}, "cuda"),  # Ray set CUDA_VISIBLE_DEVICES=3: "cuda" is that GPU
        ("cuda", [3], {NOSET_VISIBLE: "1"}, "cuda:3"),
        ("auto", ["1"], {NOSET_VISIBLE: "1"}, "cuda:1"),
        ("cuda", ["6"], {NOSET_VISIBLE: "1", "CUDA_VISIBLE_DEVICES": "4, 6,7"}, "cuda:1"),
        ("cuda", [], {NOSET_VISIBLE: "1"}, "cuda"),  # a CPU actor
        ("cpu", [2], {NOSET_VISIBLE: "1"}, "cpu"),
        ("cuda:1", [2], {NOSET_VISIBLE: "1"}, "cuda:1"),
    ],
)
def test_ray_actor_device_under_noset_visible_devices(device, ids, env, expected):
    assert actor_device(device, ids, env) == expected


class FailsOnce(ToyGenerator):
    """Raises ``error`` on the first call with more than ``limit`` frames, holding a tensor."""

    def __init__(self, error: BaseException, limit: int = 2) -> None:
        super().__init__()
        self.error, self.limit, self.held = error, limit, None

    def frames_uint8(self, z, class_vectors, truncation):
        if z.shape[0] > self.limit and self.held is None:
            batch = torch.empty(z.shape[0], 1 << 16)  # what a failed forward leaves behind
            self.held = weakref.ref(batch)
            raise type(self.error)(*self.error.args)  # a fresh one, as torch raises
        assert self.held is None or self.held() is None  # released before the retry
        return super().frames_uint8(z, class_vectors, truncation)


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError(""),
        RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
        RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"),
    ],
)
def test_generate_halves_on_every_kind_of_allocation_failure(error):
    timeline = random_timeline(9)
    expected = (
        ToyGenerator()
        .frames_uint8(
            *(
                torch.from_numpy(a)
                for a in (timeline.noise, timeline.class_vectors, timeline.truncation)
            )
        )
        .numpy()
    )
    flaky = FailsOnce(error)
    got = list(render.generate(wrap(flaky), timeline, 0, 9, batch_size=8))
    assert flaky.calls == [4, 4, 1]  # the batch of 8 failed once
    assert np.array_equal(np.concatenate([f.numpy() for _, f in got]), expected)


def test_automatic_batch_size_is_decided_once_per_render(tmp_path):
    assert pipeline.shared_batch_size(tmp_path, 48) == 48
    # A resumed or split run with more (or less) free GPU memory batches as the first did.
    assert pipeline.shared_batch_size(tmp_path, 63) == 48
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch_size"]


def test_generator_thread_runs_every_call_on_one_thread_and_reraises():
    from visualizer.model.thread import GeneratorThread

    worker = GeneratorThread()
    seen = set()
    callers = [
        threading.Thread(target=lambda: seen.add(worker.call(threading.get_ident)))
        for _ in range(4)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert seen == {worker.ident} and worker.ident != threading.get_ident()
    with pytest.raises(ZeroDivisionError):
        worker.call(lambda: 1 / 0)
    assert worker.call(lambda a, b=0: a + b, 2, b=3) == 5  # still serving after an error
    worker.close()


class CompiledToy(ToyGenerator):
    """A ToyGenerator that fails its first ``failures`` calls."""

    def __init__(self, failures: list[BaseException]) -> None:
        super().__init__()
        self.failures = list(failures)

    def frames_uint8(self, z, class_vectors, truncation):
        if self.failures:
            error = self.failures.pop(0)
            raise type(error)(*error.args)
        return super().frames_uint8(z, class_vectors, truncation)


def _compiled(toy: CompiledToy):
    """What load_generator returns for a compiled generator (the toy's own body as the graph)."""
    return dataclasses.replace(wrap(toy, batch_size=8), compile_mode="default")


def test_warm_up_halves_on_out_of_memory_and_survives_an_empty_message(caplog):
    from visualizer.model.inference import warm_up

    oom = CompiledToy([torch.OutOfMemoryError(""), RuntimeError("CUBLAS_STATUS_ALLOC_FAILED")])
    warmed = warm_up(_compiled(oom))
    assert warmed.batch_size == 2
    assert oom.calls == [2] and warmed.compile_mode == "default"
    broken = CompiledToy([RuntimeError("")])  # an empty message used to be an IndexError
    with caplog.at_level(logging.WARNING, logger="visualizer"):
        eager = warm_up(_compiled(broken))
    assert eager.batch_size == 8
    assert eager.compile_mode is None and "RuntimeError" in caplog.text
    with pytest.raises(RenderError, match="batch size 1"):
        warm_up(_compiled(CompiledToy([torch.OutOfMemoryError("")] * 4)))


def test_the_loader_loads_beside_the_caller_and_renders_on_its_own_thread():
    """On an accelerator the generator loads and compiles (CUDA graphs recorded too) on the
    loader's thread while the track is analysed, and the render runs on that same thread."""
    from tests.toy_family import TOY
    from visualizer.model import catalog
    from visualizer.model.inference import BackgroundLoader
    from visualizer.pipeline.options import RenderOptions

    catalog.register(TOY)
    try:
        events = []
        loader = BackgroundLoader(
            RenderOptions(model="toy-16", weights="random", device="cpu"), events.append
        )
        generator = loader.join()  # loaded on the loader's thread
        assert generator.resolution == 16 and loader.thread.ident != threading.get_ident()
        where = loader.run(lambda progress: (threading.get_ident(), progress))
        assert where[0] == loader.thread.ident and callable(where[1])
        loader.close()
    finally:
        catalog.unregister(TOY.name)
