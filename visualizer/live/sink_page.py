"""Sink ``page``: the frames the browser shows, over the live server's WebSocket (always on).

Each frame goes out as one binary message: a 4-byte big-endian header length, a JSON header
``{index, t, dropped, render_fps, render_ms, latency_ms, version, beats, onsets, bpm, beat, fade,
bar, beat_in_bar, playing}`` (the beat is the frame's, as heard when it is seen; ``fade`` the
scene crossfade's progress 0-1, -1 for none), then the JPEG. Each page has ONE latest-frame
slot: a new frame replaces an unsent one (counted in the page's and this sink's ``dropped``), so
a slow or stalled page never queues frames nor slows the render loop. The server's event loop is
this sink's sending thread: `LiveServer` binds it (``bind``) and runs one ``feed`` task per
connected page.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

from visualizer.live.sink import Frame, Sink, SinkSetup

# header numbers: decimals kept
ROUNDED = {"render_fps": 2, "render_ms": 1, "latency_ms": 1, "bpm": 2, "beat": 3, "fade": 2}
# header numbers that are counts
COUNTS = ("dropped", "version", "beats", "onsets", "bar", "beat_in_bar", "playing")


class Page:
    """One connected page: its WebSocket connection and its latest-frame slot."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection  # a websockets ServerConnection (anything with ``send``)
        self.slot: tuple[dict[str, Any], bytes] | None = None
        self.ready = asyncio.Event()
        self.dropped = 0  # frames replaced in the slot before this page took them


class PageSink(Sink):
    name = "page"
    summary = "the page's own picture"
    output_choice = False  # always on
    depth = 0  # ``send`` only hands the frame to the server's event loop

    def __init__(self) -> None:
        super().__init__()
        self.pages: set[Page] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def open(cls, setup: SinkSetup) -> PageSink:
        return cls()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the pages are served from (the server calls this when it runs)."""
        self._loop = loop

    def send(self, frame: Frame) -> None:
        """On the render thread: hand the frame to the loop, never wait."""
        if self._loop is None or not self.pages:
            return
        header: dict[str, Any] = {"index": frame.index, "t": frame.t}
        header.update({key: round(frame.info[key], n) for key, n in ROUNDED.items()})
        header.update({key: int(frame.info[key]) for key in COUNTS})
        self._loop.call_soon_threadsafe(self.publish, header, frame.jpeg)

    def publish(self, header: dict[str, Any], jpeg: bytes) -> None:
        """On the loop: put the frame in every page's slot."""
        for page in self.pages:
            if page.slot is not None:
                page.dropped += 1
                self.dropped += 1
            page.slot = (header, jpeg)
            page.ready.set()

    def join(self, connection: Any) -> Page:
        page = Page(connection)
        self.pages.add(page)
        return page

    def leave(self, page: Page) -> None:
        self.pages.discard(page)

    async def feed(self, page: Page) -> None:
        """On the loop, one task per page: send its slot's frame whenever one is there."""
        while True:
            await page.ready.wait()
            page.ready.clear()
            if page.slot is None:
                continue
            header, jpeg = page.slot
            page.slot = None
            head = json.dumps({**header, "dropped": header["dropped"] + page.dropped}).encode()
            await page.connection.send(struct.pack(">I", len(head)) + head + jpeg)
