"""End-to-end render benchmarks: pipeline overhead over the generator, and memory vs length.

``run_end_to_end_bench(options)`` measures, in one run and on the same frames:

- generator-only: the Timeline's frames generated in batches and thrown away;
- end to end: `render_track` from the audio file to a finished MP4 (analysis, mapping,
  generation, encoding on the writer thread, audio mux), the generator already loaded;

and reports their ratio (goal <= 1.15). With ``rss=True`` it also renders a short and a long
track in subprocesses with a tiny generator and compares their peak resident memory (goal: the
10-minute track <= 1.2x the 1-minute track).
"""

from __future__ import annotations

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
    from visualizer.rendering import frames as render

    device = generator.device
    start = time.perf_counter()
    for _first, frames in render.generate(
        generator, timeline, 0, timeline.n_frames, batch_size=batch_size
    ):
        frames.cpu()
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)
    return time.perf_counter() - start


@dataclasses.dataclass(frozen=True)
class EndToEndOptions:
    """What `run_end_to_end_bench` measures."""

    seconds: float = 4.0  # length of the synthetic track, > 0
    fps: Fraction = Fraction(10)  # frame rate of the render
    model: str = "biggan-deep-128"
    weights: str = "random"  # real architecture, seeded random weights (no download)
    device: str = "auto"
    batch_size: int | None = None  # None = automatic
    precision: str = "auto"
    compile: str = "off"
    repeats: int = 2  # alternating generator-only / end-to-end runs; the best of each is kept
    rss: bool = False  # also compare the peak RSS of a 1- and a 10-minute render
    rss_fps: Fraction = Fraction(4)  # frame rate of the RSS renders


def run_end_to_end_bench(bench: EndToEndOptions = EndToEndOptions()) -> dict[str, Any]:
    """Generator-only vs end-to-end seconds for the same frames; optional RSS comparison."""
    from visualizer.pipeline.options import RenderOptions

    options = RenderOptions(
        model=bench.model,
        weights=bench.weights,
        device=bench.device,
        fps=Fraction(bench.fps),
        batch_size=bench.batch_size,
        precision=bench.precision,
        compile=bench.compile,
    )
    saved_cache = os.environ.get("VISUALIZER_CACHE")
    try:
        return _bench(bench, options)
    finally:
        if saved_cache is None:
            os.environ.pop("VISUALIZER_CACHE", None)
        else:
            os.environ["VISUALIZER_CACHE"] = saved_cache


def _bench(bench: EndToEndOptions, options: Any) -> dict[str, Any]:
    from visualizer.model.inference import load_generator, warm_up
    from visualizer.pipeline.render import render_track
    from visualizer.pipeline.timeline import make_timeline

    result: dict[str, Any] = {"machine": machine(), "model": options.model, "fps": str(options.fps)}
    with tempfile.TemporaryDirectory(prefix="visualizer-bench-") as folder:
        track = _demo_track(Path(folder), bench.seconds)
        started = time.perf_counter()
        generator = load_generator(options)
        result["load_seconds"] = time.perf_counter() - started
        generator = warm_up(generator)  # with compile: compiles for the render's batch shape
        timeline = make_timeline(track, options)
        batch = generator.batch_size
        # Warm-up: the first batches of a process are slower than the rest.
        generator_only_seconds(generator, timeline.slice(0, min(2, timeline.n_frames)), batch)
        # Alternate the two measurements and keep each one's best, so that load from other
        # processes on a shared machine hits both alike. Each end-to-end run starts with an
        # empty analysis cache: it pays for analysis and mapping like a first render does.
        gens, ends = [], []
        for repeat in range(bench.repeats):
            gens.append(generator_only_seconds(generator, timeline, batch))
            os.environ["VISUALIZER_CACHE"] = str(Path(folder) / f"cache-{repeat}")
            out = Path(folder) / f"bench-{repeat}.mp4"
            ends.append(render_track(track, out, options, generator=generator).wall_seconds)
        gen, end = min(gens), min(ends)
        result.update(
            frames=timeline.n_frames,
            batch_size=batch,
            device=str(generator.device),
            generator_only_seconds=[round(x, 3) for x in gens],
            end_to_end_seconds=[round(x, 3) for x in ends],
            ratio=round(end / gen, 3),
            fps_ratio=round(gen / end, 3),
            precision=str(generator.dtype).removeprefix("torch."),
            compile=generator.compile_mode,
            generator_fps=round(timeline.n_frames / gen, 3),
            end_to_end_fps=round(timeline.n_frames / end, 3),
            load_average=[round(x, 2) for x in os.getloadavg()],
            **audio_second_figures(end, bench.seconds),
        )
        if bench.rss:
            result["rss"] = rss_bench(Path(folder), fps=Fraction(bench.rss_fps))
    return result


# deep-music-visualizer (the peer) rendering 20 s of a real track at its own 43.07 fps, 128 px,
# on the project's 2-core machine: 249.6 s, i.e. 12.5 s per second of audio (issue 14).
PEER_SECONDS_PER_AUDIO_SECOND = 12.5


def audio_second_figures(end_to_end_seconds: float, audio_seconds: float) -> dict[str, float]:
    """End-to-end seconds per second of audio, beside the peer's recorded figure and the ratio.

    The peer is not installed here, so its figure is the recorded one; compare like with like
    (128 px on the same machine) when reading the ratio.
    """
    ours = end_to_end_seconds / audio_seconds
    return {
        "seconds_per_audio_second": round(ours, 3),
        "peer_seconds_per_audio_second_recorded": PEER_SECONDS_PER_AUDIO_SECOND,
        "over_peer": round(ours / PEER_SECONDS_PER_AUDIO_SECOND, 3),
    }


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
        "| generator-only fps | end-to-end fps | end-to-end / generator-only "
        "| s per audio s | peer s per audio s (recorded) | over peer |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {result['generator_fps']:.2f} | {result['end_to_end_fps']:.2f} | "
        f"{result['fps_ratio']:.3f} | {result['seconds_per_audio_second']:.2f} | "
        f"{result['peer_seconds_per_audio_second_recorded']:.1f} | {result['over_peer']:.3f} |",
    ]


def rss_bench(folder: Path, *, fps: Fraction, minutes: tuple[float, float] = (1, 10)) -> dict:
    """Peak RSS (MiB) of a CLI render of a short and a long track: each process tree's own."""
    weights = tiny_checkpoint(folder / "tiny")
    peaks: dict[str, Any] = {}  # per length: peak and seconds; then ratio and fps
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
