"""The shared vocabularies: one definition of every name list and size that the CLI, the option
checks, the model, the render, batch and live use.

Torch-free and import-free, so that ``visualizer --help`` can read it.
"""

from __future__ import annotations

from fractions import Fraction

# --model: the models of every family in `visualizer.model.catalog.model_names()`, and "auto"
# = biggan-deep-512 on a CUDA device, biggan-deep-128 elsewhere.
AUTO_MODEL = "auto"

# --device: a pattern, not a closed list (`visualizer.model.devices.resolve_device`).
DEVICES = "auto, cpu, cuda, cuda:N or mps"

# --precision of the convolutions; "auto" = fp16 on CUDA, fp32 elsewhere.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
CONCRETE_PRECISIONS = PRECISIONS[1:]

# --compile: torch.compile of the generator's convolutions; "auto" = reduce-overhead (CUDA
# graphs) on CUDA, off elsewhere.
COMPILE_MODES = ("off", "auto", "default", "max-autotune", "reduce-overhead")

# --cudnn: how cuDNN picks its convolution algorithms on CUDA. "deterministic": by fixed rules,
# the same in every process, so a resumed or split render computes every frame bit for bit as an
# uninterrupted one; "benchmark": by timing each in this process (can be faster; a resumed
# render may then differ in the last bit of a pixel).
CUDNN_MODES = ("deterministic", "benchmark")

# --fit: how square frames fill a non-square --size.
FITS = ("pad", "crop", "mirror")

# --beats: the project's own beat tracker, or the optional neural one (pip install ".[beats]").
# "dsp:BPM" asks the project's tracker for the beat at about BPM, the tempo the user hears, when
# it picks another (a 3:2 or 4:3 of it); BPM within the tracker's range.
# "file:PATH" takes the beats (and bars) from a text file made elsewhere
# (`visualizer.analysis.beat_file`).
BEAT_TRACKERS = ("dsp", "beat-this")
TEMPO_RANGE_BPM = (55.0, 215.0)
TRACKER_FORMS = (
    "dsp, dsp:BPM (BPM from {:g} to {:g}, the tempo you hear), beat-this or file:PATH (a beats "
    "file)".format(*TEMPO_RANGE_BPM)
)


def split_tracker(spec: str) -> tuple[str, float | None]:
    """(tracker, tempo hint in BPM or None) of a --beats value: "dsp", "dsp:BPM", "beat-this" or
    "file:PATH" (("file", None): `beat_file_of` gives the path). ValueError naming the valid
    forms for anything else."""
    if beat_file_of(spec) is not None:
        return "file", None
    name, colon, hint = str(spec).partition(":")
    if name in BEAT_TRACKERS and not colon:
        return name, None
    if name == "dsp" and colon:
        try:
            bpm = float(hint)
        except ValueError:
            bpm = float("nan")
        low, high = TEMPO_RANGE_BPM
        if low <= bpm <= high:  # False for nan
            return name, bpm
    raise ValueError(f"unknown beat tracker {spec!r}: expected {TRACKER_FORMS}")


def tracker_spec(spec: str) -> str:
    """The one spelling of a --beats value ("dsp:140.0" -> "dsp:140"; "file:PATH" as given: the
    file counts by its content where it must, `beat_file_of`), so equal requests share a cache
    entry and a render identity; ValueError as `split_tracker`."""
    name, bpm = split_tracker(spec)
    if name == "file":
        return str(spec)
    return name if bpm is None else f"{name}:{bpm:g}"


def beat_file_of(spec: str) -> str | None:
    """The path of a "file:PATH" --beats value; None for the trackers."""
    name, _, path = str(spec).partition(":")
    return path if name == "file" and path else None


# Suffixes of audio files searched for in folders (lower case): a batch's tracks, a --stems
# folder. Files named explicitly may have any suffix: the decoder decides whether it reads them.
AUDIO_SUFFIXES = (
    ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma",
)  # fmt: skip

# --stems: the parts a separator writes (Demucs, Open-Unmix and Spleeter name their files so;
# Demucs' six-stem model adds guitar and piano). A preset reads a feature of one of them, or of
# "mix", the track itself. The first four have stand-ins derived from the mix when their file is
# not given (`visualizer.mapping.stand_in`); the others must be given.
STEMS = ("drums", "bass", "vocals", "other", "guitar", "piano")
DERIVED_STEMS = STEMS[:4]
SOURCES = ("mix", *STEMS)

# --encoder and the video containers: one row per codec in `visualizer.rendering.codecs`
# (ENCODERS, VIDEO_SUFFIXES), which also holds each codec's ffmpeg arguments.

# The generator's inputs the mapping makes per frame: class vectors over the ImageNet classes
# and the latent z (a model family states what it takes: `visualizer.model.family`).
N_CLASSES = 1000
LATENT_SIZE = 128

DEFAULT_FPS = Fraction(30)  # frames per second when --fps is not given
MAX_FPS = 240  # --fps is any rational rate in (0, MAX_FPS]
