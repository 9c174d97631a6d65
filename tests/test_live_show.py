"""Performing controls without a browser: master faders, scenes and their crossfade, freeze,
blackout, and the page messages that reach them."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.fixtures_audio import SR, music_like
from tests.live_fixtures import FPS, tiny_generator, write_preset
from visualizer.errors import PresetError
from visualizer.live.control import LiveControl
from visualizer.live.engine import LiveEngine
from visualizer.live.show import MASTERS, apply_masters, scene_after, scene_names
from visualizer.live.source_file import FileSource


@pytest.fixture(scope="module")
def generator():
    return tiny_generator()


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    return music_like(6.0, SR, seed=2).astype(np.float32)


def _engine(control, generator, music) -> tuple[LiveEngine, FileSource]:
    source = FileSource(music, SR)
    engine = LiveEngine(
        generator=generator, control=control, source=source, fps=FPS, seed=7, keep_timeline=True
    )
    return engine, source


def _play_to(engine: LiveEngine, source: FileSource, seconds: float) -> None:
    source.report(seconds, playing=False)
    engine.advance()


def test_each_master_scales_its_keys_and_clips_to_their_range(tmp_path):
    control = LiveControl("default", save_dir=tmp_path)
    base = control.base
    for name, keys in MASTERS.items():
        doubled = apply_masters(base, {name: 2.0})
        changed = [k for k in keys if _get(doubled, k) != _get(base, k)]
        assert changed, f"master {name} changes nothing in the default preset"
        for key in changed:
            assert _get(doubled, key) == pytest.approx(min(2 * _get(base, key), _hi(key)))
    assert apply_masters(base, dict.fromkeys(MASTERS, 1.0)) is base
    control.set_master("truncation", 0.5)
    assert control.preset.truncation.max == pytest.approx(base.truncation.max / 2)
    assert control.base.truncation.max == base.truncation.max  # the scene itself is kept
    control.set("truncation.max", 0.8)  # a key set under a master is scaled too
    assert control.preset.truncation.max == pytest.approx(0.4)
    for bad in (("motion", 2.5), ("motion", "fast"), ("volume", 1.0)):
        with pytest.raises(PresetError, match="master"):
            control.set_master(*bad)
    assert control.snapshot()["masters"] == {"reactivity": 1.0, "motion": 1.0, "truncation": 0.5}


def _get(preset, key):
    section, _, name = key.partition(".")
    return getattr(getattr(preset, section), name)


def _hi(key):
    import dataclasses

    from visualizer.mapping.presets import load_preset

    section, _, name = key.partition(".")
    block = getattr(load_preset("default"), section)
    spec = next(f for f in dataclasses.fields(block) if f.name == name)
    return spec.metadata.get("hi") or float("inf")


def test_scenes_are_builtins_then_saved_looks(tmp_path):
    control = LiveControl("default", save_dir=tmp_path)
    control.save("my-look")
    (tmp_path / "not a name.toml").write_text("")
    names = scene_names(tmp_path)
    assert names[-1] == "my-look" and "default" in names and "not a name" not in names
    assert scene_after(names, "my-look", 1) == names[0]
    assert scene_after(names, str(tmp_path / "elsewhere.toml"), -1) == names[-1]
    control.perform("next_scene", 0.0)
    assert control.source == names[names.index("default") + 1]
    control.perform("previous_scene", 0.0)
    assert control.source == "default"
    with pytest.raises(PresetError, match="one palette"):
        control.perform("next_palette", 0.0)
    with pytest.raises(PresetError, match="unknown action 'explode'"):
        control.perform("explode", 0.0)
    with pytest.raises(PresetError, match="crossfade must be 0-60"):
        control.load("minimal", fade=-1)


def test_a_scene_change_crossfades_the_generator_inputs(tmp_path, generator, music):
    """Frame k of an N-frame fade is exactly (1 - k/N) * old scene + k/N * new scene."""
    outputs = {}
    for name, fade in (("stay", None), ("cut", 0.0), ("fade", 1.0)):
        control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path, snap_classes=False)
        engine, source = _engine(control, generator, music)
        _play_to(engine, source, 2.0)
        start = len(engine.outputs)
        if fade is not None:
            control.load("minimal", fade=fade)
        _play_to(engine, source, 4.0)
        assert not engine.scene_fade.active  # 2 s later any fade is over
        outputs[name] = engine.outputs
    frames = int(FPS)  # 1 s
    for k in range(1, frames + 1):
        a = k / frames
        for part in range(3):  # classes, noise, truncation
            old, new = outputs["stay"][start + k - 1][part], outputs["cut"][start + k - 1][part]
            blend = (1 - a) * np.asarray(old) + a * np.asarray(new)
            assert np.allclose(outputs["fade"][start + k - 1][part], blend, atol=1e-5)
    after, cut = outputs["fade"][start + frames :], outputs["cut"][start + frames :]
    assert len(after) == len(cut) > 0
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(after, cut, strict=True))
    assert not np.allclose(outputs["stay"][start + frames][0], outputs["cut"][start + frames][0])


def test_freeze_holds_and_blackout_blacks_the_picture(tmp_path, generator, music):
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    engine, source = _engine(control, generator, music)
    frames = []
    engine.subscribe(lambda frame: frames.append((frame.index, frame.pixels)))
    _play_to(engine, source, 1.0)
    assert engine.render_latest() and frames[-1][1].max() > 0
    control.perform("freeze", 0.0)
    _play_to(engine, source, 1.5)
    assert not engine.render_latest() and len(frames) == 1  # nothing new is sent
    control.perform("freeze", 0.0)
    control.perform("blackout", 0.0)
    assert engine.render_latest()
    index, frame = frames[-1]
    assert index == engine.stats.frame and frame.shape == frames[0][1].shape and frame.max() == 0
    control.perform("blackout", 0.0)
    _play_to(engine, source, 5.0)  # long enough for the causal beat tracker to lock
    assert engine.render_latest() and frames[-1][1].max() > 0
    assert engine.stats.beats >= 1 and engine.stats.onsets >= 1


def test_page_messages_reach_masters_actions_and_crossfade(tmp_path, generator, music):
    from visualizer.live.server import LiveServer
    from visualizer.live.sink_page import PageSink

    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    engine, source = _engine(control, generator, music)
    server = LiveServer(engine, control, source=source, page=PageSink())

    def send(message: dict) -> dict:
        return server.handle_message(json.dumps(message))

    assert send({"type": "master", "name": "motion", "value": 0})["masters"]["motion"] == 0.0
    assert send({"type": "crossfade", "seconds": 2.5})["crossfade_s"] == 2.5
    assert send({"type": "action", "action": "blackout"})["blackout"] is True
    state = send({"type": "preset", "name": "minimal", "fade": 0.5})
    assert state["source"] == "minimal" and "minimal" in state["scenes"]
    assert control.take_fade() == 0.5
    assert (
        "master fader 'volume'" in send({"type": "master", "name": "volume", "value": 1})["message"]
    )
    assert "MIDI is off" in send({"type": "learn", "target": "tap"})["message"]
    assert send({"type": "action"})["type"] == "error" and server.bad_messages == 1
    # the beat, launches and input: each refused value is one line, the show goes on
    assert send({"type": "quantize", "value": "bar"})["quantize"] == "bar"
    assert (
        send({"type": "tempo", "name": "beats_per_bar", "value": 3})["beat"]["beats_per_bar"] == 3
    )
    assert send({"type": "tempo", "name": "latency_ms", "value": 40})["beat"]["latency_ms"] == 40
    assert send({"type": "tempo", "name": "bpm", "value": 125})["beat"]["source"] == "tap"
    assert send({"type": "cycle", "bars": 4, "mode": "random"})["cycle"] == {
        "bars": 4,
        "mode": "random",
    }
    assert send({"type": "input", "name": "gain", "value": 2})["input"]["gain"] == 2.0
    for message, words in [
        ({"type": "quantize", "value": "soon"}, "quantize must be one of"),
        ({"type": "tempo", "name": "beats_per_bar", "value": 99}, "beats per bar must be"),
        ({"type": "tempo", "name": "latency_ms", "value": "x"}, "output latency must be"),
        ({"type": "tempo", "name": "source", "value": "link"}, "is not open in this show"),
        ({"type": "tempo", "name": "swing", "value": 1}, "unknown tempo setting 'swing'"),
        ({"type": "cycle", "bars": -1}, "auto-cycle must be 0-64 bars"),
        ({"type": "input", "name": "gain", "value": 1e9}, "gain must be a number 0 to 8"),
        ({"type": "preset", "name": "minimal", "quantize": "later"}, "quantize must be one of"),
        ({"type": "action", "action": "cue", "quantize": 3}, "quantize must be one of"),
    ]:
        reply = send(message)
        assert reply["type"] == "error" and words in reply["message"], (message, reply)
        assert "\n" not in reply["message"]
    assert engine.stats.restarts == 0


def test_osc_plays_actions_and_masters(tmp_path):
    from pythonosc.udp_client import SimpleUDPClient

    from visualizer.live.osc import OscInput

    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)
    osc = OscInput(control, port=0, now=lambda: 1.0)
    osc.start()
    try:
        client = SimpleUDPClient("127.0.0.1", osc.port)
        client.send_message("/visualizer/action", ["blackout"])
        client.send_message("/visualizer/master", ["truncation", 0.5])
        client.send_message("/visualizer/action", ["explode"])  # unknown: refused
        client.send_message("/visualizer/master", ["motion", 9.0])  # out of range: refused
        client.send_message("/visualizer/master", ["motion"])  # no value: refused
        deadline = time.monotonic() + 5
        while osc.received + osc.ignored < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert control.blackout and control.masters["truncation"] == 0.5
        assert control.masters["motion"] == 1.0
        assert osc.received == 2 and osc.ignored == 3
    finally:
        osc.stop()
