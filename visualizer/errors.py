"""The project's error hierarchy.

Every error a user can cause is a `VisualizerError`. Its message is one line that names the bad
value and says what was expected or available; the CLI prints it as `error: <message>` and exits
with status 1, without a traceback. Anything else reaching the CLI is a bug and keeps its traceback.
"""


class VisualizerError(Exception):
    """Base class of every user-facing error (exit status 1)."""


class AudioError(VisualizerError):
    """An audio file is missing, unreadable, empty or corrupt."""


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
