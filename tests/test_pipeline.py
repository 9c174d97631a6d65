"""The pipeline API on a saved Timeline and a toy generator: segments, resume, split, outputs.

These tests are about orchestration (files, segments, sync, resume); the end-to-end tests with
analysis, mapping and a real tiny BigGAN are in test_render_cli.py.
"""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_audio import music_like, write_wav
from tests.render_fixtures import OutOfMemoryOnce, ToyGenerator, random_timeline
from tests.video_fixtures import decode_audio, probe, read_frames
from visualizer import pipeline
from visualizer.errors import Cancelled, OutputError, RenderError
from visualizer.mapping import timeline as timeline_io
from visualizer.model.inference import wrap
from visualizer.pipeline.options import RenderOptions
from visualizer.pipeline.workdir import ResumeMismatch

FPS = Fraction(12)
SECONDS = 2.5


@pytest.fixture
def setup(tmp_path):
    track = write_wav(tmp_path / "song.wav", music_like(SECONDS, 22050, seed=1), 22050)
    n = round(SECONDS * FPS)
    saved = timeline_io.save(random_timeline(n, FPS, seed=3), tmp_path / "song.npz")
    return track, saved, n


def _options(saved, **kwargs):
    return RenderOptions(timeline=saved, device="cpu", segment_frames=8, **kwargs)


def _render(track, out, options, generator=None):
    toy = wrap(generator or ToyGenerator())
    return pipeline.render_track(track, out, options, generator=toy)


def test_render_writes_video_with_exact_frames_and_audio_in_sync(setup, tmp_path):
    track, saved, n = setup
    out = tmp_path / "out.mp4"
    result = _render(track, out, _options(saved))
    info = probe(out)
    assert (result.n_frames, info["frames"]) == (n, n)
    assert result.fps == FPS
    assert info["audio_seconds"] is not None
    assert abs(info["video_seconds"] - info["audio_seconds"]) < 1 / FPS
    assert abs(result.video_seconds - result.audio_seconds) < 1 / FPS
    preset = pipeline.preset_path_for(out).read_text()
    assert "seed = 3" in preset
    assert not pipeline.work_dir_for(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.mp4",
        "out.preset.toml",
        "song.npz",
        "song.wav",
    ]


def test_existing_output_is_kept_without_overwrite(setup, tmp_path):
    track, saved, _ = setup
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="--overwrite"):
        _render(track, out, _options(saved))
    assert out.read_bytes() == b"precious"
    _render(track, out, _options(saved, overwrite=True))
    assert probe(out)["frames"] > 0


def _interrupt_after(frames: int):
    def progress(event):
        if event.stage == "render" and event.done >= frames:
            raise Cancelled("stop")

    return progress


def test_resume_after_interruption_equals_uninterrupted_render(setup, tmp_path):
    track, saved, n = setup
    whole = tmp_path / "whole.mp4"
    _render(track, whole, _options(saved))

    out = tmp_path / "out.mp4"
    options = _options(saved, batch_size=3)
    with pytest.raises(Cancelled):
        pipeline.render_track(
            track, out, options, generator=wrap(ToyGenerator()), progress=_interrupt_after(12)
        )
    work = pipeline.work_dir_for(out)
    assert not out.exists()
    assert (work / "segment-00000.mp4").is_file()
    assert not (work / "segment-00002.mp4").exists()
    assert not [p for p in work.iterdir() if p.name.endswith(".partial")]

    with pytest.raises(OutputError, match="--resume"):
        _render(track, out, options)
    generator = ToyGenerator()
    _render(track, out, _options(saved, batch_size=3, resume=True), generator)
    assert sum(generator.calls) < n  # only the missing segments were rendered
    assert np.array_equal(read_frames(out), read_frames(whole))


def test_resume_with_different_settings_is_refused(setup, tmp_path):
    track, saved, _ = setup
    out = tmp_path / "out.mp4"
    with pytest.raises(Cancelled):
        pipeline.render_track(
            track,
            out,
            _options(saved),
            generator=wrap(ToyGenerator()),
            progress=_interrupt_after(8),
        )
    with pytest.raises(ResumeMismatch, match="quality"):  # an OutputError: one line, exit 1
        _render(track, out, _options(saved, quality=30, resume=True))
    assert not out.exists()


def test_segments_rendered_apart_join_into_the_same_video(setup, tmp_path):
    track, saved, n = setup
    whole = tmp_path / "whole.mp4"
    _render(track, whole, _options(saved))
    out = tmp_path / "split.mp4"
    plan = pipeline.plan_render(track, out, _options(saved))
    assert plan.segments == [(s, min(s + 8, n)) for s in range(0, n, 8)]
    pipeline.render_segments(plan, [2, 3], wrap(ToyGenerator()))  # "worker 2"
    with pytest.raises(RenderError, match="2 of 4 segments"):
        pipeline.finish_render(plan)
    pipeline.render_segments(plan, [0, 1], wrap(ToyGenerator()))  # "worker 1"
    with pytest.raises(RenderError, match="no segment 9"):
        pipeline.render_segments(plan, [9], wrap(ToyGenerator()))
    pipeline.finish_render(plan)
    assert np.array_equal(read_frames(out), read_frames(whole))


def test_frames_dir_timeline_out_and_draft(setup, tmp_path):
    track, saved, n = setup
    frames_dir = tmp_path / "frames"
    copy = tmp_path / "copy.npz"
    out = tmp_path / "draft.mp4"
    options = _options(saved, frames_dir=frames_dir, timeline_out=copy, frame_step=3)
    result = _render(track, out, options)
    assert result.fps == FPS / 3
    assert result.n_frames == -(-n // 3)
    pngs = sorted(p.name for p in frames_dir.iterdir())
    assert pngs[:2] == ["frame_000000.png", "frame_000003.png"]
    assert len(pngs) == result.n_frames
    again = timeline_io.load(copy)
    assert np.array_equal(again.noise, timeline_io.load(saved).noise)
    assert abs(probe(out)["audio_seconds"] - result.video_seconds) < 3 / FPS


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": (63, 36)}, RenderError, "even"),
        ({"fit": "stretch"}, RenderError, "stretch"),
        ({"quality": 60}, RenderError, "quality"),
        ({"encoder": "x265"}, RenderError, "x265"),
        ({"encoder_preset": "turbo"}, RenderError, "'turbo'"),
        ({"encoder": "libx264", "encoder_preset": "p5"}, RenderError, "'p5' for libx264"),
        ({"cudnn": "fast"}, RenderError, "cudnn mode 'fast'"),
        ({"weights": "/no/such/weights"}, Exception, "/no/such/weights"),
    ],
)
def test_bad_options_fail_before_any_file_is_written(setup, tmp_path, kwargs, error, match):
    track, saved, _ = setup
    out = tmp_path / "out.mp4"
    with pytest.raises(error, match=match):
        _render(track, out, _options(saved, **kwargs))
    assert not out.exists() and not pipeline.work_dir_for(out).exists()


def test_bad_output_path_and_missing_track(setup, tmp_path):
    track, saved, _ = setup
    with pytest.raises(OutputError, match="'.avi'"):
        _render(track, tmp_path / "out.avi", _options(saved))
    with pytest.raises(OutputError, match="folder"):
        _render(track, tmp_path / "nope" / "out.mp4", _options(saved))
    with pytest.raises(Exception, match="missing.wav"):
        _render(tmp_path / "missing.wav", tmp_path / "out.mp4", _options(saved))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.npz", "song.wav"]


def test_plan_is_picklable_for_workers(setup, tmp_path):
    import pickle

    track, saved, _ = setup
    plan = pipeline.plan_render(track, tmp_path / "out.mp4", _options(saved))
    again = pickle.loads(pickle.dumps(plan))
    assert again.segments == plan.segments and again.work_dir == plan.work_dir
    assert isinstance(again.output, Path)


def _soundtracks(folder: Path) -> list[Path]:
    return sorted(folder.glob("soundtrack-*.m4a"))


def _stop_once_soundtrack_done(out: Path, frames: int):
    """Cancel after ``frames`` frames, once the soundtrack's encode has finished (it runs
    beside the render: a short track's takes well under a second)."""

    def progress(event):
        if event.stage == "render" and event.done >= frames:
            work = pipeline.work_dir_for(out)
            for _ in range(200):
                if _soundtracks(work):
                    break
                time.sleep(0.05)
            raise Cancelled("stop")

    return progress


def test_resume_reuses_the_finished_soundtrack_and_encodes_a_changed_track_again(setup, tmp_path):
    track, saved, n = setup
    out = tmp_path / "out.mp4"
    with pytest.raises(Cancelled):
        pipeline.render_track(
            track, out, _options(saved), generator=wrap(ToyGenerator()),
            progress=_stop_once_soundtrack_done(out, 8),
        )  # fmt: skip
    work = pipeline.work_dir_for(out)
    (first,) = _soundtracks(work)
    stamp = first.stat().st_mtime_ns
    seen: list[list[Path]] = []

    def look(event):
        if event.stage == "render" and not seen:
            seen.append(_soundtracks(work))
        if event.stage == "render" and event.done >= 16:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        pipeline.render_track(
            track, out, _options(saved, resume=True), generator=wrap(ToyGenerator()), progress=look
        )
    assert seen == [[first]] and first.stat().st_mtime_ns == stamp  # reused, not encoded again
    # The same track rewritten with other sound (same length, so the resume is allowed).
    write_wav(track, music_like(SECONDS, 22050, seed=9), 22050)
    seen.clear()
    pipeline.render_track(
        track, out, _options(saved, resume=True), generator=wrap(ToyGenerator()),
        progress=lambda e: e.stage != "render" or seen or seen.append(_soundtracks(work)),
    )  # fmt: skip
    assert first not in seen[0]  # the old track's soundtrack is gone, the new one encoded
    assert probe(out)["audio_seconds"] == pytest.approx(SECONDS, abs=float(1 / FPS))
    assert not work.exists()


def test_the_soundtrack_goes_into_the_video_without_a_second_encode(setup, tmp_path):
    track, saved, n = setup
    out = tmp_path / "out.mp4"
    plan = pipeline.plan_render(track, out, _options(saved))
    pipeline.render_segments(plan, None, wrap(ToyGenerator()))  # starts the soundtrack too
    soundtrack = plan.soundtrack.result()
    assert soundtrack.parent == plan.work_dir and soundtrack.suffix == ".m4a"
    encoded = decode_audio(soundtrack)
    pipeline.finish_render(plan)
    # Copied: the muxed stream decodes to the encoded file's samples, bit for bit.
    assert len(encoded) > 0 and np.array_equal(decode_audio(out), encoded)


def test_a_halving_after_out_of_memory_is_kept_for_the_resume(setup, tmp_path):
    track, saved, n = setup
    whole = tmp_path / "whole.mp4"
    _render(track, whole, _options(saved, batch_size=8))
    out = tmp_path / "out.mp4"
    flaky = OutOfMemoryOnce(ToyGenerator(), limit=4)  # the first batch of 8 fails: 4 from then
    with pytest.raises(Cancelled):
        pipeline.render_track(
            track, out, _options(saved, batch_size=8), generator=wrap(flaky),
            progress=_interrupt_after(16),
        )  # fmt: skip
    assert flaky.raised == 1
    work = pipeline.work_dir_for(out)
    assert (work / "batch-halved-at-000000000").read_text() == "4"
    resumed = ToyGenerator()
    _render(track, out, _options(saved, batch_size=8, resume=True), resumed)
    assert resumed.calls and max(resumed.calls) == 4  # the interrupted run's grid, not 8
    assert np.array_equal(read_frames(out), read_frames(whole))


def test_the_encoder_preset_reaches_x264_and_is_part_of_the_identity(setup, tmp_path):
    track, saved, n = setup
    out = tmp_path / "out.mp4"
    with pytest.raises(Cancelled):
        pipeline.render_track(
            track, out, _options(saved), generator=wrap(ToyGenerator()),
            progress=_interrupt_after(8),
        )  # fmt: skip
    work = pipeline.work_dir_for(out)
    manifest = json.loads((work / "render.json").read_text())
    assert (manifest["encoder"], manifest["encoder_preset"]) == ("libx264", "medium")
    assert b"subme=7" in (work / "segment-00000.mp4").read_bytes()  # x264's medium, in its SEI
    with pytest.raises(ResumeMismatch, match="encoder_preset was 'medium', now 'veryfast'"):
        _render(track, out, _options(saved, encoder_preset="veryfast", resume=True))
    fast = tmp_path / "fast.mp4"
    _render(track, fast, _options(saved, encoder_preset="veryfast"))
    assert b"subme=2" in fast.read_bytes()  # veryfast
