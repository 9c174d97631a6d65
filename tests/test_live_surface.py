"""The performing surface in a real headless Chromium: scenes with a crossfade, master faders,
keys, freeze and blackout, themes, the beat lamp and MIDI learn act on the engine; a screenshot
of the surface goes to the test artefacts ($VISUALIZER_TEST_ARTIFACTS, else pytest's tmp)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from tests.live_fixtures import BROWSER_MARKS, browser_page, live_session, wait_until

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-surface")
    session, _ = live_session(folder, seconds=40.0)
    mido = pytest.importorskip("mido")
    from visualizer.live.midi import MidiInput

    # a MIDI input without a port (none here): the test hands it messages as a port would
    session.midi = session.server.midi = MidiInput(
        session.control, map_path=folder / "midi.map.toml"
    )
    session.start()
    yield session, mido
    session.close()


@pytest.fixture(scope="module")
def page(live):
    with browser_page(live[0].server.url, 1200, 900) as page:
        page.click("#toggle")
        yield page


def _canvas_max(page) -> int:
    return page.evaluate(
        "Math.max(...document.getElementById('view').getContext('2d')"
        ".getImageData(0, 0, 1200, 900).data.filter((_, i) => i % 4 != 3 && i % 89 == 0))"
    )


def test_scene_buttons_switch_with_the_crossfade_time(live, page):
    session, _ = live
    wait_until(lambda: page.locator("#scenes button").count() > 3, what="scene buttons")
    (session.control.save_dir / "midi.map.toml").write_text("")  # a MIDI map is not a scene
    assert "midi.map" not in session.server.state()["scenes"]
    assert page.locator("#scenes button", has_text="minimal").count() == 1
    page.locator("#crossfade").fill("1.5")
    wait_until(lambda: session.control.crossfade_s == 1.5, what="crossfade time")
    wait_until(lambda: session.engine.stats.frame > 10, what="frames")
    page.locator("#scenes button", has_text="minimal").click()
    wait_until(lambda: session.control.source == "minimal", what="scene change")
    wait_until(lambda: session.engine.scene_fade.active, timeout=5, what="the crossfade to start")
    wait_until(lambda: not session.engine.scene_fade.active, what="the crossfade to end")
    assert session.engine.mapper.preset.description == session.control.base.description
    button = page.locator("#scenes button", has_text="minimal")
    wait_until(lambda: "active" in button.get_attribute("class"), what="the active scene lit")


def test_master_faders_reach_the_renderer(live, page):
    session, _ = live
    page.locator("input[name='master.motion']").fill("0")
    wait_until(lambda: session.engine.mapper.preset.walk.speed == 0.0, what="motion master at 0")
    assert session.control.masters["motion"] == 0.0 and session.control.base.walk.speed > 0
    page.locator("input[name='master.motion']").dblclick()  # back to 1
    wait_until(lambda: session.control.masters["motion"] == 1.0, what="motion master reset")


def test_keys_tap_freeze_and_black_out(live, page):
    session, _ = live
    shortcuts = page.inner_text("#shortcuts")
    for key in ("t / space", "1 - 9", "p", "z", "b", "l", "f", "h"):
        assert key in shortcuts
    page.locator("#view").click(position={"x": 5, "y": 5})  # keys go to the page, not a field
    for _ in range(4):
        page.keyboard.press("t")
        time.sleep(0.45)
    wait_until(lambda: session.control.beat.sources["tap"].bpm > 0, what="tapped tempo")
    wait_until(lambda: page.evaluate("window.surface.beats") > 0, what="the beat lamp")
    page.keyboard.press("b")
    wait_until(lambda: session.control.blackout, what="blackout")
    wait_until(lambda: _canvas_max(page) < 8, what="a black picture")
    assert "BLACKOUT" in page.inner_text("#flags")
    page.keyboard.press("b")
    wait_until(lambda: _canvas_max(page) > 30, what="the picture back")
    page.keyboard.press("z")
    wait_until(lambda: session.control.frozen, what="freeze")
    time.sleep(0.5)  # a frame already in the generator when the key came still finishes
    rendered = session.engine.stats.rendered
    time.sleep(1.0)
    assert session.engine.stats.rendered == rendered and "FROZEN" in page.inner_text("#flags")
    page.click("#freeze")
    wait_until(lambda: session.engine.stats.rendered > rendered, what="rendering after freeze")


def test_theme_picker_sets_the_classes(live, page):
    session, _ = live
    page.fill("#theme-search", "cats")
    buttons = page.locator("#themes button")
    wait_until(lambda: buttons.count() >= 1, what="filtered themes")
    for i in range(buttons.count()):
        text = buttons.nth(i).inner_text() + (buttons.nth(i).get_attribute("title") or "")
        assert "cat" in text.lower()
    page.locator("#themes button[data-theme='big-cats']").click()
    wait_until(
        lambda: session.control.overrides.get("classes.names") == "big-cats", what="theme set"
    )
    wait_until(lambda: session.engine.mapper.preset.classes.names == ("big-cats",), what="snapped")


def test_midi_learn_from_the_page(live, page):
    session, mido = live
    page.click("#learn")
    page.click("input[name='master.reactivity']", position={"x": 5, "y": 5})  # far from x1
    wait_until(lambda: session.midi.snapshot()["learning"] == "master.reactivity", what="armed")
    time.sleep(0.3)
    assert session.control.masters["reactivity"] == 1.0  # learning touches, it does not set
    session.midi.handle(mido.Message("control_change", channel=3, control=74, value=10))
    wait_until(
        lambda: "CC 74 ch 4 -> master.reactivity" in page.inner_text("#bindings"), what="bound"
    )
    assert "bound" in page.inner_text("#learn-status")
    page.keyboard.press("Escape")
    session.midi.handle(mido.Message("control_change", channel=3, control=74, value=127))
    wait_until(
        lambda: session.control.masters["reactivity"] == 2.0, what="the knob drives the master"
    )
    slider = page.locator("input[name='master.reactivity']")
    wait_until(lambda: slider.input_value() == "2", what="the page's fader follows the knob")
    assert (Path(session.midi.map_path)).read_text().count("[[control]]") == 1


def test_advanced_keeps_every_key_and_a_screenshot_is_kept(live, page, tmp_path_factory):
    session, _ = live
    page.click("#advanced summary")
    slider = page.locator("input[name='classes.sensitivity']")
    slider.fill("6")
    wait_until(lambda: session.engine.mapper.preset.classes.sensitivity == 6.0, what="advanced key")
    page.click("#advanced summary")
    folder = Path(os.environ.get("VISUALIZER_TEST_ARTIFACTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "live-surface.png"
    page.screenshot(path=str(path))
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[:2] == (900, 1200) and image.std() > 10
