"""Tempo source ``link`` (``--tempo link[:BPM]``): an Ableton Link session on the local network.

Optional: it needs the ``link`` extra (``pip install ".[link]"``, the ``aalink`` package). aalink
and the Link library it wraps are GPL-licensed, so they are never a core dependency: install the
extra only where that licence suits how you use and share the program.

Link peers share a tempo and a beat timeline and align the *phase within the quantum* (beats per
bar), not beat numbers. Any peer may change the tempo: x2, /2 and a tempo set here reach every
peer, and beats per bar sets the quantum. Link lines up the moment beats are *heard*; live mode
asks for the grid at each frame's display time plus the output latency
(`visualizer.live.beat.BeatClock`), so the picture is computed for the moment it is seen. Cue and
nudge are refused while Link leads: the phase belongs to the session.

The session object is anything with aalink's ``Link`` attributes (``beat``, ``tempo``,
``quantum``, ``enabled``, ``num_peers``); tests hand in a fake session with Link's semantics, so
they send nothing on the network.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

from visualizer.errors import LiveIOError
from visualizer.live.tempo import Grid, TempoSource, check_bpm

DEFAULT_BPM = 120.0


class LinkTempo(TempoSource):
    name = "link"
    summary = "Ableton Link (optional extra: pip install '.[link]', GPL)"
    owns_tempo = True
    shares_phase = True

    def __init__(self, link: Any, *, clock=time.monotonic) -> None:
        self.link = link  # an aalink.Link (or a session with its attributes)
        self._clock = clock  # the time base of the ``at`` the beat clock asks for
        self._lock = threading.Lock()

    @classmethod
    def open(cls, spec: str) -> LinkTempo:
        """A Link session joined at ``spec`` BPM (default 120; the session's tempo wins)."""
        import asyncio

        bpm = check_bpm(spec) if spec else DEFAULT_BPM
        try:
            import aalink
        except ImportError as error:
            raise LiveIOError(
                "--tempo link needs the optional link extra: pip install '.[link]' "
                f"(aalink, GPL-licensed): {error}"
            ) from None
        # aalink wants an event loop for its awaitable syncs, which live mode does not use; 0.2
        # deprecates passing one but still needs it outside a running loop
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            link = aalink.Link(bpm, asyncio.new_event_loop())
        link.quantum = 4
        link.enabled = True
        return cls(link)

    def stop(self) -> None:
        self.link.enabled = False

    def reading(self, at: float) -> Grid | None:
        with self._lock:
            beat, bpm = float(self.link.beat), float(self.link.tempo)
            now = self._clock()
        if bpm <= 0:
            return None
        return Grid(beat + (at - now) * bpm / 60.0, bpm, True)

    def scale_tempo(self, factor: float, at: float) -> None:
        self.set_tempo(float(self.link.tempo) * factor, at)

    def set_tempo(self, bpm: float, at: float) -> None:
        bpm = check_bpm(bpm)
        with self._lock:
            self.link.tempo = bpm  # Link keeps the beat continuous and tells the peers

    def set_beats_per_bar(self, beats: int) -> None:
        with self._lock:
            self.link.quantum = beats

    def snapshot(self) -> dict[str, Any]:
        return {"peers": int(self.link.num_peers)}
