"""The project's error hierarchy, and `printable`, what any echoed text passes through.

Every error a user can cause is a `VisualizerError`. Its message is one line that names the bad
value and says what was expected or available; the CLI prints it as `error: <message>` and exits
with status 1, without a traceback. Anything else reaching the CLI is a bug and keeps its traceback.
"""

import re

# C0 and C1 control characters, and the lone surrogates that stand for bytes of a file name
# that are not UTF-8: echoed raw, an escape sequence would drive the user's terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters as ``\\xNN`` (an escape
    sequence in a file name is shown, not obeyed), bytes that were not UTF-8 the same way."""
    return _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()) & 0xFF:02x}", text)


class VisualizerError(Exception):
    """Base class of every user-facing error (exit status 1)."""


class AudioError(VisualizerError):
    """An audio file is missing, unreadable, empty or corrupt."""


class StemError(AudioError):
    """A stem cannot be used: an unknown stem name, a path that is no regular audio file, a
    length that differs from the mix's by more than a frame, or a stem a preset reads that was
    neither given nor can be derived from the mix."""


class FeaturesError(VisualizerError):
    """A features file or analysis parameter is invalid."""


class ClassNameError(VisualizerError):
    """An ImageNet class name or index does not resolve to exactly one class."""


class PresetError(VisualizerError):
    """A preset is unknown, malformed, or holds an unknown key or out-of-range value."""


class TimelineError(VisualizerError):
    """A timeline file is missing, malformed, or inconsistent with the requested render."""


class WeightsError(VisualizerError):
    """Model weights are missing, corrupt, unsafe, or do not fit the architecture."""


class DownloadError(WeightsError):
    """A weights download failed or produced a file that does not verify."""


class OutputError(VisualizerError):
    """An output path exists (without --overwrite), is not writable, or cannot be resumed."""


class RenderError(VisualizerError):
    """Rendering or encoding failed for a reason the user can act on."""


class Cancelled(VisualizerError):
    """Work was cancelled by a progress callback or by the user (Ctrl-C)."""


class LiveIOError(VisualizerError):
    """A live-mode input or output - a MIDI port, an audio input, a video feed (NDI, virtual
    camera) - is missing, busy, or not supported on this machine. (Not the compute device: a
    ``--device`` that does not exist is a plain `VisualizerError`.)"""


class MidiMapError(VisualizerError):
    """A MIDI map file or one of its bindings is malformed."""


class TempoError(VisualizerError):
    """A live tempo source or beat control refused a value or an action (an unknown tempo
    source, beats per bar out of range, a nudge while Ableton Link leads the phase)."""
