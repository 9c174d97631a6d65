"""`visualizer live`: play a preset in the browser and steer it while it plays.

    visualizer live --audio track.mp3 --preset default        # then open http://127.0.0.1:8765/
    visualizer live --input 2 --preset my.toml --osc-port 9000
    visualizer live --list-devices
    visualizer live --audio track.mp3 --midi nanoKONTROL --output ndi   # a controller, a feed
    visualizer live --list-midi
    visualizer live --input 2 --tempo midi:XDJ --quantize bar --latency 80   # the DJ's clock
    visualizer live --no-audio --tempo link --host 0.0.0.0 --allow-host 192.168.1.20
    visualizer live --audio mix.wav --stems separated/htdemucs/mix --preset band   # stems in sync
    visualizer live --input 3 --input-stems drums=1-2,bass=3-4,vocals=5-6,other=7-8 --preset band

With ``--audio`` the track plays in the page and the visuals follow the page's playback clock;
``--tempo`` chooses where the beat comes from (`visualizer.live.tempos`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING

from visualizer.commands.common import (
    add_model_options,
    add_preset_options,
    add_quiet_option,
    add_stems_option,
    local_file,
)
from visualizer.errors import printable
from visualizer.live.launch import QUANTIZE
from visualizer.live.sinks import output_help, output_names
from visualizer.options import PRECISIONS

if TYPE_CHECKING:
    from visualizer.live.session import StopSignals

log = logging.getLogger("visualizer")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 0-65535") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 0-65535")
    return value


def _ranged(kind: type, low: float, high: float, what: str):
    """An argparse type: a ``kind`` number in [low, high], else one line naming it."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: expected {low:g}-{high:g}")
        return value

    return parse


class _Renamed(argparse.Action):
    """``--quality`` is render's video quality (CRF); live names its JPEG quality apart."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error(
            f"{option_string} is render's video quality (CRF): live's JPEG quality 1-100 is "
            "--jpeg-quality"
        )


def _tempo(text: str) -> str:
    from visualizer.live.tempos import TEMPOS

    name = text.partition(":")[0]
    if name not in TEMPOS:
        valid = ", ".join(TEMPOS.names())
        raise argparse.ArgumentTypeError(f"unknown tempo source {name!r} (valid: {valid})")
    return text


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid address {text!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def _size(text: str) -> tuple[int, int]:
    from visualizer.errors import VisualizerError
    from visualizer.rendering.video import parse_size

    try:
        return parse_size(text)
    except VisualizerError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # whole option names only: --beats (the other commands' tracker, not live's) must not be
    # taken as short for --beats-per-bar
    parser.allow_abbrev = False
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--audio", type=local_file, metavar="FILE", help="track to play in the page"
    )
    source.add_argument(
        "--input", metavar="DEVICE", help="audio input device (index or name) to listen to"
    )
    source.add_argument(
        "--list-devices", action="store_true", help="list audio input devices and exit"
    )
    source.add_argument(
        "--no-audio",
        action="store_true",
        help="no audio: the show runs on the clock and the --tempo source's beat",
    )
    source.add_argument("--list-midi", action="store_true", help="list MIDI input ports and exit")
    add_preset_options(parser, downbeat=False, beats=False)  # its beats: the --tempo source
    add_stems_option(parser)
    parser.add_argument(
        "--input-stems",
        metavar="NAME=CHANNELS,...",
        default=None,
        help="with --input: the input's channels that carry each stem, counted from 1, e.g. "
        "drums=1-2,bass=3-4,vocals=5-6,other=7-8 (8 channels as 4 stereo stems); mix=CHANNELS "
        "for the whole mix, else the mix is the stems' sum",
    )
    add_model_options(parser)
    parser.add_argument(
        "--size",
        type=_size,
        default=None,
        help="size of the --record video, e.g. 1920x1080 (letterboxed; default: model size)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (%(default)s)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name or address (a tablet on the LAN reaching "
        "a show started with --host 0.0.0.0 by the machine's address); repeatable",
    )
    parser.add_argument("--port", type=_port, default=8765, help="HTTP/WebSocket port (8765)")
    parser.add_argument(
        "--osc-port", type=_port, default=None, help="listen for OSC on this UDP port (off)"
    )
    parser.add_argument(
        "--midi",
        nargs="?",
        const="",
        default=None,
        metavar="PORT",
        help="play with a MIDI controller: the first input port, or the first whose name "
        "contains PORT ('virtual': a port named visualizer for other software)",
    )
    parser.add_argument(
        "--midi-map",
        metavar="FILE.toml",
        default=None,
        help="MIDI bindings to load, and where learn mode saves them "
        "(default: SAVE_DIR/midi.map.toml)",
    )
    parser.add_argument(
        "--output",
        action="append",
        default=[],
        choices=output_names(),
        help=f"also send the frames to: {output_help()}; repeatable",
    )
    parser.add_argument(
        "--ndi-name", default="visualizer", help="name of the NDI source (%(default)s)"
    )
    add_beat_options(parser)
    parser.add_argument(
        "--save-dir",
        default=".",
        help="folder where the page's 'save as preset' writes NAME.toml (default: current)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="generator arithmetic: auto = fp16 on CUDA, fp32 on CPU and MPS (default: auto)",
    )
    parser.add_argument("--record", metavar="OUT.mp4", help="also record frames + audio to a file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --record")
    parser.add_argument(
        "--no-snap",
        action="store_true",
        help="apply class changes at once, not on the next beat (and --quantize beat as now)",
    )
    parser.add_argument(
        "--jpeg-quality", type=_ranged(int, 1, 100, "JPEG quality"), default=85, metavar="Q",
        help="JPEG quality of the frames sent to the page, 1-100 (default: 85)",
    )  # fmt: skip
    parser.add_argument("--quality", nargs="?", action=_Renamed, help=argparse.SUPPRESS)
    add_quiet_option(parser)


def add_beat_options(parser: argparse.ArgumentParser) -> None:
    """The tempo source, launches, output latency, OSC and MIDI out."""
    from visualizer.live.tempos import tempo_help

    parser.add_argument(
        "--tempo",
        type=_tempo,
        default="audio",
        metavar="SOURCE[:SPEC]",
        help=f"where the beat comes from: {tempo_help()}; midi:PORT picks the port as --midi "
        "does, link:BPM a start tempo (default: audio)",
    )
    parser.add_argument(
        "--beats-per-bar", type=_ranged(int, 1, 16, "beats per bar"), default=4, metavar="N",
        help="beats per bar, 1-16 (default: 4; Link: the quantum)",
    )  # fmt: skip
    parser.add_argument(
        "--quantize", choices=QUANTIZE, default="beat",
        help="when scene, palette, preset and class changes land (default: beat)",
    )  # fmt: skip
    parser.add_argument(
        "--latency", type=_ranged(float, 0, 1000, "latency"), default=0.0, metavar="MS",
        help="output latency in ms (projector, NDI hop): frames are computed this much early so "
        "each beat is seen as it is heard (default: 0)",
    )  # fmt: skip
    parser.add_argument(
        "--cycle", type=_ranged(int, 0, 64, "auto-cycle"), default=0, metavar="BARS",
        help="change scene every BARS bars (default: 0, off)",
    )  # fmt: skip
    parser.add_argument(
        "--cycle-mode", choices=("next", "random"), default="next",
        help="the auto-cycle's next scene: the next one or a random one (default: next)",
    )  # fmt: skip
    parser.add_argument(
        "--osc-out", type=_host_port, default=None, metavar="HOST:PORT",
        help="send beat, bar, bpm and scene as OSC to HOST:PORT",
    )  # fmt: skip
    parser.add_argument(
        "--midi-out", nargs="?", const="", default=None, metavar="PORT",
        help="send beat and scene LEDs to a MIDI output port (chosen as --midi chooses)",
    )  # fmt: skip
    parser.add_argument(
        "--midi-clock-out", action="store_true",
        help="also send MIDI clock (24 pulses per beat, Start/Stop) on --midi-out",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:

    if args.list_midi:
        from visualizer.live.midi import list_ports

        ports = list_ports()
        for name in ports:
            print(printable(name))  # a device names itself: its name may hold escape sequences
        if not ports:
            print("no MIDI input ports found")
        return 0
    if args.list_devices:
        from visualizer.live.source_soundcard import list_devices

        devices = list_devices()
        for index, name, channels, rate in devices:
            print(f"{index:3d}  {printable(name)}  ({channels} ch, {rate:g} Hz)")
        if not devices:
            print("no audio input devices found")
        return 0
    if args.midi_clock_out and args.midi_out is None:
        from visualizer.errors import VisualizerError

        raise VisualizerError("--midi-clock-out sends on the --midi-out port: give --midi-out")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "serving on %s: anyone who can reach this address can watch and steer the show",
            args.host,
        )
        if not args.allow_host and args.host in ("0.0.0.0", "::"):
            log.warning(
                "other machines reach the show by this machine's name or address: allow it with "
                "--allow-host NAME (e.g. --allow-host 192.168.1.20), or they get 403"
            )
    from visualizer.live.session import StopSignals

    with contextlib.ExitStack() as held:
        signals = held.enter_context(StopSignals())
        if args.record:
            held.enter_context(_recording_lock(args))
        return _serve(args, signals)


def _recording_lock(args: argparse.Namespace):
    """The output rules for ``--record`` and its one-writer lock (a second show recording to
    the same file fails at once, naming this one)."""
    from pathlib import Path

    from visualizer.files import check_output, exclusive
    from visualizer.rendering.codecs import check_output_suffix

    check_output_suffix(Path(args.record))
    from visualizer.pipeline.stems import parse_stems

    named = (args.audio, args.preset, args.weights, args.upscale, args.midi_map)
    named += tuple(str(path) for _, path in parse_stems(args.stems))
    inputs = [p for p in named if p and p != "random" and Path(p).is_file()]
    check_output(args.record, inputs, overwrite=args.overwrite, what="--record")
    return exclusive(args.record, "--record")


def _serve(args: argparse.Namespace, signals: StopSignals) -> int:
    from visualizer.live.session import LiveSession

    session = LiveSession.open(options_from_args(args))
    try:
        session.start()
        if not args.quiet:
            _say(f"live: open {session.server.url} (Ctrl-C to stop)")
            for sink in session.outputs:
                _say(f"live: sending {sink.describe()}")
            if session.midi is not None:
                midi = session.midi
                _say(f"live: MIDI from {midi.port_name!r}, map {midi.map_path}")
        session.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signals.hold()  # a second signal must not cut the recording's mux short
        output = session.close()
    if output is not None and not args.quiet:
        _say(f"recorded {output}")
    return 0


def _say(text: str) -> None:
    """Print a line, control characters escaped (`visualizer.errors.printable`: a path or a
    port name may hold escape sequences); once the terminal is gone (SIGHUP, an SSH drop) print
    nothing more."""
    try:
        print(printable(text), flush=True)
    except OSError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the process)


def options_from_args(args: argparse.Namespace):
    """The `LiveOptions` of a parsed ``visualizer live`` command line."""
    from pathlib import Path

    from visualizer.live.session import LiveOptions
    from visualizer.pipeline.stems import parse_stems

    return LiveOptions(
        audio=Path(args.audio) if args.audio else None,
        input=args.input,
        stems=parse_stems(args.stems),
        input_stems=args.input_stems,
        preset=args.preset,
        overrides=tuple(args.overrides),
        seed=args.seed,
        fps=args.fps,
        model=args.model,
        weights=args.weights,
        upscale=args.upscale,
        device=args.device,
        precision=args.precision,
        host=args.host,
        port=args.port,
        osc_port=args.osc_port,
        save_dir=Path(args.save_dir),
        record=Path(args.record) if args.record else None,
        record_size=args.size,
        overwrite=args.overwrite,
        snap_classes=not args.no_snap,
        jpeg_quality=args.jpeg_quality,
        midi=args.midi,
        midi_map=Path(args.midi_map) if args.midi_map else None,
        outputs=tuple(args.output),
        ndi_name=args.ndi_name,
        no_audio=args.no_audio,
        tempo="tap"
        if args.no_audio and args.tempo == "audio"
        else args.tempo,  # no audio: no beats in it
        beats_per_bar=args.beats_per_bar,
        quantize="now" if args.no_snap and args.quantize == "beat" else args.quantize,
        latency_ms=args.latency,
        cycle_bars=args.cycle,
        cycle_mode=args.cycle_mode,
        allowed_hosts=tuple(args.allow_host),
        osc_out=args.osc_out,
        midi_out=args.midi_out,
        midi_clock_out=args.midi_clock_out,
    )
