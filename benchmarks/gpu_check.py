"""The steps of benchmarks/gpu_check.sh: each prints one JSON line per check on stdout, flushed,
so a step stopped at its time limit keeps the checks it finished.

    python3 benchmarks/gpu_check.py STEP [--dry] [--work DIR]

STEP: preflight (imports, ffmpeg, CUDA; then the machine), encode (encoder-only fps at 512 px: 1, 2,
4, ... encoders, medium and veryfast), sweep (batch 32 at 512 px in fp32, fp16 and bf16: fps and
the share of pixels within 2 levels of fp32), cudnn (deterministic against benchmark
algorithms), render (generator-only in the render's process, then the 7,200-frame 512 px render
end to end, per stage), resume (a render killed after its first segment and resumed, against an
uninterrupted one, decoded frame by frame), oom (a real out-of-memory error halves the batch,
the halving recorded in the work folder), compile (one compiled fp16 run, last). ``--dry``: the
same code at tiny sizes on the CPU (a tiny random checkpoint; out-of-memory injected; no
compile), so the script is tested where there is no GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What each step renders: the GPU check's sizes, or the dry run's."""

    device: str = "cuda"
    model: str = "biggan-deep-512"
    weights: str = "random"
    encode_size: int = 512
    encode_frames: int = 256
    encode_counts: tuple[int, ...] = (1, 2, 4, 8, 16)
    batch: int = 32
    batches: int = 8
    render_seconds: float = 240.0
    fps: int = 30
    resume_model: str = "biggan-deep-256"
    resume_seconds: float = 20.0
    compile_mode: str = "reduce-overhead"
    precisions: tuple[str, ...] = ("fp32", "fp16", "bf16")
    half: str = "fp16"  # the precision of the cuDNN and compile checks


def sizes(dry: bool, work: Path) -> Sizes:
    if not dry:
        return Sizes()
    from visualizer.bench.end_to_end import tiny_checkpoint

    folder = work / "tiny"
    weights = folder if (folder / "config.json").is_file() else tiny_checkpoint(folder)
    return Sizes(
        device="cpu", model="biggan-deep-128", weights=str(weights), encode_size=64,
        encode_frames=16, encode_counts=(1, 2), batch=2, batches=1, render_seconds=2.0, fps=4,
        resume_model="biggan-deep-128", resume_seconds=2.0, compile_mode="off",
        precisions=("fp32", "bf16"), half="fp32",  # a CPU's fp16 convolutions crawl
    )  # fmt: skip


def emit(check: str, **data) -> None:
    print(json.dumps({"check": check, **data}), flush=True)


def options(s: Sizes, **kwargs):
    from visualizer.pipeline.options import RenderOptions

    values = {"model": s.model, "weights": s.weights, "device": s.device, "fps": Fraction(s.fps)}
    return RenderOptions(**{**values, **kwargs})


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def preflight(s: Sizes, work: Path) -> None:
    """Every import the checks need, ffmpeg and its encoders, and CUDA: one line."""
    missing = []
    for name in ("numpy", "scipy", "torch", "soundfile", "soxr", "imageio_ffmpeg", "websockets"):
        try:
            __import__(name)
        except Exception as error:  # noqa: BLE001 - report every missing module at once
            missing.append(f"{name} ({type(error).__name__})")
    line = {"ok": not missing, "missing": missing}
    if "imageio_ffmpeg" not in " ".join(missing):
        from visualizer.ffmpeg import ffmpeg_exe

        version = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True)
        listed = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True)
        line["ffmpeg"] = (version.stdout.split() or ["?"] * 3)[2]
        line["libx264"] = b" libx264 " in listed.stdout
        line["h264_nvenc"] = b" h264_nvenc " in listed.stdout
        line["ok"] = line["ok"] and line["libx264"]
    if "torch" not in " ".join(missing) and s.device == "cuda":
        import torch

        line["cuda"] = torch.cuda.is_available()
        line["ok"] = line["ok"] and line["cuda"]
    emit("preflight", **line)
    if line["ok"]:
        environment(s, work)


def environment(s: Sizes, work: Path) -> None:
    import platform

    import torch

    from visualizer.rendering.encoders import encoder_layout, usable_cores

    line = {
        "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "cores": usable_cores(), "encoder_layout": encoder_layout(),
    }  # fmt: skip
    if torch.cuda.is_available():
        line["gpu"] = torch.cuda.get_device_name(0)
        line["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30)
    smi = shutil.which("nvidia-smi")
    if smi:
        query = ["--query-gpu=driver_version,clocks.max.sm", "--format=csv,noheader"]
        line["driver"] = subprocess.run(
            [smi, *query], capture_output=True, text=True
        ).stdout.strip()
    emit("environment", **line)


def encode(s: Sizes, work: Path) -> None:
    from visualizer.bench.encoding import encoder_fps, synthetic_frames
    from visualizer.rendering.encoders import usable_cores

    frames = synthetic_frames(s.encode_size)
    cores = usable_cores()
    for preset in ("medium", "veryfast"):
        for count in s.encode_counts:
            row = encoder_fps(
                frames, s.encode_frames, encoders=count, threads=max(1, cores // count),
                preset=preset, segment_frames=max(8, s.encode_frames // 8),
            )  # fmt: skip
            emit("encode", size=s.encode_size, cores=cores, **row)


def _inputs(s: Sizes, batch: int):
    import torch

    gen = torch.Generator().manual_seed(0)
    z = (torch.randn(batch, 128, generator=gen).clamp(-2, 2) * 0.5).to(s.device)
    y = torch.softmax(4 * torch.randn(batch, 1000, generator=gen), 1).to(s.device)
    truncation = torch.linspace(0.3, 1.0, batch).to(s.device)
    return z, y, truncation


def _timed(s: Sizes, generator, inputs, batches: int):
    """(uint8 frames of one batch on the host, frames per second over ``batches`` batches)."""
    frames = generator.frames(*inputs).cpu()  # warm-up (and cuDNN's choice)
    synchronize(s.device)
    started = time.perf_counter()
    for _ in range(batches):
        generator.frames(*inputs)
    synchronize(s.device)
    return frames, batches * len(frames) / (time.perf_counter() - started)


def _agreement(frames, reference) -> dict:
    diff = (frames.int() - reference.int()).abs()
    share = float((diff <= 2).float().mean())
    return {"share_within_2_levels": round(share, 5), "max_level_diff": int(diff.max())}


def sweep(s: Sizes, work: Path) -> None:
    from visualizer.model.inference import load_generator

    inputs = _inputs(s, s.batch)
    reference = None
    for precision in s.precisions:
        generator = load_generator(options(s, precision=precision, batch_size=s.batch))
        frames, fps = _timed(s, generator, inputs, s.batches)
        reference = frames if reference is None else reference
        emit("sweep", model=s.model, batch=s.batch, precision=precision, fps=round(fps, 1),
             **_agreement(frames, reference))  # fmt: skip
        del generator
        _release(s)


def _release(s: Sizes) -> None:
    import gc

    gc.collect()
    if s.device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def cudnn(s: Sizes, work: Path) -> None:
    """fp16 generator fps with cuDNN's deterministic algorithms and with its benchmark mode."""
    from visualizer.model.inference import configure_cudnn, load_generator

    generator = load_generator(options(s, precision=s.half, batch_size=s.batch))
    inputs = _inputs(s, s.batch)
    results = {}
    for mode in ("deterministic", "benchmark", "deterministic"):
        configure_cudnn(generator.device, mode)
        frames, fps = _timed(s, generator, inputs, s.batches)
        again = generator.frames(*inputs).cpu()
        results[mode] = fps
        emit("cudnn", mode=mode, fps=round(fps, 1), repeatable=bool((again == frames).all()))
    emit("cudnn_cost", benchmark_over_deterministic=round(results["benchmark"] / fps, 3))


def render(s: Sizes, work: Path) -> None:
    from visualizer.bench.end_to_end import _demo_track, generator_only_seconds  # noqa: PLC2701
    from visualizer.model.inference import load_for_render
    from visualizer.pipeline.render import render_track
    from visualizer.pipeline.timeline import make_timeline

    chosen = options(s)
    track = _demo_track(work, s.render_seconds)
    generator = load_for_render(chosen)
    timeline = make_timeline(track, chosen)
    generator_only_seconds(generator, timeline.slice(0, generator.batch_size), generator.batch_size)
    seconds = generator_only_seconds(generator, timeline, generator.batch_size)
    emit("generator_only", frames=timeline.n_frames, batch=generator.batch_size,
         seconds=round(seconds, 3), fps=round(timeline.n_frames / seconds, 1))  # fmt: skip
    stages: dict[str, list[float]] = {}
    started = time.perf_counter()

    def clock(event) -> None:
        now = time.perf_counter() - started
        stages.setdefault(event.stage, [now, now])[1] = now

    out = work / "render.mp4"
    result = render_track(track, out, dataclasses.replace(chosen, overwrite=True),
                          generator=generator, progress=clock)  # fmt: skip
    emit("render", frames=result.n_frames, wall_seconds=round(result.wall_seconds, 3),
         fps=round(result.n_frames / result.wall_seconds, 1),
         over_generator_only=round(seconds / result.wall_seconds, 3),
         after_last_frame_seconds=round(time.perf_counter() - started - stages["render"][1], 3),
         stages={k: [round(a, 2), round(b, 2)] for k, (a, b) in stages.items()})  # fmt: skip


def resume(s: Sizes, work: Path) -> None:
    """Kill a render after its first segment, resume it, compare with an uninterrupted one."""
    import numpy as np

    from tests.video_fixtures import read_frames
    from visualizer.bench.end_to_end import _demo_track  # noqa: PLC2701

    track = _demo_track(work, s.resume_seconds)
    common = [
        sys.executable,
        "-m",
        "visualizer",
        "render",
        str(track),
        "--model",
        s.resume_model,
        "--weights",
        s.weights,
        "--device",
        s.device,
        "--fps",
        str(s.fps),
        "-q",
        "--segment-frames",
        str(max(2, int(s.resume_seconds * s.fps) // 4)),
        "--overwrite",
    ]
    whole, resumed = work / "whole.mp4", work / "resumed.mp4"
    subprocess.run([*common, "-o", str(whole)], check=True)
    child = subprocess.Popen([*common, "-o", str(resumed)], start_new_session=True)
    parts = work / f".{resumed.name}.parts"
    while child.poll() is None and not list(parts.glob("segment-*.mp4")):
        time.sleep(0.02)
    killed_after = len(list(parts.glob("segment-*.mp4")))
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    if parts.is_dir():
        subprocess.run([*common[:-1], "-o", str(resumed), "--resume"], check=True)
    a, b = read_frames(whole), read_frames(resumed)
    same = a.shape == b.shape and bool(np.array_equal(a, b))
    diff = int(np.abs(a.astype(int) - b.astype(int)).max()) if a.shape == b.shape else None
    emit("resume", ok=same, frames=len(a), segments_before_kill=killed_after, max_diff=diff)


class _OutOfMemoryOnce:
    """The dry run's stand-in for a GPU that runs out of memory: the first call with more than
    one frame raises torch's OutOfMemoryError (the same class a real one raises)."""

    def __init__(self, network) -> None:
        self.network, self.raised = network, False

    def __getattr__(self, name):
        return getattr(self.network, name)

    def frames_uint8(self, z, *args):
        import torch

        if len(z) > 1 and not self.raised:
            self.raised = True
            raise torch.OutOfMemoryError("out of memory (injected by the dry run)")
        return self.network.frames_uint8(z, *args)


def oom(s: Sizes, work: Path) -> None:
    """A real allocation failure (GPU memory held by a hog) halves the batch and finishes; the
    halving is kept in the work folder for a resume."""
    import torch

    from visualizer.bench.end_to_end import _demo_track  # noqa: PLC2701
    from visualizer.model.inference import load_generator
    from visualizer.pipeline.render import render_track

    chosen = options(s, batch_size=s.batch, overwrite=True)
    generator = load_generator(chosen)
    hog = None
    if s.device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info()
        hog = torch.empty(max(0, free - (6 << 30)), dtype=torch.uint8, device="cuda")
    else:
        generator = dataclasses.replace(generator, network=_OutOfMemoryOnce(generator.network))
    track = _demo_track(work, s.batch * 2 / s.fps)
    out = work / "oom.mp4"
    halvings: list[str] = []

    def look(event) -> None:
        if event.stage == "render":
            found = (work / f".{out.name}.parts").glob("batch-halved-at-*")
            halvings[:] = sorted(f"{p.name[16:]}:{p.read_text()}" for p in found)

    try:
        result = render_track(track, out, chosen, generator=generator, progress=look)
        emit("oom", ok=bool(halvings) and result.n_frames == s.batch * 2, frames=result.n_frames,
             recorded_halvings=halvings)  # fmt: skip
    finally:
        del hog
        _release(s)


def compile_check(s: Sizes, work: Path) -> None:
    """One compiled fp16 run: compile time, fps, agreement with the eager generator."""
    from visualizer.model.inference import load_generator, warm_up

    inputs = _inputs(s, s.batch)
    eager = load_generator(options(s, precision=s.half, batch_size=s.batch))
    reference, eager_fps = _timed(s, eager, inputs, s.batches)
    del eager
    _release(s)
    settings = options(s, precision=s.half, batch_size=s.batch, compile=s.compile_mode)
    started = time.perf_counter()
    compiled = warm_up(load_generator(settings))
    compile_seconds = time.perf_counter() - started
    frames, fps = _timed(s, compiled, inputs, s.batches)
    emit("compile", mode=compiled.compile_mode, batch=compiled.batch_size,
         compile_seconds=round(compile_seconds, 1), fps=round(fps, 1),
         eager_fps=round(eager_fps, 1), **_agreement(frames, reference))  # fmt: skip


STEPS = {
    "preflight": preflight, "encode": encode, "sweep": sweep,
    "cudnn": cudnn, "render": render, "resume": resume, "oom": oom, "compile": compile_check,
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--dry", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_check_work"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    chosen = Sizes(device="cpu") if args.step == "preflight" and args.dry else None
    STEPS[args.step](chosen or sizes(args.dry, args.work), args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
