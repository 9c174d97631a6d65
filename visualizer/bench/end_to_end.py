"""End-to-end render benchmarks: pipeline overhead over the generator, and memory vs length.

``run_end_to_end_bench(args)`` measures, in one run and on the same frames:

- generator-only: the Timeline's frames generated in batches and thrown away;
- end to end: `render_track` from the audio file to a finished MP4 (analysis, mapping,
  generation, encoding on the writer thread, audio mux), the generator already loaded;

and reports their ratio (goal <= 1.15). With ``rss=True`` it also renders a short and a long
track in subprocesses with a tiny generator and compares their peak resident memory (goal: the
10-minute track <= 1.2x the 1-minute track).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any


def _demo_track(folder: Path, seconds: float, seed: int = 0) -> Path:
    """A synthetic song (chords + drums with section changes) written as 44.1 kHz wav."""
    import numpy as np
    import soundfile as sf

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "samples"))
    try:
        from make_demo import make  # the demo generator, at any length
    except ImportError:  # an installed package without samples/: a plain chord pulse
        make = None
    path = folder / f"track-{seconds:g}s.wav"
    if make is not None:
        audio = make(seconds, seed)
    else:
        t = np.arange(int(seconds * 44100)) / 44100
        audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(
            np.float32
        )
    sf.write(path, audio, 44100, subtype="PCM_16")
    return path


def tiny_checkpoint(folder: Path, channel_width: int = 8, seed: int = 0) -> Path:
    """A random BigGAN-deep-128 checkpoint with ``channel_width`` (8: ~0.1 s/frame on a CPU)."""
    import torch

    from visualizer.model.network import BigGANConfig
    from visualizer.model.random_weights import random_state_dict

    config = dataclasses.replace(
        BigGANConfig.for_model("biggan-deep-128"), channel_width=channel_width
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    torch.save(random_state_dict(config, seed), folder / "pytorch_model.bin")
    return folder


def generator_only_seconds(generator: Any, timeline: Any, batch_size: int) -> float:
    """Seconds to generate every frame of ``timeline`` (uint8 on the host), nothing else."""
    from visualizer.model.inference import device_of
    from visualizer.render import frames as render

    device = device_of(generator)
    start = time.perf_counter()
    for _first, frames in render.generate(
        generator, timeline, 0, timeline.n_frames, device=device, batch_size=batch_size
    ):
        frames.cpu()
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def run_end_to_end_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Generator-only vs end-to-end seconds for the same frames; optional RSS comparison.

    ``args`` fields (all optional): seconds (track length, default 4), fps (default 10), model
    (default biggan-deep-128), weights (default "random": real architecture, random weights),
    device ("auto"), batch_size (None = automatic), precision ("auto"), compile ("off"),
    repeats (2), rss (False), rss_fps (4).
    """
    from visualizer.render.plan import RenderOptions

    seconds = float(getattr(args, "seconds", 4.0))
    fps = Fraction(getattr(args, "fps", None) or 10)
    options = RenderOptions(
        model=getattr(args, "model", "biggan-deep-128"),
        weights=getattr(args, "weights", None) or "random",
        device=getattr(args, "device", "auto"),
        fps=fps,
        batch_size=getattr(args, "batch_size", None),
        precision=getattr(args, "precision", "auto"),
        compile=getattr(args, "compile", "off"),
    )
    saved_cache = os.environ.get("VISUALIZER_CACHE")
    try:
        return _bench(args, options, seconds)
    finally:
        if saved_cache is None:
            os.environ.pop("VISUALIZER_CACHE", None)
        else:
            os.environ["VISUALIZER_CACHE"] = saved_cache


def _bench(args: argparse.Namespace, options: Any, seconds: float) -> dict[str, Any]:
    from visualizer.model.inference import load_generator
    from visualizer.pipeline import make_timeline, render_track

    result: dict[str, Any] = {"machine": machine(), "model": options.model, "fps": str(options.fps)}
    with tempfile.TemporaryDirectory(prefix="visualizer-bench-") as folder:
        track = _demo_track(Path(folder), seconds)
        started = time.perf_counter()
        generator = load_generator(options)
        result["load_seconds"] = time.perf_counter() - started
        timeline = make_timeline(track, options)
        from visualizer.model.inference import device_of, resolution_of
        from visualizer.render import frames as render

        batch = options.batch_size or render.auto_batch_size(
            device_of(generator), resolution_of(generator, options.model)
        )
        # Warm-up (and, with compile, the compilation) for the batch shape the render uses.
        generator.warm_batch_size = batch
        generator_only_seconds(generator, timeline.slice(0, min(2, timeline.n_frames)), batch)
        # Alternate the two measurements and keep each one's best, so that load from other
        # processes on a shared machine hits both alike. Each end-to-end run starts with an
        # empty analysis cache: it pays for analysis and mapping like a first render does.
        gens, ends = [], []
        for repeat in range(int(getattr(args, "repeats", 2))):
            gens.append(generator_only_seconds(generator, timeline, batch))
            os.environ["VISUALIZER_CACHE"] = str(Path(folder) / f"cache-{repeat}")
            out = Path(folder) / f"bench-{repeat}.mp4"
            ends.append(render_track(track, out, options, generator=generator).wall_seconds)
        gen, end = min(gens), min(ends)
        result.update(
            frames=timeline.n_frames,
            batch_size=batch,
            device=str(device_of(generator)),
            generator_only_seconds=[round(x, 3) for x in gens],
            end_to_end_seconds=[round(x, 3) for x in ends],
            ratio=round(end / gen, 3),
            fps_ratio=round(gen / end, 3),
            precision=str(generator.gen_z.weight.dtype).removeprefix("torch."),
            compile=getattr(generator, "compile_mode", None),
            generator_fps=round(timeline.n_frames / gen, 3),
            end_to_end_fps=round(timeline.n_frames / end, 3),
            load_average=[round(x, 2) for x in os.getloadavg()],
        )
        if getattr(args, "rss", False):
            result["rss"] = rss_bench(Path(folder), fps=Fraction(getattr(args, "rss_fps", 4)))
    return result


def end_to_end_lines(result: dict[str, Any]) -> list[str]:
    """The `run_end_to_end_bench` numbers as a small table (fps, and end-to-end / generator)."""
    head = (
        f"end to end: {result['model']}, {result['frames']} frames at {result['fps']} fps, "
        f"batch {result['batch_size']}, {result['precision']}, compile "
        f"{result['compile'] or 'off'}, on {result['device']} (best of "
        f"{len(result['end_to_end_seconds'])}; load average {result['load_average']})"
    )
    return [
        head,
        "| generator-only fps | end-to-end fps | end-to-end / generator-only |",
        "|---:|---:|---:|",
        f"| {result['generator_fps']:.2f} | {result['end_to_end_fps']:.2f} | "
        f"{result['fps_ratio']:.3f} |",
    ]


def rss_bench(folder: Path, *, fps: Fraction, minutes: tuple[float, float] = (1, 10)) -> dict:
    """Peak RSS (MiB) of a CLI render of a short and a long track: each process tree's own."""
    weights = tiny_checkpoint(folder / "tiny")
    peaks = {}
    for length in minutes:
        track = _demo_track(folder, length * 60, seed=1)
        out = folder / f"rss-{length:g}.mp4"
        command = [sys.executable, "-m", "visualizer", "render", str(track), "-o", str(out)]
        command += ["--weights", str(weights), "--fps", str(fps), "--device", "cpu", "--quiet"]
        command += ["--overwrite"]
        started = time.perf_counter()
        # An empty analysis cache per run: each render pays for its analysis.
        env = {**os.environ, "VISUALIZER_CACHE": str(folder / f"cache-{length:g}")}
        peak = _child_peak_rss(command, env)
        peaks[f"{length:g}min"] = {
            "peak_rss_mib": round(peak, 1),
            "seconds": round(time.perf_counter() - started, 1),
        }
    short, long = (peaks[f"{m:g}min"]["peak_rss_mib"] for m in minutes)
    peaks["ratio"] = round(long / short, 3)
    peaks["fps"] = str(fps)
    return peaks


def _child_peak_rss(command: list[str], env: dict[str, str]) -> float:
    """Peak resident memory (MiB) of ``command`` and its children (the ffmpeg encoder)."""
    from visualizer.bench.memory import run_with_tree_peak

    peak = run_with_tree_peak(command, env)
    if peak.returncode != 0:
        raise RuntimeError(f"benchmark render failed: {peak.stderr.strip()[-500:]}")
    return peak.peak_mib


def machine() -> str:
    import torch

    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text + f", torch {torch.__version__}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", default="10")
    parser.add_argument("--rss", action="store_true")
    print(json.dumps(run_end_to_end_bench(parser.parse_args()), indent=1))
