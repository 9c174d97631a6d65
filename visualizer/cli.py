"""The `visualizer` command line: `get_parser()` builds it, `main(argv)` runs it.

Each sub-command lives in `visualizer.commands.<name>` with two functions:
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import heavy libraries inside
``run`` only, so building the parser (and `--help`) stays instant.

Exit status: 0 success, 1 a `VisualizerError` or a write that found no room on the disk (one
line on stderr, no traceback), 2 a bad command line (argparse), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from visualizer import __version__
from visualizer.errors import VisualizerError, printable

# name -> one-line help; the module is visualizer.commands.<name>
COMMANDS: dict[str, str] = {
    "render": "render a music video from a track",
    "preview": "draw a storyboard (contact sheet) of a track (a draft video: render --draft)",
    "analyze": "extract the audio features of a track on the video frame clock",
    "timeline": "write the per-frame generator inputs of a render, without a generator",
    "clips": "write a pack of seamless loops of whole bars for VJ clip libraries",
    "presets": "list or show the built-in presets",
    "models": "list or download the generators' and upscalers' weights",
    "batch": "render a whole album or playlist, locally or on a Ray cluster",
    "live": "play a preset live in the browser, steered while it plays",
    "bench": "measure generator and end-to-end speed on this machine",
}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visualizer",
        description="Turn music into BigGAN-deep video.",
    )
    parser.add_argument("--version", action="version", version=f"visualizer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"visualizer.commands.{name}")
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


MAX_LINE = 1000  # characters of one message: a hostile value (a 6,000-bracket --set) is cut


def one_line(text: str) -> str:
    """``text`` on one line of at most about `MAX_LINE` characters, control characters (an
    escape sequence in a file name) shown as ``\\xNN``, never sent to the terminal."""
    text = printable(" ".join(str(text).splitlines()))
    if len(text) <= MAX_LINE:
        return text
    return f"{text[:MAX_LINE]}... ({len(text) - MAX_LINE} more characters)"


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {one_line(record.getMessage())}"


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    logger = logging.getLogger("visualizer")
    logger.handlers[:] = [handler]
    # Quiet drops progress and summaries, never warnings: an out-of-memory retry, a compile that
    # fell back to eager or a decoder complaint changes the result the user gets.
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _stdout_closed() -> bool:
    """True when standard output is a pipe whose reader has gone (poll reports an error on it);
    it is then pointed at /dev/null, so the interpreter's own flush at exit is quiet. False
    where that cannot be told (no poll: Windows)."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return gone


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    _setup_logging(getattr(args, "quiet", False))
    try:
        return int(args._run(args) or 0)
    except VisualizerError as error:
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe (an encoder's): a bug or its own error, not the reader's
        return 1  # the reader (`| head`) stopped reading: nothing to say, nowhere to say it
    except OSError as error:
        from visualizer.files import DISK_FULL

        if error.errno not in DISK_FULL:
            raise  # anything else is a bug: its traceback is what a report needs
        where = f" {error.filename}" if error.filename else ""
        print(f"error: {one_line(f'cannot write{where}: {error.strerror}')}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
