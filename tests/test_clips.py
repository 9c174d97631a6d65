"""Clip packs for VJ libraries (`visualizer clips`): loops of whole bars that start on bar lines
spread over the sections, each exactly its bars long in frames and closed without a seam, each
the very render its index entry describes, written under the output rules."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest

import visualizer
from tests.fixtures_audio import music_like, write_wav
from tests.render_fixtures import run_cli
from tests.video_fixtures import probe, read_frames, streams
from visualizer.analysis.track import analyze_window
from visualizer.errors import FeaturesError, OutputError
from visualizer.files import exclusive
from visualizer.pipeline.clips import LOCK_NAME, choose_clips, render_clips
from visualizer.pipeline.options import RenderOptions

FPS = 10
BAR = 20  # frames per bar at 120 BPM in 4/4, 10 fps


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """34 s at 120 BPM in sections of 8 bars (0, 16 and 32 s)."""
    return write_wav(tmp_path_factory.mktemp("track") / "song.wav", music_like(34.0, seed=3))


@pytest.fixture(scope="module")
def features(track):
    return analyze_window(track, fps=FPS, cache=False)[0]


def _options(**changes) -> RenderOptions:
    fps = Fraction(FPS)
    return RenderOptions(model="toy-16", weights="random", device="cpu", fps=fps, **changes)


def test_clips_start_on_bar_lines_spread_over_the_sections(features):
    assert (features.meter, round(features.tempo)) == (4, 120)
    spans = choose_clips(features, bars=2, count=4)
    starts = [s.first for s in spans]
    assert set(starts) <= set(features.downbeats.tolist())
    assert starts == sorted(starts)
    assert {s.section for s in spans} == {0, 1}  # the third section has no 2 bars left
    assert all(s.frames == 2 * BAR and s.bpm == 120.0 for s in spans)
    ends = [s.first + s.frames for s in spans]
    assert all(end <= nxt for end, nxt in zip(ends, starts[1:], strict=False))  # no overlap
    # one clip per section before a second one from any: the first two come from 0 and 1
    two = choose_clips(features, bars=2, count=2)
    assert [s.section for s in two] == [0, 1] and two[1].first == features.sections[1]


def test_a_tempo_change_inside_a_clip_follows_its_own_bars(features):
    downbeats = features.downbeats.copy()
    downbeats[3:] += 5  # bar 3 lasts 25 frames: the bars from 2 to 4 take 45
    changed = dataclasses.replace(features, downbeats=downbeats)
    spans = {s.first: s for s in choose_clips(changed, bars=2, count=8)}
    assert spans[0].frames == 40  # bars 0-1 still agree with the track's tempo
    assert spans[2 * BAR].frames == 45 and spans[2 * BAR].bpm == pytest.approx(8 * 60 * FPS / 45)


def test_a_track_without_bars_or_room_is_refused(features):
    with pytest.raises(FeaturesError, match="no bar lines"):
        choose_clips(dataclasses.replace(features, meter=0), bars=2, count=2)
    with pytest.raises(FeaturesError, match="no 32 bars fit"):
        choose_clips(features, bars=32, count=2)


def test_a_pack_holds_seamless_loops_its_index_describes(toy_family, track, tmp_path):
    folder = tmp_path / "pack"
    pack = render_clips(track, folder, _options(seed=7), bars=2, count=3)
    names = [p.name for p in pack.clips]
    assert names == [f"song_0{k}_120bpm_2bars.mov" for k in (1, 2, 3)]
    index = json.loads(pack.index.read_text())
    assert (index["bars"], index["meter"], index["fps"]) == (2, 4, str(FPS))
    for k, (path, entry) in enumerate(zip(pack.clips, index["clips"], strict=True)):
        assert entry["file"] == path.name and entry["seed"] == 7 + k
        assert (entry["bars"], entry["bpm"], entry["preset"]) == (2, 120.0, "default")
        assert entry["start_frame"] % BAR == 0 and entry["start"] == entry["start_frame"] / FPS
        assert probe(path)["frames"] == entry["frames"] == 2 * BAR  # exactly 2 bars
        assert path.with_suffix(".preset.toml").is_file()
    assert pack.sheet.is_file()
    # Clip 2 is the render of its window with --loop and its seed, frame for frame ...
    entry = index["clips"][1]
    window = {"start": entry["start"], "duration": entry["seconds"], "seed": entry["seed"]}
    again = tmp_path / "again.mov"
    visualizer.render(
        track, again, **dataclasses.asdict(_options(overrides=("loop.enabled=true",), **window))
    )
    assert np.array_equal(read_frames(again), read_frames(pack.clips[1]))
    # ... whose Timeline's end flows back into its start: the seam is no larger than a step
    timeline = visualizer.make_timeline(track, fps=FPS, overrides=["loop.enabled=true"], **window)
    latent = timeline.noise.astype(np.float64) / timeline.truncation[:, None]
    inside = np.linalg.norm(np.diff(latent, axis=0), axis=1)
    assert np.linalg.norm(latent[-1] - latent[0]) <= inside.max() + 1e-6


def test_a_pack_follows_the_output_rules(toy_family, track, tmp_path, capsys):
    folder = tmp_path / "pack"
    args = ("--bars", "2", "--count", "2", "--model", "toy-16", "--weights", "random")
    args += ("--fps", str(FPS), "-q")
    code, err = run_cli(capsys, "clips", track, "-o", folder, *args)
    assert code == 0, err
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert "index.json" in before and "contact.png" in before
    clips = sorted(folder.glob("*.mov"))
    assert len(clips) == 2 and streams(clips[0])["codec"] == "hap"  # VJ software's codec
    code, err = run_cli(capsys, "clips", track, "-o", folder, *args)
    assert code == 1 and "exists" in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before  # nothing touched
    with (
        exclusive(folder, "clip pack folder", lock=folder / LOCK_NAME),
        pytest.raises(OutputError, match="being written by pid"),
    ):
        render_clips(track, folder, _options(overwrite=True), bars=2, count=2)
    code, err = run_cli(capsys, "clips", track, "-o", folder, *args, "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == sorted(before)  # no temporaries left
    code, err = run_cli(capsys, "clips", track, "-o", folder, *args, "--resume")
    assert code == 1 and "no --resume" in err
