"""``--stems``: read in every form, checked before any work (length, format, files, a stem the
preset reads and nobody gives), analysed once each on the mix's frames, an excerpt equal to the
same seconds of the full render, a resume refusing a changed stem, and the stems of a batch."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.fixtures_audio import write_wav
from tests.render_fixtures import ToyGenerator, run_cli
from visualizer.bench.stems import stem_song
from visualizer.content import cache_dir
from visualizer.errors import Cancelled, OutputError, StemError
from visualizer.model.inference import wrap
from visualizer.pipeline.options import RenderOptions
from visualizer.pipeline.render import render_track
from visualizer.pipeline.stems import parse_stems
from visualizer.pipeline.timeline import make_timeline, write_timeline
from visualizer.pipeline.workdir import ResumeMismatch

FPS = Fraction(10)
SECONDS = 3.0


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """A folder with mix.wav and stems/{drums,bass,other}.wav (the stems sum to the mix)."""
    folder = tmp_path_factory.mktemp("song")
    made = stem_song(SECONDS, seed=4)
    write_wav(folder / "mix.wav", made.mix, made.sr)
    (folder / "stems").mkdir()
    for name, samples in made.stems.items():
        write_wav(folder / "stems" / f"{name}.wav", samples, made.sr)
    return folder


def _options(song: Path, **changes) -> RenderOptions:
    stems = parse_stems(song / "stems")
    return RenderOptions(**{"preset": "band", "fps": FPS, "stems": stems, **changes})


def _analysed() -> list[str]:
    """The analysis cache's entries: one per source analysed."""
    folder = cache_dir() / "features"
    return sorted(p.name for p in folder.glob("*.npz")) if folder.is_dir() else []


# -- reading --stems ----------------------------------------------------------------------------


def test_stems_are_read_from_a_folder_pairs_or_a_mapping(song, tmp_path):
    stems = song / "stems"
    by_folder = parse_stems(stems)
    assert by_folder == tuple((n, stems / f"{n}.wav") for n in ("drums", "bass", "other"))
    assert parse_stems(f"other={stems}/other.wav,drums={stems}/drums.wav") == (
        ("drums", stems / "drums.wav"),
        ("other", stems / "other.wav"),
    )
    assert parse_stems({"bass": str(stems / "bass.wav")}) == (("bass", stems / "bass.wav"),)
    assert parse_stems(None) == parse_stems("") == parse_stems(()) == ()
    # the parsed pairs are a spec too: RenderOptions' stems, handed back by dataclasses.asdict
    assert parse_stems(by_folder) == parse_stems([list(p) for p in by_folder]) == by_folder
    with pytest.raises(StemError, match="not a \\(NAME, FILE\\) pair"):
        parse_stems([("drums",)])
    (tmp_path / "Vocals.FLAC").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a stem")
    assert parse_stems(tmp_path) == (("vocals", tmp_path / "Vocals.FLAC"),)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("drum=a.wav", ["unknown stem 'drum'", "did you mean 'drums'", "drums, bass, vocals"]),
        ("mix=a.wav", ["unknown stem 'mix'", "the mix is the track itself"]),
        ("drums=a.wav,drums=b.wav", ["drums stem twice"]),
        ("drums=", ["no file given for the drums stem"]),
    ],
)
def test_a_bad_stems_spec_is_one_line_naming_it(spec, words):
    with pytest.raises(StemError) as caught:
        parse_stems(spec)
    assert "\n" not in str(caught.value) and all(w in str(caught.value) for w in words)


def test_a_folder_without_stems_or_with_two_of_one_is_refused(tmp_path):
    with pytest.raises(StemError, match="holds no stems: expected files named drums, bass"):
        parse_stems(tmp_path)
    (tmp_path / "bass.wav").write_bytes(b"x")
    (tmp_path / "bass.flac").write_bytes(b"x")
    with pytest.raises(StemError, match="two bass stems"):
        parse_stems(tmp_path)
    with pytest.raises(StemError, match="not found"):
        parse_stems(tmp_path / "missing")


# -- checks before any work ---------------------------------------------------------------------


def test_a_stem_of_another_length_is_named_before_any_analysis(song, tmp_path):
    made = stem_song(SECONDS + 0.5, seed=4)  # half a second longer than the mix
    longer = write_wav(tmp_path / "drums.wav", made.stems["drums"], made.sr)
    options = _options(song, stems=(("drums", longer),))
    with pytest.raises(StemError) as caught:
        write_timeline(song / "mix.wav", tmp_path / "t.npz", options)
    message = str(caught.value)
    assert "stem drums" in message and "3.500 s" in message and "3.000 s" in message
    assert "within one frame (0.100 s at 10 fps)" in message and "\n" not in message
    assert _analysed() == [] and not (tmp_path / "t.npz").exists()


def test_a_stem_within_a_frame_of_the_mix_is_cut_to_its_frames(song, tmp_path):
    made = stem_song(SECONDS, seed=4)
    short = made.stems["drums"][: -int(0.06 * made.sr)]  # 60 ms short: within a frame at 10 fps
    options = _options(song, stems=(("drums", write_wav(tmp_path / "d.wav", short, made.sr)),))
    timeline = make_timeline(song / "mix.wav", options)
    assert timeline.n_frames == round(SECONDS * FPS)


def test_a_stem_at_another_rate_and_channels_is_read_as_the_mix_is_and_said_so(
    song, tmp_path, caplog
):
    """A stereo 44.1 kHz drum stem of a mono 22.05 kHz mix: resampled and downmixed, as the
    analysis reads every source; one line says so, and the picture is the matched stem's."""
    drums, sr = sf.read(song / "stems" / "drums.wav", dtype="float32")
    import soxr

    wide = soxr.resample(drums, sr, 44100)
    stereo = write_wav(tmp_path / "drums.wav", np.stack([wide, wide], axis=1), 44100)
    caplog.set_level("INFO", logger="visualizer")
    converted = make_timeline(song / "mix.wav", _options(song, stems=(("drums", stereo),)))
    notes = [r.message for r in caplog.records if "resampled and downmixed" in r.message]
    assert len(notes) == 1 and "44100 Hz stereo" in notes[0] and "22050 Hz mono" in notes[0]
    matched = make_timeline(
        song / "mix.wav", _options(song, stems=(("drums", song / "stems" / "drums.wav"),))
    )
    assert np.abs(converted.noise - matched.noise).max() < 0.05  # the same kicks


def test_a_preset_reading_a_stem_nobody_gives_is_one_line_before_any_work(song, tmp_path, capsys):
    code, err = run_cli(
        capsys, "timeline", song / "mix.wav", "-o", tmp_path / "t.npz", "--preset", "band",
        "--set", "zoom.feature=piano.energy", "--stems", song / "stems", "--fps", "10",
    )  # fmt: skip
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert "piano stem (zoom.feature = 'piano.energy')" in lines[0]
    assert "--stems piano=FILE" in lines[0]
    assert _analysed() == [] and not (tmp_path / "t.npz").exists()


def test_a_stem_that_is_a_fifo_a_folder_or_the_output_is_refused(song, tmp_path):
    fifo = tmp_path / "drums.wav"
    os.mkfifo(fifo)
    for path, words in ((fifo, "not a regular file"), (song / "stems", "not a regular file")):
        with pytest.raises(StemError, match=words):
            write_timeline(
                song / "mix.wav", tmp_path / "t.npz", _options(song, stems=(("drums", path),))
            )
    output = song / "stems" / "bass.wav"
    with pytest.raises(OutputError, match="inputs"):
        write_timeline(song / "mix.wav", output, _options(song), overwrite=True)
    assert _analysed() == []


# -- analysis and mapping -----------------------------------------------------------------------


def test_each_stem_the_preset_reads_is_analysed_once_with_its_own_cache_entry(song):
    first = make_timeline(song / "mix.wav", _options(song))
    assert len(_analysed()) == 4  # the mix, drums, bass, other (vocals: a stand-in)
    again = make_timeline(song / "mix.wav", _options(song))
    assert np.array_equal(first.noise, again.noise) and len(_analysed()) == 4
    reads_no_stem = make_timeline(song / "mix.wav", _options(song, preset="default"))
    assert len(_analysed()) == 4 and not np.array_equal(reads_no_stem.noise, first.noise)
    fallback = make_timeline(song / "mix.wav", _options(song, stems=()))
    assert not np.array_equal(fallback.noise, first.noise)  # the stems changed the picture


def test_an_excerpt_with_stems_is_the_same_seconds_of_the_full_render(song):
    full = make_timeline(song / "mix.wav", _options(song))
    part = make_timeline(song / "mix.wav", _options(song, start=1.0, duration=1.5))
    assert part.n_frames == 15 and part.start == pytest.approx(1.0)
    assert np.array_equal(part.noise, full.noise[10:25])
    assert np.array_equal(part.class_vectors, full.class_vectors[10:25])
    assert np.array_equal(part.truncation, full.truncation[10:25])


def test_analyze_says_which_stems_are_real_and_which_derived(song, tmp_path, capsys):
    from visualizer.cli import main

    out = tmp_path / "f.npz"
    args = ["analyze", song / "mix.wav", "--stems", song / "stems", "-o", out, "--fps", "10"]
    assert main([str(a) for a in args]) == 0
    printed = capsys.readouterr().out
    for name in ("drums", "bass", "other"):
        assert f"{name:7} real: {song / 'stems' / name}.wav, " in printed
    assert "vocals  derived from the mix's mid band, " in printed
    assert "piano   not given (no stand-in" in printed
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {"f.npz", "f.drums.npz", "f.bass.npz", "f.other.npz"}


# -- resume and batch ---------------------------------------------------------------------------


def test_a_resume_with_a_changed_stem_is_refused_naming_it(song, tmp_path):
    stems = tmp_path / "stems"
    stems.mkdir()
    for path in (song / "stems").iterdir():
        (stems / path.name).write_bytes(path.read_bytes())
    options = _options(song, stems=parse_stems(stems), segment_frames=5, device="cpu")
    out = tmp_path / "out.mp4"

    def stop(event):
        if event.stage == "render" and event.done >= 5:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        render_track(song / "mix.wav", out, options, generator=wrap(ToyGenerator()), progress=stop)
    drums, sr = sf.read(stems / "drums.wav", dtype="float32")
    sf.write(stems / "drums.wav", drums * 0.5, sr, subtype="PCM_16")  # same name, new audio
    resumed = RenderOptions(**{**options.__dict__, "resume": True})
    with pytest.raises(ResumeMismatch, match="the drums stem's content is not the interrupted"):
        render_track(song / "mix.wav", out, resumed, generator=wrap(ToyGenerator()))
    without = RenderOptions(**{**resumed.__dict__, "stems": resumed.stems[1:]})
    with pytest.raises(ResumeMismatch, match="read a drums stem, this one has none"):
        render_track(song / "mix.wav", out, without, generator=wrap(ToyGenerator()))


def test_a_batch_takes_each_tracks_stems_from_its_album_entry_or_folder(song, tmp_path):
    from visualizer.batch.jobs import BatchOptions, prepare_batch

    tracks = tmp_path / "album"
    tracks.mkdir()
    for name in ("one", "two", "three"):
        (tracks / f"{name}.wav").write_bytes((song / "mix.wav").read_bytes())
    root = tmp_path / "separated"
    (root / "one").mkdir(parents=True)
    (root / "one" / "drums.wav").write_bytes((song / "stems" / "drums.wav").read_bytes())
    album = tmp_path / "album.toml"
    album.write_text(f'[tracks.two]\nstems = "{song / "stems"}"\n')
    batch = BatchOptions(outdir=tmp_path / "videos", album=album, stems_root=root)
    prepared = prepare_batch([tracks], RenderOptions(preset="band", fps=FPS), batch)
    stems = {job.source.stem: dict(job.options.stems) for job in prepared.jobs}
    assert stems == {
        "one": {"drums": root / "one" / "drums.wav"},
        "two": dict(parse_stems(song / "stems")),
        "three": {},
    }
    manifest = json.loads((tmp_path / "videos" / "manifest.json").read_text())["tracks"]
    assert manifest["one.mp4"]["stems"] == {"drums": str(root / "one" / "drums.wav")}
    assert manifest["three.mp4"]["stems"] is None
    hashes = {job.source.stem: job.settings_hash for job in prepared.jobs}
    assert len(set(hashes.values())) == 3  # same audio, other stems: another render
