"""One live session: the pieces of live mode wired together (and taken apart in order).

`LiveSession` owns the audio source, the `LiveControl`, the `LiveEngine` render thread, the
`LiveServer`, the optional OSC and MIDI inputs, video outputs and recorder. The CLI builds it
from a `LiveOptions` with `LiveSession.open`; tests build it directly with a tiny generator.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from visualizer.live.control import LiveControl
from visualizer.live.engine import FileSource, LiveEngine, PageClock
from visualizer.live.server import LiveServer
from visualizer.options import DEFAULT_FPS

log = logging.getLogger("visualizer")

MAP_NAME = "midi.map.toml"  # beside the saved scenes; not a scene name (it has a dot)


@dataclass(frozen=True)
class LiveOptions:
    """Everything that decides a live session (the `visualizer live` flags)."""

    audio: Path | None = None  # track to play in the page (or ``input``)
    input: str | None = None  # audio input device, index or name (or ``audio``)
    preset: str = "default"  # built-in preset name or TOML path
    overrides: tuple[str, ...] = ()  # "section.key=value" preset overrides, applied in order
    seed: int | None = None  # None = the preset's seed
    fps: Fraction | None = None  # frames per second; None = 30
    model: str = "auto"  # biggan-deep-128 | -256 | -512, or auto (512 on CUDA, 128 on CPU)
    weights: str | None = None  # folder or file, "random" (seeded untrained), None = cached
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N | mps
    precision: str = "auto"  # auto (fp16 on CUDA, fp32 elsewhere) | fp32 | fp16 | bf16
    compile: str = "off"  # live renders one frame at a time: nothing to gain from a graph
    batch_size: int = 1  # live renders the newest frame only
    host: str = "127.0.0.1"  # address to serve on
    port: int = 8765  # HTTP/WebSocket port (0 = any free one)
    osc_port: int | None = None  # OSC UDP port, None = off
    save_dir: Path = Path(".")  # where the page's "save as preset" (and MIDI learn) write
    record: Path | None = None  # also record frames + audio to this video
    record_size: tuple[int, int] | None = None  # size of the recording; None = model size
    overwrite: bool = False  # replace an existing recording
    snap_classes: bool = True  # apply class changes on the next beat
    jpeg_quality: int = 85  # 1-100
    midi: str | None = None  # MIDI input port, None = off
    midi_map: Path | None = None  # None = midi.map.toml in save_dir (learn mode writes it there)
    outputs: tuple[str, ...] = ()  # video feeds to open
    ndi_name: str = "visualizer"  # the NDI source name


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
                    kind, resolution=generator.resolution, fps=fps, ndi_name=ndi_name
                )
                self.outputs.append(output)
                self.engine.subscribe(output.add)
        except BaseException:
            self._close_inputs_and_outputs()
            raise
        self.recorder = None
        if record is not None:
            from visualizer.live.recorder import Recorder

            resolution = generator.resolution
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
    def open(cls, options: LiveOptions) -> LiveSession:
        """A session for ``options``: preset, track and MIDI checked first, then the generator
        loaded with the loader renders use (the same flags give the same network)."""
        from visualizer.model.devices import auto_model
        from visualizer.model.inference import load_generator

        # cheap checks first: a typo in the preset or the track fails before the model loads
        control = LiveControl(
            options.preset,
            list(options.overrides),
            save_dir=options.save_dir,
            snap_classes=options.snap_classes,
        )
        source: dict = {}
        if options.audio is not None:
            from visualizer.analysis.decode import load_audio

            audio = load_audio(options.audio)
            source = dict(audio_path=Path(options.audio), samples=audio.samples, sr=audio.sr)
        else:
            from visualizer.live.inputs import InputSource

            source = dict(input_source=InputSource(options.input))
        # learn mode writes the map beside the saved scenes; the dotted name keeps it out of them
        midi_map = options.midi_map or Path(options.save_dir) / MAP_NAME
        if options.midi is not None:
            _check_midi(options.midi, midi_map)  # before the model loads: a typo fails at once
        seed = int(control.preset.seed if options.seed is None else options.seed)
        model = auto_model(options.device) if options.model == "auto" else options.model
        generator = load_generator(dataclasses.replace(options, model=model))
        return cls(
            generator=generator,
            control=control,
            fps=options.fps or DEFAULT_FPS,
            seed=seed,
            host=options.host,
            port=options.port,
            osc_port=options.osc_port,
            record=options.record,
            record_size=options.record_size,
            overwrite=options.overwrite,
            jpeg_quality=min(100, options.jpeg_quality),
            midi_port=options.midi,
            midi_map=midi_map,
            outputs=options.outputs,
            ndi_name=options.ndi_name,
            **source,
        )


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
