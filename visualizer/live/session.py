"""One live session: the pieces of live mode wired together (and taken apart in order).

`LiveSession` owns the audio source, the `LiveControl`, the `LiveEngine` render thread, the
`LiveServer`, the optional OSC and MIDI inputs, video outputs and recorder. The CLI builds it
with `from_args`; tests build it directly with a tiny generator.
"""

from __future__ import annotations

import argparse
import logging
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.live.control import LiveControl
from visualizer.live.engine import FileSource, LiveEngine, PageClock
from visualizer.live.server import LiveServer

log = logging.getLogger("visualizer")

DEFAULT_FPS = Fraction(30)
MAP_NAME = "midi.map.toml"  # beside the saved scenes; not a scene name (it has a dot)


class LiveSession:
    def __init__(
        self,
        *,
        generator,
        control: LiveControl,
        audio_path: Path | None = None,
        samples: np.ndarray | None = None,
        sr: int = 22050,
        input_source=None,
        fps: Fraction = DEFAULT_FPS,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 8765,
        osc_port: int | None = None,
        record: Path | None = None,
        record_size: tuple[int, int] | None = None,
        overwrite: bool = False,
        jpeg_quality: int = 85,
        keep_timeline: bool = False,
        device: str = "cpu",
        midi_port: str | None = None,
        midi_map: Path | None = None,
        outputs: tuple[str, ...] = (),
        ndi_name: str = "visualizer",
    ) -> None:
        self.control = control
        self.clock = PageClock() if input_source is None else None
        self.audio_path = audio_path
        if input_source is None:
            self.source = FileSource(samples, sr, self.clock)
        else:
            self.source = input_source
        seed = int(control.preset.seed if seed is None else seed)
        self.engine = LiveEngine(
            generator=generator,
            control=control,
            source=self.source,
            fps=fps,
            seed=seed,
            jpeg_quality=jpeg_quality,
            keep_timeline=keep_timeline,
            device=device,
        )
        self.server = LiveServer(
            self.engine, control, host=host, port=port, track=audio_path, clock=self.clock
        )
        self.osc = None
        if osc_port is not None:
            from visualizer.live.osc import OscInput

            self.osc = OscInput(control, host=host, port=osc_port, now=self.now)
        self.midi = None
        if midi_port is not None:
            self.midi = _midi_input(control, midi_map, self.now)
            self.midi.open(midi_port)
            self.server.midi = self.midi
        self.outputs = []
        try:
            for kind in dict.fromkeys(outputs):
                from visualizer.live.outputs import open_output

                output = open_output(
                    kind, resolution=generator.config.resolution, fps=fps, ndi_name=ndi_name
                )
                self.outputs.append(output)
                self.engine.subscribe(output.add)
        except BaseException:
            self._close_inputs_and_outputs()
            raise
        self.recorder = None
        if record is not None:
            from visualizer.live.recorder import Recorder

            resolution = generator.config.resolution
            self.recorder = Recorder(
                record, fps=fps, resolution=resolution, size=record_size, overwrite=overwrite
            )
            self.engine.subscribe(self.recorder.add)
            if input_source is not None:
                input_source.keep = True
        self._done = threading.Event()

    def now(self) -> float:
        """The audio clock in seconds (page clock for a track, samples captured for input)."""
        if self.clock is not None:
            return self.clock.now() or 0.0
        return self.source.received / self.source.sr

    def start(self) -> None:
        self.server.start()
        if self.osc is not None:
            self.osc.start()
        for output in self.outputs:
            output.start()
        if hasattr(self.source, "start"):
            self.source.start()
        self.engine.start()

    def wait(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def close(self) -> Path | None:
        """Stop everything; finish the recording. Returns the recording's path (or None)."""
        self._done.set()
        self.engine.stop()
        if hasattr(self.source, "stop"):
            self.source.stop()
        if self.osc is not None:
            self.osc.stop()
        self._close_inputs_and_outputs()
        self.server.stop()
        if self.recorder is None:
            return None
        if self.clock is not None:
            return self.recorder.close(audio=self.audio_path)
        return self.recorder.close(samples=self.source.captured(), sr=self.source.sr)

    def _close_inputs_and_outputs(self) -> None:
        if self.midi is not None:
            self.midi.close()
        for output in self.outputs:
            output.close()

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LiveSession:
        from visualizer.model.loading import load_generator, prepare_for_inference

        # cheap checks first: a typo in the preset or the track fails before the model loads
        control = LiveControl(
            args.preset, args.overrides, save_dir=args.save_dir, snap_classes=not args.no_snap
        )
        source: dict = {}
        if args.audio:
            from visualizer.analysis.decode import load_audio

            audio = load_audio(args.audio)
            source = dict(audio_path=Path(args.audio), samples=audio.samples, sr=audio.sr)
        else:
            from visualizer.live.inputs import InputSource

            source = dict(input_source=InputSource(args.input))
        midi_map = _midi_map_path(args)
        if args.midi is not None:
            _check_midi(args.midi, midi_map)  # before the model loads: a typo fails at once
        seed = int(control.preset.seed if args.seed is None else args.seed)
        device = _device(args.device)
        from visualizer.commands.common import resolve_model

        model = resolve_model(args.model, args.device)
        generator = load_generator(model, args.weights, device=device, seed=seed)
        # The same arithmetic as a render (fp16 on CUDA by default): live ran fp32 always.
        precision = getattr(args, "precision", "auto")
        generator = prepare_for_inference(generator, device, precision=precision)
        return cls(
            generator=generator,
            control=control,
            fps=args.fps or DEFAULT_FPS,
            seed=seed,
            host=args.host,
            port=args.port,
            osc_port=args.osc_port,
            record=Path(args.record) if args.record else None,
            record_size=args.size,
            overwrite=args.overwrite,
            jpeg_quality=min(100, args.quality),
            device=device,
            midi_port=args.midi,
            midi_map=midi_map,
            outputs=tuple(args.output),
            ndi_name=args.ndi_name,
            **source,
        )


def _midi_map_path(args: argparse.Namespace) -> Path:
    """--midi-map, or midi.map.toml in the save folder (learn mode writes it there; the
    dotted name keeps it out of the scene list)."""
    return Path(args.midi_map) if args.midi_map else Path(args.save_dir) / MAP_NAME


def _check_midi(port: str, map_path: Path) -> None:
    from visualizer.live.midi import VIRTUAL, choose_port, list_ports
    from visualizer.live.midi_map import MidiMap

    if map_path.exists():
        MidiMap.load(map_path)
    if port != VIRTUAL:
        choose_port(port, list_ports())


def _midi_input(control: LiveControl, map_path: Path | None, now):
    """The MIDI input with the map at ``map_path`` (loaded when the file exists)."""
    from visualizer.live.midi import MidiInput
    from visualizer.live.midi_map import MidiMap

    midi_map = MidiMap.load(map_path) if map_path is not None and map_path.exists() else None
    return MidiInput(control, midi_map=midi_map, map_path=map_path, now=now)


def _device(name: str) -> str:
    if name != "auto":
        return name
    from visualizer.model.devices import resolve_device

    return str(resolve_device(name))
