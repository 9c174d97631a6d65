"""MIDI: the map file, learn mode and every kind of binding, driven by real mido messages.

Messages are parsed from raw MIDI bytes by mido's own parser and handed to
`MidiInput.handle`, the callback a port calls; a virtual port through the ALSA sequencer is
tested where the machine has one (skipped otherwise, with the reason).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.live_fixtures import write_preset
from visualizer.errors import LiveIOError, MidiMapError
from visualizer.live.control import LiveControl
from visualizer.live.midi_map import Binding, MidiMap, control_value
from visualizer.live.params import parameter_specs
from visualizer.live.show import scene_names

mido = pytest.importorskip("mido", reason="MIDI needs the live extra (mido)")

from visualizer.live.midi import MidiInput, choose_port, list_ports  # noqa: E402

PALETTES_PRESET = """description = "palettes"
seed = 3

[classes]
names = ["tiger", "volcano"]
switch = "sections"
palettes = [["goldfish", "daisy"], ["castle", "valley"]]
"""


def messages(*raw: int) -> list:
    """mido messages parsed from raw MIDI bytes, as a port receives them."""
    parser = mido.Parser()
    parser.feed(bytes(raw))
    return list(parser)


def cc(channel: int, number: int, value: int) -> list:
    return messages(0xB0 | (channel - 1), number, value)


def note_on(channel: int, number: int, velocity: int = 100) -> list:
    return messages(0x90 | (channel - 1), number, velocity)


def play(midi: MidiInput, batch: list) -> None:
    for message in batch:
        midi.handle(message)


@pytest.fixture
def control(tmp_path) -> LiveControl:
    return LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path)


def test_map_file_round_trips_and_names_bad_bindings(tmp_path):
    midi_map = MidiMap([
        Binding("control", 1, 21, "pulse.amount", 0.0, 2.0),
        Binding("control", 16, 0, "master.motion"),
        Binding("note", 10, 36, "tap"),
        Binding("note", 10, 37, "scene:dreamy"),
        Binding("note", 10, 38, "next_scene", quantize="bar"),
    ])  # fmt: skip
    path = midi_map.save(tmp_path / "midi.toml")
    loaded = MidiMap.load(path)
    assert loaded.bindings == midi_map.bindings
    bad = {
        "[[control]]\nchannel = 17\nnumber = 1\ntarget = 'walk.speed'": "channel must be 1-16",
        "[[control]]\nchannel = 1\nnumber = 128\ntarget = 'walk.speed'": "number must be 0-127",
        "[[note]]\nchannel = 1\nnumber = 1\ntarget = 'walk.speed'": "a note triggers an action",
        "[[control]]\nchannel = 1\nnumber = 1\ntarget = 'walk'": "invalid MIDI target 'walk'",
        "[[control]]\nchannel = 1\nnumber = 1\ntarget = 'tap'\nvelo = 3": "unknown key 'velo'",
        "[[control]]\nchannel = 1\nnumber = 1\ntarget = 'scene:../x'": "invalid scene name",
        "[[knob]]\nchannel = 1": "unknown table 'knob'",
        "[[control]\n": "not valid TOML",
        "[[note]]\nchannel = 1\nnumber = 1\ntarget = 'tap'\nquantize = 'soon'": "quantize must be",
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(MidiMapError, match=message) as error:
            MidiMap.load(path)
        assert str(path) in str(error.value)
    with pytest.raises(MidiMapError, match="MIDI map not found: .*missing.toml"):
        MidiMap.load(tmp_path / "missing.toml")


def test_a_knob_on_a_signal_key_sweeps_the_features_of_the_source_it_reads(control):
    specs = {spec["key"]: spec for spec in parameter_specs(control.base)}
    knob = Binding("control", 1, 4, "truncation.feature")
    on_mix = {control_value(knob, cc, specs) for cc in range(128)}
    assert "energy" in on_mix and not any("." in name for name in on_mix)
    bass = {**specs, knob.target: {**specs[knob.target], "value": "bass.energy"}}
    on_bass = {control_value(knob, cc, bass) for cc in range(128)}
    assert "bass.low" in on_bass and all(name.startswith("bass.") for name in on_bass)
    assert len(on_bass) == sum(c.startswith("bass.") for c in specs[knob.target]["choices"])


def test_controls_span_the_range_of_their_target(control):
    midi = MidiInput(control, midi_map=MidiMap([
        Binding("control", 1, 1, "pulse.amount"),  # schema range 0-4
        Binding("control", 1, 2, "walk.speed", 0.0, 2.0),  # the binding's own range
        Binding("control", 1, 3, "truncation.invert"),  # a switch
        Binding("control", 1, 4, "truncation.feature"),  # a choice
        Binding("control", 1, 5, "master.reactivity"),
        Binding("control", 2, 5, "crossfade"),
    ]))  # fmt: skip
    play(midi, cc(1, 1, 127) + cc(1, 2, 127) + cc(1, 3, 100) + cc(1, 5, 0) + cc(2, 5, 127))
    assert control.base.pulse.amount == 4.0 and control.base.walk.speed == 2.0
    assert control.base.truncation.invert is True
    assert control.masters["reactivity"] == 0.0 and control.preset.pulse.amount == 0.0
    assert control.crossfade_s == 10.0
    play(midi, cc(1, 1, 0) + cc(1, 4, 0))
    assert control.base.pulse.amount == 0.0 and control.base.truncation.feature == "energy"
    play(midi, cc(1, 4, 127))
    assert control.base.truncation.feature == "constant"
    play(midi, cc(1, 2, 64))
    assert control.base.walk.speed == pytest.approx(2.0 * 64 / 127, abs=1e-6)
    assert midi.received == 9 and midi.ignored == 0
    # unbound controls, other channels, note-offs and clock ticks change nothing
    version = control.version
    play(midi, cc(3, 1, 50) + messages(0x80, 36, 0) + messages(0xF8) + note_on(1, 60))
    assert control.version == version and midi.ignored == 4


def test_notes_and_buttons_fire_actions(tmp_path):
    path = tmp_path / "look.toml"
    path.write_text(PALETTES_PRESET)
    control = LiveControl(str(path), save_dir=tmp_path, snap_classes=False)
    clock = iter([10.0, 10.5, 11.0])
    midi = MidiInput(control, now=lambda: next(clock), midi_map=MidiMap([
        Binding("note", 10, 36, "tap"),
        Binding("note", 10, 37, "next_palette"),
        Binding("note", 10, 38, "freeze"),
        Binding("control", 1, 64, "blackout"),  # a button that sends CC 127 / 0
        Binding("note", 10, 40, "scene:minimal"),
        Binding("note", 10, 41, "next_scene"),
    ]))  # fmt: skip
    play(midi, note_on(10, 36) + note_on(10, 36) + note_on(10, 36))
    assert control.beat.sources["tap"].bpm == pytest.approx(120.0)
    play(midi, note_on(10, 37))
    assert control.preset.classes.names == ("goldfish", "daisy")
    assert control.preset.classes.palettes == (("castle", "valley"), ("tiger", "volcano"))
    play(midi, note_on(10, 38) + messages(0x89, 38, 0))  # the note-off does not toggle back
    assert control.frozen
    play(midi, cc(1, 64, 127) + cc(1, 64, 120) + cc(1, 64, 0))  # one press, one toggle
    assert control.blackout
    play(midi, note_on(10, 40))
    assert control.source == "minimal"
    play(midi, note_on(10, 41))
    scenes = scene_names(tmp_path)
    assert control.source == scenes[scenes.index("minimal") + 1]
    assert midi.ignored == 1  # the note-off


def test_learn_binds_the_next_control_and_saves_the_map(control, tmp_path):
    path = tmp_path / "maps" / "show.toml"
    path.parent.mkdir()
    midi = MidiInput(control, map_path=path)
    midi.learn("master.motion")
    assert midi.snapshot()["learning"] == "master.motion"
    play(midi, cc(2, 7, 90))  # the learning message binds, it does not set
    assert control.masters["motion"] == 1.0 and midi.snapshot()["learning"] is None
    assert midi.learned == Binding("control", 2, 7, "master.motion")
    play(midi, cc(2, 7, 127))
    assert control.masters["motion"] == 2.0
    assert MidiMap.load(path).bindings == midi.map.bindings
    # a note cannot set a value: learn keeps waiting for a knob
    midi.learn("walk.speed")
    play(midi, note_on(1, 60))
    assert midi.snapshot()["learning"] == "walk.speed"
    play(midi, cc(1, 8, 0))
    play(midi, cc(1, 8, 127))
    assert control.base.walk.speed == 20.0
    # learning a target again moves it; a pad learns an action
    midi.learn("master.motion")
    play(midi, cc(1, 9, 1))
    assert midi.map.find("control", 2, 7) is None
    midi.learn("freeze")
    play(midi, note_on(10, 42))  # binds
    play(midi, note_on(10, 42))  # fires
    assert control.frozen
    assert len(MidiMap.load(path).bindings) == 3  # motion (moved), walk.speed, freeze
    with pytest.raises(MidiMapError, match="invalid MIDI target"):
        midi.learn("nonsense")
    with pytest.raises(MidiMapError, match="cannot set 'classes.names'"):
        midi.learn("classes.names")
    midi.learn("tap")
    midi.learn(None)
    assert midi.snapshot()["learning"] is None


def test_a_binding_the_scene_cannot_take_is_noted_not_fatal(control):
    midi = MidiInput(control, midi_map=MidiMap([
        Binding("control", 1, 1, "classes.names"),  # a list: not something a knob sets
        Binding("control", 1, 2, "nosuch.key"),
        Binding("control", 1, 3, "classes.sensitivity"),
    ]))  # fmt: skip
    play(midi, cc(1, 1, 5) + cc(1, 2, 5) + cc(1, 3, 0) + cc(1, 2, 6) + cc(1, 2, 7))
    assert midi.ignored == 4 and midi.received == 1
    assert len(control.messages) == 2  # a sweep over a bad binding is reported once
    assert control.base.classes.sensitivity == 0.0
    assert any("classes.names" in m for m in control.messages)
    assert any("nosuch.key" in m for m in control.messages)


def _alsa_sequencer() -> str | None:
    """None when a MIDI port can be made here, else why not."""
    if not Path("/dev/snd/seq").exists():
        return "no ALSA sequencer on this machine (/dev/snd/seq is missing: load snd-seq)"
    try:
        list_ports()
    except LiveIOError as error:
        return str(error)
    return None


def test_ports_are_listed_or_the_missing_backend_is_explained():
    reason = _alsa_sequencer()
    if reason is None:
        assert isinstance(list_ports(), list)
    else:
        with pytest.raises(LiveIOError, match="cannot use MIDI here"):
            list_ports()
    with pytest.raises(LiveIOError, match=r"no MIDI input port matches 'korg' \(available: 'a'"):
        choose_port("korg", ["a", "b"])
    assert choose_port("NANO", ["x", "nanoKONTROL2 MIDI 1"]) == "nanoKONTROL2 MIDI 1"


@pytest.mark.skipif(_alsa_sequencer() is not None, reason=str(_alsa_sequencer()))
def test_a_virtual_port_carries_messages_to_the_show(control):
    midi = MidiInput(control, midi_map=MidiMap([Binding("control", 1, 1, "master.motion")]))
    assert midi.open("virtual") == "visualizer" or "visualizer" in midi.port_name
    try:
        name = next(n for n in mido.get_output_names() if "visualizer" in n)
        with mido.open_output(name) as port:
            port.send(mido.Message("control_change", channel=0, control=1, value=127))
            deadline = time.monotonic() + 5
            while control.masters["motion"] != 2.0 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert control.masters["motion"] == 2.0
    finally:
        midi.close()


def test_a_pad_launches_on_its_own_quantisation(tmp_path):
    from visualizer.live.beat import BeatClock

    clock = {"t": 100.0}
    beat = BeatClock(now=lambda: clock["t"])
    for tap in (98.0, 98.5, 99.0, 99.5):  # 120 BPM; beat 4 (bar 2) at 100.0
        beat.tap(tap)
    control = LiveControl(str(write_preset(tmp_path)), save_dir=tmp_path, beat=beat)
    midi = MidiInput(control, midi_map=MidiMap([
        Binding("note", 10, 40, "scene:minimal", quantize="2bars"),
        Binding("note", 10, 41, "scene:dreamy"),  # the surface's choice: now
    ]))  # fmt: skip
    clock["t"] = 100.3
    play(midi, note_on(10, 40))
    assert control.snapshot()["pending"] == {
        "label": "minimal", "quantize": "2bars", "at": "3:1", "scene": "minimal"}  # fmt: skip
    play(midi, note_on(10, 41))
    assert control.source == "dreamy" and control.pending is None  # it replaced the one waiting
