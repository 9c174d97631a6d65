"""Live clock benchmark: beat-to-frame alignment under MIDI clock.

A sender thread plays a DJ's MIDI clock at --bpm: Start, then 24 pulses per beat paced by the
monotonic clock (each late by up to --jitter-ms, as USB delivers them), each a real mido message
parsed from its raw byte and handed to the MIDI clock tempo source's port callback - the
function rtmidi calls (this machine has no ALSA sequencer; with one, --port virtual sends them
through a virtual port instead). A real live session follows it with no audio (the clock-only
source), the render thread and the chosen generator. Against the sender's own beat times:

- mapped: each beat's first frame (the one the engine marks as the beat) - its display time
  plus the output latency, minus the beat's time: the frame clock alone quantises this to
  [0, 1 frame);
- shown: every published frame's beat position against the sender's beat position at the moment
  the frame was published, in ms (what a viewer sees, render time included).

    python benchmarks/live_clock_bench.py --bpm 128 --seconds 20
    python benchmarks/live_clock_bench.py --model tiny --seconds 5      # the clock, not the GPU

Prints one JSON line: p50/p95 of |error| for both, the tempo estimate, frames, the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PPQN = 24


def _generator(model: str, device: str):
    if model == "tiny":  # the tests' 8-channel network: the clock path without the render cost
        from tests.live_fixtures import tiny_generator

        return tiny_generator()
    from visualizer.live.session import LiveOptions
    from visualizer.model.inference import load_generator

    return load_generator(LiveOptions(model=model, weights="random", device=device))


def _sender(handle, bpm: float, beats: int, jitter_ms: float, start: float, port=None):
    """Send Start then ``beats`` beats of clock from monotonic time ``start``."""
    import mido

    rng = np.random.default_rng(0)
    period = 60.0 / (bpm * PPQN)
    parser = mido.Parser()

    def deliver(raw: int) -> None:
        if port is not None:
            port.send(mido.Message.from_bytes([raw]))
            return
        parser.feed(bytes([raw]))
        for message in parser:
            handle(message)

    while time.monotonic() < start - 0.005:
        time.sleep(0.001)
    deliver(0xFA)  # Start: the next pulse is bar 1, beat 1
    for k in range(beats * PPQN):
        due = start + k * period + rng.uniform(0, jitter_ms / 1000)
        while (wait := due - time.monotonic()) > 0:
            time.sleep(min(wait, 0.002))
        deliver(0xF8)
    deliver(0xFC)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "n": 0}
    data = np.abs(np.asarray(values))
    return {"p50": round(float(np.percentile(data, 50)), 2),
            "p95": round(float(np.percentile(data, 95)), 2), "n": len(values)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpm", type=float, default=128.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", default="30")
    parser.add_argument("--latency", type=float, default=0.0, help="output latency, ms")
    parser.add_argument("--jitter-ms", type=float, default=1.0, help="pulse delivery jitter")
    parser.add_argument("--model", default="biggan-deep-128", help="a model, or tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--port", default=None, help="'virtual': through an ALSA virtual port")
    args = parser.parse_args(argv)

    from tests.live_fixtures import write_preset
    from visualizer.live.beat import BeatClock
    from visualizer.live.control import LiveControl
    from visualizer.live.session import LiveSession
    from visualizer.live.source_clock import ClockSource
    from visualizer.live.tempo_midi import MidiClockTempo

    fps = Fraction(args.fps)
    generator = _generator(args.model, args.device)
    if args.port == "virtual":
        import mido

        tempo = MidiClockTempo.open("virtual")
        out = mido.open_output(next(n for n in mido.get_output_names() if "visualizer" in n))
    else:
        tempo, out = MidiClockTempo(), None
    beat = BeatClock({"midi": tempo}, active="midi")
    beat.set_latency_ms(args.latency)
    mapped: list[tuple[float, int]] = []  # (display time + latency, beat) of each beat frame
    shown: list[tuple[float, float, float]] = []  # (publish time, frame's beat, its bpm)
    frame_of = beat.frame

    def frame(shown_at: float):
        result = frame_of(shown_at)
        if result.is_beat:
            mapped.append((shown_at + beat.latency_s, result.state.count))
        return result

    beat.frame = frame  # type: ignore[method-assign]  # record each frame's beat as mapped
    with tempfile.TemporaryDirectory() as folder:
        control = LiveControl(str(write_preset(Path(folder))), save_dir=folder, beat=beat)
        session = LiveSession(generator=generator, control=control, source=ClockSource(),
                              fps=fps, port=0)  # fmt: skip
        session.engine.subscribe(
            lambda f: (
                shown.append((time.monotonic(), f.beat.beat, f.beat.bpm))
                if f.beat is not None and f.beat.playing
                else None
            )
        )
        start = time.monotonic() + 1.0
        beats = int(args.seconds * args.bpm / 60)
        sender = threading.Thread(
            target=_sender, args=(tempo.handle, args.bpm, beats, args.jitter_ms, start, out)
        )
        session.start()
        sender.start()
        try:
            sender.join()
        finally:
            session.close()
    period = 60.0 / (args.bpm * PPQN)
    beat_s = PPQN * period
    mapped_ms = [1000 * (at - (start + n * beat_s)) for at, n in mapped if 0 <= n < beats]
    # the first beat after Start has no tempo history yet on the new count: skip the first bar
    # a frame's beat is the one heard at its display time plus the latency: compare it there
    shown_ms = [
        1000 * (position - (at + beat.latency_s - start) / beat_s) * beat_s
        for at, position, _ in shown
        if 4 <= position < beats - 1
    ]
    bpm_error = [abs(b - args.bpm) for _, position, b in shown if 4 <= position < beats - 1]
    import torch

    result = {
        "model": args.model,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads",
        "path": "virtual ALSA port" if out is not None else "port callback (no ALSA sequencer)",
        "bpm": args.bpm,
        "fps": float(fps),
        "latency_ms": args.latency,
        "jitter_ms": args.jitter_ms,
        "beats": beats,
        "mapped_beat_frames_ms": _percentiles(mapped_ms),
        "mapped_mean_ms": round(float(np.mean(mapped_ms)), 2) if mapped_ms else None,
        "shown_frames_ms": _percentiles(shown_ms),
        "bpm_error_p95": round(float(np.percentile(bpm_error, 95)), 3) if bpm_error else None,
        "frames_published": len(shown),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
