"""One live session: the pieces of live mode wired together (and taken apart in order).

`LiveSession` owns the source (`visualizer.live.sources`), the tempo source
(`visualizer.live.tempos`, inside the control's beat clock), the `LiveControl`, the `LiveEngine`
render thread, the `LiveServer`, the optional OSC and MIDI inputs, and the sinks
(`visualizer.live.sinks`: the page's feed, the ``--output`` feeds, the recording, OSC and MIDI
out). The CLI builds
it from a `LiveOptions` with `LiveSession.open`; tests build it directly with a tiny generator.
`StopSignals` makes every signal that would end the process stop the show as Ctrl-C does, so
the recording is finished.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
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
from visualizer.live.sink_record import STOP_SIGNALS
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
    # the track's stem files, played in sync with it: (name, file) (`parse_stems`)
    stems: tuple[tuple[str, Path], ...] = ()
    input_stems: str | None = None  # the input's channels routed to stems: drums=1-2,bass=3-4
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
    no_audio: bool = False  # no audio at all: the show runs on the clock (``audio``/``input``)
    tempo: str = "audio"  # the tempo source, NAME[:SPEC] (`visualizer.live.tempos`)
    beats_per_bar: int = 4  # 1-16
    quantize: str = "beat"  # launches land on: now, beat, bar, 2bars, 4bars
    latency_ms: float = 0.0  # output latency 0-1000 ms: frames are computed that much early
    cycle_bars: int = 0  # scene auto-cycle every N bars (0 = off)
    cycle_mode: str = "next"  # next | random
    allowed_hosts: tuple[str, ...] = ()  # further Host names the server answers (a LAN tablet)
    osc_out: tuple[str, int] | None = None  # send beat, bar, bpm, scene to HOST:PORT
    midi_out: str | None = None  # LEDs (and MIDI clock) back to this output port
    midi_clock_out: bool = False  # send MIDI clock on midi_out


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
        allowed_hosts: tuple[str, ...] = (),
        osc_out: tuple[str, int] | None = None,
        midi_out: str | None = None,
        midi_clock_out: bool = False,
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
        self.midi = None
        self.sinks: list[Sink] = []
        try:
            if midi_port is not None:
                self.midi = _midi_input(control, midi_map)
                self.midi.open(midi_port)
            setup = SinkSetup(
                resolution=generator.resolution, fps=Fraction(fps), ndi_name=ndi_name,
                record=record, record_size=record_size, overwrite=overwrite,
                soundtrack=source.soundtrack, osc_out=osc_out, midi_out=midi_out,
                midi_clock=midi_clock_out, clock=control.beat, leds=_leds(self.midi, midi_map),
            )  # fmt: skip
            names = ["page", *dict.fromkeys(outputs), *(["record"] if record else [])]
            names += (["osc"] if osc_out else []) + (["midi"] if midi_out else [])
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
            self.engine, control, source=source, page=page, host=host, port=port,
            allowed_hosts=allowed_hosts,
        )  # fmt: skip
        self.server.midi = self.midi
        self.osc = None
        if osc_port is not None:
            from visualizer.live.osc import OscInput

            self.osc = OscInput(
                control, host=host, port=osc_port, calibration=self.engine.calibration
            )
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
        self.control.beat.start()
        self.source.start()
        self.engine.start()

    def wait(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def close(self) -> Path | None:
        """Stop everything; finish the recording. Returns the recording's path (or None)."""
        self._done.set()
        self.engine.stop()
        self.source.stop()
        self.control.beat.stop()
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
        """A session for ``options``: preset, MIDI map, ports and track checked first (cheapest
        first), then the generator loaded with the loader renders use (the same flags give the
        same network)."""
        # cheap checks first: a typo in the preset or the track fails before the model loads
        from visualizer.live.beat import BeatClock
        from visualizer.live.tempos import ALWAYS, open_tempo
        from visualizer.model.devices import auto_model
        from visualizer.model.inference import load_generator

        beat = BeatClock(beats_per_bar=options.beats_per_bar)
        beat.set_latency_ms(options.latency_ms)
        control = LiveControl(
            options.preset,
            list(options.overrides),
            save_dir=options.save_dir,
            snap_classes=options.snap_classes,
            quantize=options.quantize,
            beat=beat,
        )
        # learn mode writes the map beside the saved scenes; the dotted name keeps it out of them
        midi_map = options.midi_map or Path(options.save_dir) / MAP_NAME
        if options.midi is not None or options.midi_out is not None:
            _check_midi(options.midi, midi_map)  # before the track decodes, the model loads
        _check_ports(options)
        source = _open_source(options, control)
        name = options.tempo.partition(":")[0]
        if name not in ALWAYS:
            beat.add(open_tempo(options.tempo))
        beat.use(name)
        control.set_cycle(options.cycle_bars, options.cycle_mode)
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
            allowed_hosts=options.allowed_hosts,
            osc_out=options.osc_out,
            midi_out=options.midi_out,
            midi_clock_out=options.midi_clock_out,
        )


class StopSignals:
    """Every signal that ends a process unless caught (`visualizer.live.sink_record.STOP_SIGNALS`:
    SIGINT, SIGTERM from ``kill`` or ``systemctl stop``, SIGHUP from a closed terminal or an SSH
    drop, ...) stops the show as Ctrl-C does: a KeyboardInterrupt in the main thread. Once the
    show is closing (``hold()``), they are noted and the recording is finished all the same."""

    def __init__(self) -> None:
        self.holding = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]

    def hold(self) -> None:
        self.holding = True

    def _stop(self, number: int, frame: object) -> None:
        if not self.holding:
            raise KeyboardInterrupt
        log.warning("%s: finishing the show first", signal.Signals(number).name)


def _open_source(options: LiveOptions, control: LiveControl) -> Source:
    """The source ``options`` ask for, with its stems (checked before the track decodes: the
    files, and that the preset reads no stem that is neither given nor derivable)."""
    from visualizer.errors import StemError
    from visualizer.inputs import check_input_file
    from visualizer.live.input_stems import parse_routing
    from visualizer.live.source_file import FileSource
    from visualizer.live.source_soundcard import SoundcardSource
    from visualizer.mapping.routing import missing_source
    from visualizer.pipeline.stems import MAX_STEM_BYTES

    if options.stems and options.audio is None:
        raise StemError("--stems plays stem files with --audio's track: give --audio")
    if options.input_stems and (options.audio is not None or options.no_audio):
        raise StemError("--input-stems routes the channels of --input: give --input")
    routing = parse_routing(options.input_stems) if options.input_stems else None
    for name, path in options.stems:
        check_input_file(path, f"stem {name}", limit=MAX_STEM_BYTES, error=StemError)
    given = [name for name, _ in options.stems] or (routing.names if routing else [])
    if missing := missing_source(control.preset, given):
        raise StemError(missing)
    if options.audio is not None:
        source = FileSource.open(str(options.audio))
        source.add_stems(options.stems, options.fps or DEFAULT_FPS)
        return source
    if options.no_audio:
        return open_source("clock", "")
    if routing is not None:
        return SoundcardSource(options.input or None, routing=routing)
    return open_source("soundcard", options.input or "")


def _check_midi(port: str | None, map_path: Path) -> None:
    """The MIDI map (read by MIDI in and out) and the input ``port`` (None: no MIDI in)."""
    from visualizer.live.midi import VIRTUAL, choose_port, list_ports
    from visualizer.live.midi_map import MidiMap

    if map_path.exists():
        MidiMap.load(map_path)
    if port is not None and port != VIRTUAL:
        choose_port(port, list_ports())


def _check_ports(options: LiveOptions) -> None:
    """The HTTP and OSC ports can be bound (checked again when they are: this is early)."""
    import socket

    from visualizer.live.http import check_bindable

    check_bindable(options.host, options.port, socket.SOCK_STREAM, "serve on")
    if options.osc_port is not None:
        check_bindable(options.host, options.osc_port, socket.SOCK_DGRAM, "listen for OSC on")


def _midi_input(control: LiveControl, map_path: Path | None):
    """The MIDI input with the map at ``map_path`` (loaded when the file exists)."""
    from visualizer.live.midi import MidiInput
    from visualizer.live.midi_map import MidiMap

    midi_map = MidiMap.load(map_path) if map_path is not None and map_path.exists() else None
    return MidiInput(control, midi_map=midi_map, map_path=map_path)


def _leds(midi, map_path: Path | None) -> dict[str, tuple[int, int]]:
    """The pads MIDI out lights: target -> (channel, note) of the map's note bindings (the
    MIDI input's map, else the map file)."""
    from visualizer.live.midi_map import MidiMap

    if midi is not None:
        midi_map = midi.map
    elif map_path is not None and map_path.exists():
        midi_map = MidiMap.load(map_path)
    else:
        return {}
    return {b.target: (b.channel, b.number) for b in midi_map.bindings.values() if b.kind == "note"}
