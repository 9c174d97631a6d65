"""One live session: the pieces of live mode wired together (and taken apart in order).

`LiveSession` owns the source (`visualizer.live.sources`), the `LiveControl`, the `LiveEngine`
render thread, the `LiveServer`, the optional OSC and MIDI inputs, and the sinks
(`visualizer.live.sinks`: the page's feed, the ``--output`` feeds, the recording). The CLI builds
it from a `LiveOptions` with `LiveSession.open`; tests build it directly with a tiny generator.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from visualizer.errors import LiveIOError
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine
from visualizer.live.server import LiveServer
from visualizer.live.sink import Sink, SinkSetup
from visualizer.live.sink_page import PageSink
from visualizer.live.sinks import open_sink, output_names
from visualizer.live.source import Source
from visualizer.live.sources import open_source
from visualizer.options import DEFAULT_FPS
from visualizer.pipeline.options import seed_for

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
    upscale: str | None = None  # learned upscaler after the generator (name or file), None = off
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
    outputs: tuple[str, ...] = ()  # video feeds to open (`visualizer.live.sinks.output_names`)
    ndi_name: str = "visualizer"  # the NDI source name


class LiveSession:
    """``source`` is an opened `visualizer.live.source.Source`; ``outputs`` name the
    ``--output`` sinks to open besides the page (and ``record``, the recording)."""

    def __init__(
        self,
        *,
        generator,
        control: LiveControl,
        source: Source,
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
        self.control, self.source = control, source
        seed = seed_for(control.preset, seed)
        self.engine = LiveEngine(
            generator=generator,
            control=control,
            source=source,
            fps=fps,
            seed=seed,
            jpeg_quality=jpeg_quality,
            keep_timeline=keep_timeline,
        )
        for name in outputs:
            if name not in output_names():
                valid = ", ".join(output_names())
                raise LiveIOError(f"unknown output {name!r} (valid: {valid})")
        setup = SinkSetup(
            resolution=generator.resolution, fps=Fraction(fps), ndi_name=ndi_name, record=record,
            record_size=record_size, overwrite=overwrite, soundtrack=source.soundtrack,
        )  # fmt: skip
        self.midi = None
        self.sinks: list[Sink] = []
        try:
            if midi_port is not None:
                self.midi = _midi_input(control, midi_map, self.now)
                self.midi.open(midi_port)
            names = ["page", *dict.fromkeys(outputs), *(["record"] if record else [])]
            for name in names:
                sink = open_sink(name, setup)
                self.sinks.append(sink)
                self.engine.subscribe(sink.receive)
        except BaseException:
            self._close_inputs_and_outputs()
            raise
        if record is not None:
            source.keep_audio()
        page = self.sinks[0]
        assert isinstance(page, PageSink)
        self.server = LiveServer(
            self.engine, control, source=source, page=page, host=host, port=port
        )
        self.server.midi = self.midi
        self.osc = None
        if osc_port is not None:
            from visualizer.live.osc import OscInput

            self.osc = OscInput(control, host=host, port=osc_port, now=self.now)
        self._done = threading.Event()

    @property
    def outputs(self) -> list[Sink]:
        """The sinks opened by ``--output``."""
        return [sink for sink in self.sinks if sink.output_choice]

    def now(self) -> float:
        """The source's clock in seconds (0 before it starts)."""
        reading = self.source.clock()
        return reading.seconds if reading is not None else 0.0

    def start(self) -> None:
        self.server.start()
        if self.osc is not None:
            self.osc.start()
        for sink in self.sinks:
            sink.start()
        self.source.start()
        self.engine.start()

    def wait(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def close(self) -> Path | None:
        """Stop everything; finish the recording. Returns the recording's path (or None)."""
        self._done.set()
        self.engine.stop()
        self.source.stop()
        if self.osc is not None:
            self.osc.stop()
        self.server.stop()
        return self._close_inputs_and_outputs()

    def _close_inputs_and_outputs(self) -> Path | None:
        """Close MIDI and the sinks (the recording last: it muxes); returns what they wrote."""
        if self.midi is not None:
            self.midi.close()
        written = [sink.close() for sink in self.sinks]
        return next((path for path in written if path is not None), None)

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
        if options.audio is not None:
            source = open_source("file", str(options.audio))
        else:
            source = open_source("soundcard", options.input or "")
        # learn mode writes the map beside the saved scenes; the dotted name keeps it out of them
        midi_map = options.midi_map or Path(options.save_dir) / MAP_NAME
        if options.midi is not None:
            _check_midi(options.midi, midi_map)  # before the model loads: a typo fails at once
        seed = seed_for(control.preset, options.seed)
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
            source=source,
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
