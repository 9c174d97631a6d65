"""The seeds' techniques: latent keyframes (poses), class morph with a still latent, loops."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.mapping_fixtures import synthetic_features
from visualizer.cli import get_parser
from visualizer.commands.render import options_from_args
from visualizer.errors import PresetError
from visualizer.mapping import build_timeline
from visualizer.mapping import timeline as timeline_io
from visualizer.mapping.loop import blend_frames, close_loop
from visualizer.mapping.poses import load_pose
from visualizer.mapping.presets import load_preset

TIGER = 292
CAT, HUSKY, WOLF = 281, 250, 269
# Only the named technique moves the latent; everything else is held still.
STILL = [
    "walk.speed=0", "walk.rise=0", "walk.idle=0", "pulse.trigger='none'", "rotary.radius=0",
    "zoom.amount=0", "hallucinate.amount=0", "truncation.min=0.5", "truncation.max=0.5",
]  # fmt: skip


def latent(timeline) -> np.ndarray:
    """The latent before truncation, (T, 128) float64."""
    return timeline.noise.astype(np.float64) / timeline.truncation[:, None]


@pytest.mark.parametrize("causal", [False, True])
def test_poses_morph_the_latent_while_the_class_holds(causal):
    features = synthetic_features(240, tempo=120.0)  # a beat every 15 frames
    keys = ["poses.seeds=[3, 17]", "poses.key='beats'", "poses.every=4", "poses.motion=0"]
    preset = load_preset("default", [*STILL, "classes.names=tiger", *keys])
    timeline = build_timeline(features, preset, causal=causal)
    assert np.all(timeline.class_vectors[:, TIGER] == 1.0)  # the class holds
    u = latent(timeline)
    three, seventeen = load_pose(3, 2.0), load_pose(17, 2.0)
    assert np.allclose(u[0], three, atol=1e-5)
    assert np.allclose(u[60], seventeen, atol=1e-5)  # the next pose, exactly, 4 beats on
    speed = np.linalg.norm(np.diff(u, axis=0), axis=1)
    assert (speed[:59] > 0).all()  # it moves all the way...
    halfway = u[30]
    assert not np.allclose(halfway, three, atol=0.1) and not np.allclose(
        halfway, seventeen, atol=0.1
    )
    # ... as a rotation: the norm stays the poses' norm (no shrinking towards the origin)
    norms = np.linalg.norm(u[:60], axis=1)
    assert norms.min() > 0.9 * min(np.linalg.norm(three), np.linalg.norm(seventeen))


def test_poses_keep_some_music_motion_and_the_latent_statistics():
    features = synthetic_features(600, tempo=120.0)
    keys = ["poses.seeds=[3, 17, 40]", "poses.key='beats'", "poses.every=8", "poses.motion=0.4"]
    timeline = build_timeline(features, load_preset("default", keys))
    u = latent(timeline)
    rms = float(np.sqrt((u**2).mean()))
    assert 0.75 < rms < 1.0
    assert np.abs(u).max() <= 4.0


def test_saved_latents_as_poses(tmp_path):
    pose = np.linspace(-1.5, 1.5, 128)
    np.save(tmp_path / "pose.npy", pose)
    features = synthetic_features(90)
    source = build_timeline(features, load_preset("default"))
    timeline_io.save(source, tmp_path / "clip.npz")
    seeds = f'poses.seeds=["{tmp_path / "pose.npy"}", "{tmp_path / "clip.npz"}@40"]'
    preset = load_preset(
        "default", [*STILL, seeds, "poses.motion=0", "poses.key='times'", "poses.times=[1.5]"]
    )
    u = latent(build_timeline(features, preset))
    assert np.allclose(u[0], pose, atol=1e-5)
    saved = np.clip(latent(source)[40], -2.0, 2.0)  # a pose keeps within the latent's bound
    assert np.allclose(u[44], saved, atol=1e-4)  # pose 2 exactly at 1.5 s


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("missing.npy", "cannot read the pose 'missing.npy'"),
        ("bad.npy", "must hold 128 finite numbers"),
        ("clip.npz@999", "asks for frame 999 of a 30-frame timeline"),
        ("fifo.npy", "not a regular file: fifo.npy"),  # never opened: it would wait for ever
        ("huge.npy", "more than a pose of 128 numbers"),
    ],
)
def test_bad_saved_latents_name_the_pose(tmp_path, monkeypatch, item, message):
    monkeypatch.chdir(tmp_path)
    np.save("bad.npy", np.zeros(5))
    np.save("huge.npy", np.zeros(300_000))
    os.mkfifo("fifo.npy")
    timeline_io.save(build_timeline(synthetic_features(30), load_preset("default")), "clip.npz")
    preset = load_preset("default", [f'poses.seeds=["{item}"]'])
    with pytest.raises(PresetError, match=message):
        build_timeline(synthetic_features(30), preset)


def test_pose_items_are_checked_when_the_preset_loads():
    with pytest.raises(PresetError, match="poses.seeds must list seeds or saved latents"):
        load_preset("default", ['poses.seeds=["tiger"]'])
    with pytest.raises(PresetError, match="poses.times must list segment start seconds"):
        load_preset("default", ["poses.seeds=[1, 2]", "poses.key='times'"])


@pytest.mark.parametrize("causal", [False, True])
def test_class_morph_holds_the_latent_while_the_class_changes_species(causal):
    features = synthetic_features(200, tempo=120.0)
    morph = ['morph.names=["tabby cat", "Siberian Husky", "grey wolf"]', "morph.beats=2"]
    # The default preset's walk, pulses and energy-driven truncation are all on: still wins.
    preset = load_preset("default", ["classes.mode=morph", *morph])
    timeline = build_timeline(features, preset, causal=causal)
    u = latent(timeline)
    assert np.allclose(u, u[0], atol=1e-5)  # the same pose on every frame
    y = timeline.class_vectors
    assert y[0, CAT] == pytest.approx(1.0)
    assert y[30, HUSKY] == pytest.approx(1.0, abs=1e-3)  # 2 beats = 30 frames a step
    assert y[60, WOLF] == pytest.approx(1.0, abs=1e-3)
    assert y[90, CAT] == pytest.approx(1.0, abs=1e-3)  # and round again
    assert y[5, CAT] == pytest.approx(1.0)  # resting on the class for morph.hold of the step
    assert 0.1 < y[20, HUSKY] < 0.9  # then gliding
    unmoving = load_preset("default", ["classes.mode=morph", *morph, "morph.still=false"])
    assert not np.allclose(latent(build_timeline(features, unmoving)), u[0], atol=1e-3)


def test_loop_closes_every_path():
    features = synthetic_features(240, tempo=120.0)
    open_ = build_timeline(features, load_preset("pulse"))
    looped = build_timeline(features, load_preset("pulse", ["loop.enabled=true"]))
    n, length = 240, blend_frames(240, 30.0, 0.0)
    assert length == 60  # a quarter of the clip, at most 2 s
    # frames before the blend are the open clip's, bit for bit
    assert np.array_equal(looped.noise[: n - length], open_.noise[: n - length])
    for name, rows in [
        ("latent", latent),
        ("classes", lambda t: t.class_vectors.astype(np.float64)),
    ]:
        a, b = rows(open_), rows(looped)
        inside = np.linalg.norm(np.diff(b, axis=0), axis=1)
        seam = np.linalg.norm(b[-1] - b[0])  # the step from the last frame back to the first
        assert seam <= inside.max() + 1e-6, name
        assert np.linalg.norm(a[-1] - a[0]) > 3 * seam, name  # the open clip had a seam
    seam_t = abs(float(looped.truncation[-1] - looped.truncation[0]))
    assert seam_t <= np.abs(np.diff(looped.truncation)).max() + 1e-6
    norms = np.linalg.norm(latent(looped), axis=1)
    assert norms.min() > 0.85 * np.linalg.norm(latent(open_), axis=1).min()  # no soft middle


def test_loop_blend_length_and_short_clips():
    assert blend_frames(240, 30.0, 1.0) == 30
    assert blend_frames(1000, 30.0, 0.0) == 60
    assert blend_frames(20, 30.0, 5.0) == 19
    tiny = build_timeline(synthetic_features(2), load_preset("default"))
    assert close_loop(tiny) is tiny


def test_loop_flag_is_a_preset_override_for_render_and_preview():
    parser = get_parser()
    for command in (["render", "a.wav", "-o", "a.mp4"], ["preview", "a.wav", "-o", "a.png"]):
        options = options_from_args(parser.parse_args([*command, "--loop", "--duration", "4"]))
        assert options.overrides[-1] == "loop.enabled=true" and options.duration == 4.0
        assert "loop.enabled=true" not in options_from_args(parser.parse_args(command)).overrides


def test_timeline_command_loop_of_the_asked_duration(tmp_path, monkeypatch):
    """`visualizer timeline --loop --duration 4`: a 4-second Timeline whose path is closed."""
    from tests.fixtures_audio import SR, music_like, write_wav
    from visualizer.cli import main
    from visualizer.mapping.presets import preset_from_toml

    monkeypatch.setenv("VISUALIZER_CACHE", str(tmp_path / "cache"))
    song = write_wav(tmp_path / "song.wav", music_like(12.0, SR, seed=2))
    common = [str(song), "--preset", "pulse", "--start", "3", "--duration", "4", "-q"]
    assert main(["timeline", *common, "-o", str(tmp_path / "open.npz")]) == 0
    assert main(["timeline", *common, "--loop", "-o", str(tmp_path / "loop.npz")]) == 0
    open_ = timeline_io.load(tmp_path / "open.npz")
    looped = timeline_io.load(tmp_path / "loop.npz")
    assert looped.n_frames == open_.n_frames == 120  # a loop of the asked length
    assert preset_from_toml(looped.preset).loop.enabled  # the saved preset records it
    u = latent(looped)
    inside = np.linalg.norm(np.diff(u, axis=0), axis=1)
    assert np.linalg.norm(u[-1] - u[0]) <= inside.max()
    assert np.linalg.norm(latent(open_)[-1] - latent(open_)[0]) > 3 * np.linalg.norm(u[-1] - u[0])
