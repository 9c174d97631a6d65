"""Live mode in a real headless Chromium (Playwright driving Debian's /usr/bin/chromium).

The page plays the generated track in its <audio> element (autoplay allowed by a flag) and the
server renders on that clock; the tests watch frames arrive and follow the audio, steer a slider
in the page and an OSC message, send garbage, and compare the live Timeline with the offline
causal one.
"""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np
import pytest

from tests.fixtures_audio import SR
from tests.live_fixtures import BROWSER_MARKS, FPS, browser_page, live_session, wait_until
from visualizer.analysis.causal import analyze_causal
from visualizer.live.engine import causal_timeline

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-browser")
    session, samples = live_session(folder, seconds=20.0, osc_port=0, keep_timeline=True)
    session.start()
    yield session, samples
    session.close()


@pytest.fixture(scope="module")
def page(live):
    with browser_page(live[0].server.url, 640, 480) as page:
        yield page


def _state(session) -> dict:
    with urllib.request.urlopen(session.server.url + "state", timeout=10) as response:
        return json.loads(response.read())


def test_frames_arrive_and_follow_the_audio_clock(live, page):
    session, samples = live
    wait_until(lambda: page.evaluate("window.live.frames") >= 5, what="frames in the page")
    pixels = "Array.from(document.getElementById('view').getContext('2d')" \
        ".getImageData(0, 0, 640, 480).data.filter((_, i) => i % 97 == 0))"  # fmt: skip
    first = np.array(page.evaluate(pixels))
    # read together, in one script: two round trips to a loaded browser add their gap
    header, current = page.evaluate(
        "[window.live.lastHeader, document.getElementById('audio').currentTime]"
    )
    assert not page.evaluate("document.getElementById('audio').paused")
    # the frame shown belongs to the time the audio element is playing (within half a second)
    assert abs(current - header["t"]) < 0.5, (current, header)
    time.sleep(1.0)
    later = page.evaluate("window.live.lastHeader")
    assert later["index"] > header["index"]
    assert not np.array_equal(first, np.array(page.evaluate(pixels)))  # the picture changed
    assert page.evaluate("document.getElementById('fps').textContent").endswith("fps")
    assert "dropped" in page.evaluate("document.getElementById('dropped').textContent")
    # pause the track: the visuals stop with it
    page.evaluate("document.getElementById('audio').pause()")
    time.sleep(0.5)
    paused_at = session.engine.stats.frame
    time.sleep(0.8)
    assert session.engine.stats.frame == paused_at
    page.evaluate("document.getElementById('audio').play()")
    wait_until(lambda: session.engine.stats.frame > paused_at + 3, what="frames after resume")
    # everything played so far was mapped exactly as the offline causal analysis maps it
    n = len(session.engine.outputs)
    offline = causal_timeline(
        analyze_causal(samples, SR, FPS)[:n], session.control.preset, seed=7, fps=FPS
    )
    assert np.array_equal(session.engine.timeline().noise[:n], offline.noise)
    assert np.array_equal(session.engine.timeline().class_vectors[:n], offline.class_vectors)


def test_slider_in_the_page_changes_what_the_renderer_uses(live, page):
    session, _ = live
    page.click("#toggle")
    page.click("#advanced summary")  # every key of the scene is under "advanced"
    slider = page.locator("input[name='truncation.max']")
    slider.fill("0.55")  # sets the value and fires input
    wait_until(lambda: session.engine.mapper.preset.truncation.max == 0.55, what="slider change")
    wait_until(
        lambda: session.engine._latest[3] <= 0.55, what="a frame mapped with the new truncation"
    )
    assert _state(session)["overrides"]["truncation.max"] == "0.55"


def test_osc_message_changes_what_the_renderer_uses(live, page):
    from pythonosc.udp_client import SimpleUDPClient

    session, _ = live
    client = SimpleUDPClient("127.0.0.1", session.osc.port)
    client.send_message("/visualizer/set", ["walk.speed", 0.0])
    client.send_message("/visualizer/bogus", [1, 2])
    wait_until(lambda: session.engine.mapper.preset.walk.speed == 0.0, what="OSC change")
    assert _state(session)["params"] and session.osc.ignored >= 1


def test_malformed_messages_are_ignored_and_frames_keep_coming(live, page):
    session, _ = live
    before = session.server.bad_messages
    page.evaluate(
        """() => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.onopen = () => { ws.send('{{{'); ws.send('{"type": 5}'); ws.send(new Uint8Array([1, 2]));
                            ws.send('{"type": "clock", "t": -4}'); };
    }"""
    )
    wait_until(lambda: session.server.bad_messages >= before + 4, what="malformed messages counted")
    frames = page.evaluate("window.live.frames")
    wait_until(
        lambda: page.evaluate("window.live.frames") > frames + 3, what="frames after garbage"
    )


def test_class_search_and_save_from_the_page(live, page):
    session, _ = live
    page.fill("#search", "goldfi")
    page.locator("#results li", has_text="goldfish").first.click()
    wait_until(
        lambda: "goldfish" in session.control.overrides.get("classes.names", ""), what="pick"
    )
    # the class change waits for a beat (or the snap timeout), then the mapper has it
    wait_until(
        lambda: "goldfish" in session.engine.mapper.preset.classes.names, what="snapped change"
    )
    page.fill("#savename", "../outside")
    page.click("#save")
    wait_until(lambda: "invalid preset name" in page.inner_text("#message"), what="refusal")
    page.fill("#savename", "stage-look")
    page.click("#save")
    saved = session.control.save_dir / "stage-look.toml"
    wait_until(saved.exists, what="saved preset")
    assert "goldfish" in saved.read_text()
