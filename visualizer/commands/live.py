"""`visualizer live`: play a preset in the browser and steer it while it plays.

    visualizer live --audio track.mp3 --preset default        # then open http://127.0.0.1:8765/
    visualizer live --input 2 --preset my.toml --osc-port 9000
    visualizer live --list-devices
    visualizer live --audio track.mp3 --midi nanoKONTROL --output ndi   # a controller, a feed
    visualizer live --list-midi

With ``--audio`` the track plays in the page and the visuals follow the page's playback clock.
"""

from __future__ import annotations

import argparse
import contextlib
import logging

from visualizer.commands.common import (
    add_model_options,
    add_preset_options,
    add_quiet_option,
    local_file,
    positive_int,
)
from visualizer.live.sinks import output_help, output_names
from visualizer.options import PRECISIONS

log = logging.getLogger("visualizer")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 0-65535") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 0-65535")
    return value


def _size(text: str) -> tuple[int, int]:
    from visualizer.errors import VisualizerError
    from visualizer.rendering.video import parse_size

    try:
        return parse_size(text)
    except VisualizerError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    source.add_argument("--list-midi", action="store_true", help="list MIDI input ports and exit")
    add_preset_options(parser)
    add_model_options(parser)
    parser.add_argument(
        "--size",
        type=_size,
        default=None,
        help="size of the --record video, e.g. 1920x1080 (letterboxed; default: model size)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (%(default)s)")
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
        "--no-snap", action="store_true", help="apply class changes at once, not on the next beat"
    )
    parser.add_argument(
        "--quality", type=positive_int, default=85, help="JPEG quality 1-100 (default: 85)"
    )
    add_quiet_option(parser)


def run(args: argparse.Namespace) -> int:

    if args.list_midi:
        from visualizer.live.midi import list_ports

        ports = list_ports()
        for name in ports:
            print(name)
        if not ports:
            print("no MIDI input ports found")
        return 0
    if args.list_devices:
        from visualizer.live.source_soundcard import list_devices

        devices = list_devices()
        for index, name, channels, rate in devices:
            print(f"{index:3d}  {name}  ({channels} ch, {rate:g} Hz)")
        if not devices:
            print("no audio input devices found")
        return 0
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "serving on %s: anyone who can reach this address can watch and steer the show",
            args.host,
        )
    with contextlib.ExitStack() as held:
        if args.record:
            held.enter_context(_recording_lock(args))
        return _serve(args)


def _recording_lock(args: argparse.Namespace):
    """The output rules for ``--record`` and its one-writer lock (a second show recording to
    the same file fails at once, naming this one)."""
    from pathlib import Path

    from visualizer.files import check_output, exclusive
    from visualizer.rendering.codecs import check_output_suffix

    check_output_suffix(Path(args.record))
    named = (args.audio, args.preset, args.weights, args.upscale, args.midi_map)
    inputs = [p for p in named if p and p != "random" and Path(p).is_file()]
    check_output(args.record, inputs, overwrite=args.overwrite, what="--record")
    return exclusive(args.record, "--record")


def _serve(args: argparse.Namespace) -> int:
    from visualizer.live.session import LiveSession

    session = LiveSession.open(options_from_args(args))
    try:
        session.start()
        if not args.quiet:
            print(f"live: open {session.server.url} (Ctrl-C to stop)", flush=True)
            for sink in session.outputs:
                print(f"live: sending {sink.describe()}", flush=True)
            if session.midi is not None:
                midi = session.midi
                print(f"live: MIDI from {midi.port_name!r}, map {midi.map_path}", flush=True)
        session.wait()
    except KeyboardInterrupt:
        pass
    finally:
        output = session.close()
    if output is not None and not args.quiet:
        print(f"recorded {output}")
    return 0


def options_from_args(args: argparse.Namespace):
    """The `LiveOptions` of a parsed ``visualizer live`` command line."""
    from pathlib import Path

    from visualizer.live.session import LiveOptions

    return LiveOptions(
        audio=Path(args.audio) if args.audio else None,
        input=args.input,
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
        jpeg_quality=args.quality,
        midi=args.midi,
        midi_map=Path(args.midi_map) if args.midi_map else None,
        outputs=tuple(args.output),
        ndi_name=args.ndi_name,
    )
