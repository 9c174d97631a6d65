"""Steps of benchmarks/gpu_check.sh that need Python: each prints one JSON object on stdout.

    python benchmarks/gpu_check.py render --seconds 240 --fps 30 --model biggan-deep-512
    python benchmarks/gpu_check.py items
    python benchmarks/gpu_check.py resume --seconds 20

``render``: one end-to-end render with per-stage timings (first and last progress event of
each stage: analyze, map, compile, render, mux) and the render's own wall time.
``items``: the CUDA-path checks that need a GPU (encoder probe, copy events, batch cap, OOM
halving from a real allocation failure, NVENC lossless, CUDA graphs on the render thread).
``resume``: a render killed after its first segment, resumed, against an uninterrupted one and
a split one (segments rendered in two processes): decoded frames must be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _track(folder: Path, seconds: float) -> Path:
    from visualizer.bench.end_to_end import _demo_track  # noqa: PLC2701 (benchmark helper)

    return _demo_track(folder, seconds)


class StageClock:
    """A progress callback that keeps the first and last time of every stage."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, list[float]] = {}

    def __call__(self, event) -> None:
        now = time.perf_counter() - self.start
        first_last = self.stages.setdefault(event.stage, [now, now])
        first_last[1] = now

    def summary(self) -> dict[str, float]:
        return {k: round(v[1] - v[0], 3) for k, v in self.stages.items()} | {
            f"{k}_ends_at": round(v[1], 3) for k, v in self.stages.items()
        }


def render(args: argparse.Namespace) -> dict:
    from visualizer.pipeline.options import RenderOptions
    from visualizer.pipeline.render import render_track

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        track = _track(Path(folder), args.seconds)
        options = RenderOptions(
            model=args.model, weights="random", device=args.device, fps=Fraction(args.fps),
            compile=args.compile, precision=args.precision,
        )  # fmt: skip
        clock = StageClock()
        result = render_track(track, Path(folder) / "out.mp4", options, progress=clock)
        import torch

        return {
            "model": args.model, "compile": args.compile, "precision": args.precision,
            "frames": result.n_frames, "wall_seconds": round(result.wall_seconds, 3),
            "fps": round(result.n_frames / result.wall_seconds, 2), "stages": clock.summary(),
            "max_memory_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "memory_reserved_gib": round(torch.cuda.memory_reserved() / 2**30, 2),
        }  # fmt: skip


def items(args: argparse.Namespace) -> dict:
    import torch

    out: dict = {"gpus": torch.cuda.device_count(), "name": torch.cuda.get_device_name(0)}
    for name, check in CHECKS.items():
        try:
            out[name] = check(args)
        except Exception as error:  # noqa: BLE001 - one failed check must not hide the rest
            out[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:400]}
    return out


def check_encoder(args) -> dict:
    """Item 1: what auto picks at 128 and 512 px, and why NVENC cannot run where it cannot."""
    from visualizer.rendering import video

    rows = {}
    for side in (128, 512):
        rows[side] = {
            "auto": video.resolve_encoder("auto", cuda=True, size=(side, side)),
            "nvenc_problem": video.encoder_problem("h264_nvenc", side, side),
        }
    return {"ok": True, "sizes": rows}


def _toy_frames(device: str, n: int = 24) -> np.ndarray:
    """Frames of a fixed random linear 'generator' streamed through the CUDA copy path."""
    import torch

    from visualizer.rendering import frames as render

    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(128, 64 * 64 * 3, generator=gen).to(device)
    got = np.zeros((n, 64, 64, 3), np.uint8)

    def batches():
        for first in range(0, n, 4):
            z = torch.randn(4, 128, generator=gen).to(device)
            x = ((z @ weight).tanh() + 1) * 127.5
            torch.cuda._sleep(2_000_000)  # a slow kernel before the copy: a torn read shows
            yield first, x.round().to(torch.uint8).view(4, 64, 64, 3)

    def consume(first, frames):
        got[first : first + len(frames)] = frames

    render.stream(batches(), consume, total=n)
    return got


def check_copy_event(args) -> dict:
    """Item 2: frames copied from cuda:N arrive complete (equal to cuda:0's)."""
    import torch

    first = _toy_frames("cuda:0")
    if torch.cuda.device_count() < 2:
        return {"ok": bool(first.any()), "note": "one GPU: cuda:1 not checked"}
    other = _toy_frames(f"cuda:{torch.cuda.device_count() - 1}")
    return {"ok": bool(np.array_equal(first, other))}


def check_batch_cap(args) -> dict:
    """Item 3: the automatic 512 px batch stays <= 63 and a batch of 63 renders finite frames."""
    import torch

    from visualizer.model.device_memory import auto_batch_size

    auto = auto_batch_size(torch.device("cuda"), 512)
    half = auto_batch_size(torch.device("cuda"), 512, half=True)  # item 9: fp16 sizing
    return {"ok": max(auto, half) <= 63, "auto_batch_512": auto, "auto_batch_512_fp16": half}


def check_oom_halving(args) -> dict:
    """Item 4: a real allocation failure (memory held by a hog) halves the batch and finishes."""
    import torch

    from visualizer.pipeline.options import RenderOptions
    from visualizer.pipeline.render import render_track

    free, _ = torch.cuda.mem_get_info()
    hog = torch.empty(max(0, free - (6 << 30)), dtype=torch.uint8, device="cuda")
    try:
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
            track = _track(Path(folder), 4)
            options = RenderOptions(
                model="biggan-deep-512", weights="random", device="cuda", fps=Fraction(8),
                batch_size=32,
            )  # fmt: skip
            result = render_track(track, Path(folder) / "oom.mp4", options)
            return {"ok": result.n_frames == 32, "frames": result.n_frames}
    finally:
        del hog
        torch.cuda.empty_cache()


def check_nvenc_lossless(args) -> dict:
    """Item 7: quality 0 with NVENC decodes to the same frames as libx264's lossless CRF 0."""
    from tests.video_fixtures import read_frames
    from visualizer.rendering import video

    if video.encoder_problem("h264_nvenc", 256, 256):
        return {"ok": None, "note": "NVENC cannot run on this GPU / container"}
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (8, 256, 256, 3), dtype=np.uint8)
    decoded = {}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        for encoder in ("h264_nvenc", "libx264"):
            path = Path(folder) / f"{encoder}.mp4"
            writer = video.SegmentWriter(path, resolution=256, fps=Fraction(8), encoder=encoder,
                                         quality=0)  # fmt: skip
            writer.write(frames)
            writer.close()
            decoded[encoder] = read_frames(path)
    diff = np.abs(decoded["h264_nvenc"].astype(int) - decoded["libx264"].astype(int)).max()
    return {"ok": bool(diff == 0), "max_diff_vs_x264_lossless": int(diff)}


def check_graph_thread(args) -> dict:
    """Item 5: a reduce-overhead render: first-batch vs steady batch time and reserved memory
    (a second CUDA-graph pool recorded on the render thread shows as a slow first batch)."""
    import torch

    from visualizer.pipeline.options import RenderOptions
    from visualizer.pipeline.render import render_track

    times: list[float] = []

    def clock(event):
        if event.stage == "render":
            times.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        track = _track(Path(folder), 8)
        options = RenderOptions(
            model="biggan-deep-256", weights="random", device="cuda", fps=Fraction(30),
            compile="reduce-overhead", batch_size=8,
        )  # fmt: skip
        render_track(track, Path(folder) / "graph.mp4", options, progress=clock)
    gaps = np.diff(times)
    first, steady = (float(gaps[0]), float(np.median(gaps[1:]))) if len(gaps) > 2 else (0, 0)
    return {
        "ok": first < 5 * steady + 0.05, "first_batch_s": round(first, 4),
        "steady_batch_s": round(steady, 4),
        "memory_reserved_gib": round(torch.cuda.memory_reserved() / 2**30, 2),
    }  # fmt: skip


CHECKS = {
    "1_encoder_probe": check_encoder,
    "2_copy_event": check_copy_event,
    "3_batch_cap": check_batch_cap,
    "4_oom_halving": check_oom_halving,
    "5_graph_thread": check_graph_thread,
    "7_nvenc_lossless": check_nvenc_lossless,
}


def resume(args: argparse.Namespace) -> dict:
    """Kill a render after its first segment, resume it, compare with an uninterrupted one."""
    from tests.video_fixtures import read_frames

    folder = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    track = _track(folder, args.seconds)
    common = [sys.executable, "-m", "visualizer", "render", str(track), "--model", args.model,
              "--weights", "random", "--device", "cuda", "--fps", "30", "-q"]  # fmt: skip
    whole, resumed = folder / "whole.mp4", folder / "resumed.mp4"
    subprocess.run([*common, "-o", str(whole)], check=True)
    child = subprocess.Popen([*common, "-o", str(resumed)], start_new_session=True)
    parts = folder / f".{resumed.name}.parts"
    deadline = time.monotonic() + 300
    while not list(parts.glob("segment-*.mp4")) and time.monotonic() < deadline:
        if child.poll() is not None:
            break
        time.sleep(0.05)
    killed_after = len(list(parts.glob("segment-*.mp4")))
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    subprocess.run([*common, "-o", str(resumed), "--resume"], check=True)
    a, b = read_frames(whole), read_frames(resumed)
    same = a.shape == b.shape and bool(np.array_equal(a, b))
    diff = int(np.abs(a.astype(int) - b.astype(int)).max()) if a.shape == b.shape else None
    return {"ok": same, "frames": len(a), "segments_before_kill": killed_after, "max_diff": diff}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("render", "items", "resume"))
    parser.add_argument("--model", default="biggan-deep-512")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--fps", default="30")
    parser.add_argument("--compile", default="off")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    step = {"render": render, "items": items, "resume": resume}[args.step]
    print(json.dumps(step(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
