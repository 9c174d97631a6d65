"""Live-mode benchmark: render fps and audio-to-frame latency of `visualizer live`.

Runs a real live session (server, render thread, JPEG, WebSocket) on the chosen model with
seeded random weights (same architecture and cost as the published ones) over a generated
track. A WebSocket client plays the page: it reports a real-time playback clock ~20 times a
second and, for each frame it receives, records latency = clock now - the frame's time.

    python benchmarks/live_bench.py --model biggan-deep-128 --seconds 15
    python benchmarks/live_bench.py --model biggan-deep-512 --device cuda --fps 30

Prints one JSON line: received fps, mean/p95 latency in ms, dropped frames, render ms per frame,
and the generator alone at batch 1 (`frames_uint8` on one frame at a time, no analysis, JPEG or
WebSocket) measured in the same run, before and after the session (mean of the two, so load
from other processes hits both alike), with the ratios received / generator-only (goal >= 0.8)
and latency p95 / one generator-only render time (goal <= 2), and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import struct
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def _page(url: str, seconds: float) -> list[float]:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    async with connect(url, max_size=None) as ws:
        start = time.monotonic()
        last_report = -1.0
        while (now := time.monotonic() - start) < seconds:
            if now - last_report >= 0.05:
                await ws.send(json.dumps({"type": "clock", "t": now, "playing": True}))
                last_report = now
            try:
                message = await asyncio.wait_for(ws.recv(), 0.02)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                length = struct.unpack(">I", message[:4])[0]
                header = json.loads(message[4 : 4 + length])
                latencies.append(1000.0 * ((time.monotonic() - start) - header["t"]))
    return latencies


def generator_only_fps(generator, seconds: float) -> float:
    """Frames per second of ``generator`` alone at batch 1 over about ``seconds`` s.

    Runs on a thread of its own, as the live render loop does: on the shared 2-core CPU the
    same generator measured 0.64 fps on the main thread against 5.3 fps on the render thread
    of the session in between, so both sides of the ratio must run under the same conditions.
    """
    import threading

    result: list[float] = []
    thread = threading.Thread(target=lambda: result.append(_fps(generator, seconds)))
    thread.start()
    thread.join()
    return result[0]


def _fps(generator, seconds: float) -> float:
    """Batch-1 frames per second of a `visualizer.model.inference.Generator` (the live loop's)."""
    import torch

    config = generator.network.config
    gen = torch.Generator().manual_seed(1)
    y = torch.zeros(1, config.num_classes)
    y[0, 1] = 1.0
    frames, started = 0, time.perf_counter()
    while frames < 2 or time.perf_counter() - started < seconds:
        z = (torch.randn(1, config.z_dim, generator=gen) * 0.5).to(generator.device)
        truncation = torch.full((1,), 0.5, device=generator.device)
        generator.frames(z, y.to(generator.device), truncation).cpu()
        frames += 1
    return frames / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="biggan-deep-128")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", default="random", help="weights (default: random)")
    parser.add_argument("--fps", default="30")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--precision", default="auto", help="auto (fp16 on CUDA) | fp32 | fp16 | bf16"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument(
        "--generator-seconds", type=float, default=5.0, help="generator-only run, each side"
    )
    args = parser.parse_args(argv)

    import torch

    from tests.fixtures_audio import SR, music_like
    from visualizer.live.control import LiveControl
    from visualizer.live.session import LiveOptions, LiveSession
    from visualizer.live.source_file import FileSource
    from visualizer.model.inference import load_generator

    if args.threads:
        torch.set_num_threads(args.threads)
    fps = Fraction(args.fps)
    started = time.perf_counter()
    live = LiveOptions(
        model=args.model, weights=args.weights, device=args.device, precision=args.precision
    )
    generator = load_generator(live)
    load_s = time.perf_counter() - started
    gen_before = generator_only_fps(generator, args.generator_seconds)
    samples = music_like(args.seconds + 5, SR, seed=0).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        control = LiveControl("default", save_dir=folder)
        session = LiveSession(
            generator=generator, control=control, source=FileSource(samples, SR), fps=fps,
            port=0,
        )  # fmt: skip
        session.start()
        try:
            url = f"ws://127.0.0.1:{session.server.port}/ws"
            latencies = asyncio.run(_page(url, args.seconds))
        finally:
            stats = session.engine.stats
            session.close()
    gen_after = generator_only_fps(generator, args.generator_seconds)
    gen_fps = (gen_before + gen_after) / 2
    frames_due = int(args.seconds * fps)
    received_fps = len(latencies) / args.seconds
    p95 = float(np.percentile(latencies, 95)) if latencies else None
    result = {
        "check": "live",
        "model": args.model,
        "device": args.device,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "fps_target": float(fps),
        "seconds": args.seconds,
        "received": len(latencies),
        "received_fps": round(received_fps, 2),
        "generator_only_fps": round(gen_fps, 2),
        "generator_only_fps_before_after": [round(gen_before, 2), round(gen_after, 2)],
        "received_over_generator": round(received_fps / gen_fps, 3),
        "latency_p95_over_render_time": round(p95 * gen_fps / 1000, 2) if p95 else None,
        "render_ms_last": round(stats.render_ms, 1),
        "latency_ms_mean": round(float(np.mean(latencies)), 1) if latencies else None,
        "latency_ms_p95": round(p95, 1) if p95 is not None else None,
        "dropped": stats.dropped,
        "frames_due": frames_due,
        "model_load_s": round(load_s, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
