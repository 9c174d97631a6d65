"""One definition of every vocabulary (`visualizer.options`): the CLI, the option checks, the
model registry, batch and the render all offer and accept the same names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from visualizer import options
from visualizer.batch.album import AlbumError
from visualizer.cli import get_parser
from visualizer.errors import OutputError
from visualizer.model.catalog import family_of, model_names, resolution_of
from visualizer.model.config import BigGANConfig
from visualizer.model.registry import DOWNLOADS
from visualizer.rendering import codecs
from visualizer.rendering.codecs import check_output_suffix


def _choices(command: str) -> dict[str, tuple]:
    """{option: choices} of one subcommand of the real CLI parser."""
    parser = get_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001 (argparse)
    return {
        action.option_strings[-1]: tuple(action.choices)
        for action in sub.choices[command]._actions  # noqa: SLF001
        if action.choices is not None and action.option_strings
    }


MODEL_CHOICES = ("auto", *model_names())


def test_one_table_names_the_models_and_their_sizes():
    """The catalog's families name every model; downloads and configs exist for exactly the
    published ones, and each model's frame size is the one its config builds."""
    assert model_names() == ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
    assert tuple(DOWNLOADS) == model_names()
    for name in model_names():
        assert BigGANConfig.for_model(name).resolution == resolution_of(name)
    family = family_of("biggan-deep-256")
    assert (family.latent_size, family.n_classes) == (options.LATENT_SIZE, options.N_CLASSES)


@pytest.mark.parametrize("command", ["render", "batch", "preview"])
def test_commands_offer_the_shared_vocabularies(command):
    choices = _choices(command)
    assert choices["--model"] == MODEL_CHOICES
    if command != "preview":
        assert choices["--fit"] == options.FITS
        assert choices["--encoder"] == codecs.ENCODERS
        assert choices["--precision"] == options.PRECISIONS
        assert choices["--compile"] == options.COMPILE_MODES


def test_live_offers_the_shared_vocabularies():
    from visualizer.live.sinks import output_names

    choices = _choices("live")
    assert choices["--model"] == MODEL_CHOICES
    assert choices["--precision"] == options.PRECISIONS
    assert choices["--output"] == output_names() == ("ndi", "camera")  # the sinks' registry


def test_bench_offers_the_shared_vocabularies():
    choices = _choices("bench")
    assert choices["--model"] == model_names()
    assert choices["--precision"] == options.PRECISIONS
    assert choices["--compile"] == options.COMPILE_MODES


@pytest.mark.parametrize("suffix", [*codecs.VIDEO_SUFFIXES, ".avi"])
@pytest.mark.parametrize("codec", [None, "vp9", "hap"])
def test_a_batch_name_template_is_accepted_exactly_when_the_render_accepts_its_suffix(
    tmp_path, suffix, codec
):
    """The batch used to accept .webm names that the render then refused for every track; the
    container must also hold the --codec (HAP only .mov, VP9 no .mov)."""
    from visualizer.batch.jobs import BatchOptions, prepare_batch
    from visualizer.pipeline.options import RenderOptions

    track = tmp_path / "a.wav"
    track.write_bytes(b"RIFF")  # the names are checked before the audio is read
    try:
        check_output_suffix(Path(f"out{suffix}"), "auto", codec)
        render_accepts = True
    except OutputError:
        render_accepts = False
    batch = BatchOptions(outdir=tmp_path / "out", name_template="{stem}" + suffix)
    try:
        prepare_batch([track], RenderOptions(codec=codec, weights="random"), batch)
        batch_accepts = True
    except (AlbumError, OutputError):
        batch_accepts = False
    holds = suffix in codecs.containers_for("auto", codec)
    assert batch_accepts == render_accepts == holds
    assert (suffix == ".webm" and codec is None) <= (not holds)  # H.264 has no WebM


def test_the_vocabularies_import_nothing():
    code = (
        "import sys, visualizer; before = set(sys.modules); import visualizer.options; "
        "print(sorted(set(sys.modules) - before))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # the standard library's fractions (and what it needs), nothing of the project or beyond
    assert "visualizer.options" in done.stdout
    loaded = eval(done.stdout)  # noqa: S307 (our own subprocess's repr of a list of names)
    assert [m for m in loaded if m.startswith("visualizer") and m != "visualizer.options"] == []
    assert not {"torch", "numpy", "librosa"} & set(loaded)


def test_every_render_option_either_changes_the_picture_or_does_not():
    """A new RenderOptions field must be classed, for resume and batch skip alike."""
    import dataclasses

    from visualizer.pipeline.options import (
        IDENTITY_FIELDS,
        PRESET_FIELDS,
        RUN_FIELDS,
        RenderOptions,
    )

    names = [f.name for f in dataclasses.fields(RenderOptions)]
    assert sorted(IDENTITY_FIELDS + RUN_FIELDS) == sorted(names)
    assert set(PRESET_FIELDS) <= set(IDENTITY_FIELDS)
    assert "compile" in RUN_FIELDS and "precision" in IDENTITY_FIELDS


@pytest.mark.parametrize(
    "spec,split,spelled",
    [
        ("dsp", ("dsp", None), "dsp"),
        ("beat-this", ("beat-this", None), "beat-this"),
        ("dsp:128", ("dsp", 128.0), "dsp:128"),
        ("dsp:128.0", ("dsp", 128.0), "dsp:128"),  # one spelling: one cache entry
        ("dsp:92.5", ("dsp", 92.5), "dsp:92.5"),
        ("dsp:55", ("dsp", 55.0), "dsp:55"),
        ("dsp:215", ("dsp", 215.0), "dsp:215"),
    ],
)
def test_a_tracker_with_the_tempo_you_hear(spec, split, spelled):
    assert options.split_tracker(spec) == split
    assert options.tracker_spec(spec) == spelled


@pytest.mark.parametrize(
    "spec", ["madmom", "dsp:", "dsp:fast", "dsp:54.9", "dsp:216", "dsp:nan", "dsp:inf",
             "beat-this:120", "DSP", "dsp:120:4", "", "file:", "file", "File:x.txt"]
)  # fmt: skip
def test_a_tracker_spelled_wrong_names_every_valid_form(spec):
    with pytest.raises(ValueError, match=r"expected dsp, dsp:BPM \(BPM from 55 to 215"):
        options.split_tracker(spec)


def test_the_hint_range_is_the_trackers():
    from visualizer.analysis import beats

    assert (beats.MIN_BPM, beats.MAX_BPM) == options.TEMPO_RANGE_BPM
