"""Stems from a sound card: a multichannel input whose channels carry the parts of the music.

A mixer or an interface that sends each part on its own channels (8 channels as 4 stereo stems)
is routed with ``--input-stems drums=1-2,bass=3-4,vocals=5-6,other=7-8``: NAME=CHANNELS with the
channels counted from 1, a range or one channel (``bass=3``), NAME one of
`visualizer.options.STEMS`, or ``mix`` for the channels of the whole mix (a master bus). Without
``mix`` the mix is the sum of the stems: a mixer's stems add up to its master. Each source is
the mean of its channels (mono), as the analysis reads every file.

`Capture` is the reading side of the sound card: its callback pushes blocks of (n, channels)
samples, ``take`` hands out everything that came since as one `AudioBlock` - the mix, and each
stem over the very same samples - so the engine analyses every source at the same clock position.
"""

from __future__ import annotations

import queue
import re
from dataclasses import dataclass

import numpy as np

from visualizer.errors import StemError
from visualizer.live.source import EMPTY, AudioBlock
from visualizer.options import STEMS

MAX_CHANNELS = 64
_CHANNELS = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class ChannelRouting:
    """Which channels (0-based) make each stem and the mix (() = the sum of the stems)."""

    stems: tuple[tuple[str, tuple[int, ...]], ...]
    mix: tuple[int, ...] = ()

    @property
    def channels(self) -> int:
        """The channels to open: up to the highest one routed."""
        used = [c for _, chans in self.stems for c in chans] + list(self.mix)
        return max(used) + 1

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.stems)

    def split(self, data: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(mix (n,), {stem: (n,)}) of ``data`` (n, channels), mono float32 each."""
        stems = {
            name: data[:, list(chans)].mean(axis=1, dtype=np.float32) for name, chans in self.stems
        }
        if self.mix:
            mix = data[:, list(self.mix)].mean(axis=1, dtype=np.float32)
        else:
            mix = np.sum(list(stems.values()), axis=0, dtype=np.float32)
        return mix, stems


def parse_routing(text: str) -> ChannelRouting:
    """``--input-stems`` (see the module's docstring) as a `ChannelRouting`; StemError names
    the bad part and what is valid."""
    routed: dict[str, tuple[int, ...]] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, spec = (s.strip() for s in part.partition("="))
        if name not in ("mix", *STEMS):
            raise StemError(
                f"--input-stems: unknown stem {name!r} in {part!r}: use mix or one of "
                f"{', '.join(STEMS)}, as NAME=CHANNELS (drums=1-2)"
            )
        match = _CHANNELS.match(spec)
        first = int(match.group(1)) if match else 0
        last = int(match.group(2) or first) if match else 0
        if not match or not 1 <= first <= last <= MAX_CHANNELS:
            raise StemError(
                f"--input-stems: {part!r}: channels are N or N-M, counted from 1, at most "
                f"{MAX_CHANNELS} (drums=1-2, bass=3)"
            )
        if name in routed:
            raise StemError(f"--input-stems routes {name} twice")
        routed[name] = tuple(range(first - 1, last))
    mix = routed.pop("mix", ())
    if not routed:
        raise StemError("--input-stems routes no stem: give NAME=CHANNELS, e.g. drums=1-2,bass=3-4")
    return ChannelRouting(tuple((n, routed[n]) for n in STEMS if n in routed), mix)


class Capture:
    """Blocks pushed by the sound card's thread, taken by the render loop in order.

    Without a routing the input is one channel: the mix. ``keep`` keeps every mix sample
    taken (a recording's soundtrack)."""

    def __init__(self, routing: ChannelRouting | None = None) -> None:
        self.routing = routing
        self.keep = False
        self.kept: list[np.ndarray] = []
        self._queue: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()

    def push(self, data: np.ndarray) -> None:
        """Queue one block (n, channels) of float32 samples (from the PortAudio thread)."""
        self._queue.put(np.array(data, dtype=np.float32, copy=True))

    def take(self) -> AudioBlock:
        """Everything pushed since the last call: the mix and, routed, each stem."""
        blocks = []
        while True:
            try:
                blocks.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not blocks:
            names = self.routing.names if self.routing else ()
            return AudioBlock(EMPTY, stems={name: EMPTY for name in names})
        data = np.concatenate(blocks)
        stems: dict[str, np.ndarray] = {}
        if self.routing is None:
            mix = data[:, 0].copy()
        else:
            mix, stems = self.routing.split(data)
        if self.keep:
            self.kept.append(mix)
        return AudioBlock(mix, stems=stems)
