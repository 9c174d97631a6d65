"""Source ``soundcard`` (``--input DEVICE``): a microphone or line-in (sounddevice over PortAudio).

The audio is pushed: PortAudio's thread queues blocks, ``read()`` takes what arrived since the
last call. The clock is the count of samples captured, so the visuals follow the sound card's
own clock; there is nothing to look ahead to (``lead`` is ignored).

sounddevice is imported only here and only for ``--input``/``--list-devices``: it needs the
PortAudio library (Debian: ``apt-get install libportaudio2``), which a machine that only renders
files does not need.
"""

from __future__ import annotations

import queue

import numpy as np

from visualizer.errors import LiveIOError
from visualizer.live.source import SAMPLE_RATE, AudioBlock, ClockReading, Soundtrack, Source

BLOCK = 256  # samples per callback: ~12 ms at 22.05 kHz, well under one frame


def _sounddevice():
    try:
        import sounddevice
    except (ImportError, OSError) as error:
        raise LiveIOError(
            "live audio input needs sounddevice and the PortAudio library "
            f"(pip install 'visualizer[live]'; Debian: apt-get install libportaudio2): {error}"
        ) from None
    return sounddevice


def list_devices() -> list[tuple[int, str, int, float]]:
    """Input devices as (index, name, input channels, default sample rate)."""
    sd = _sounddevice()
    return [
        (i, d["name"], int(d["max_input_channels"]), float(d["default_samplerate"]))
        for i, d in enumerate(sd.query_devices())
        if d["max_input_channels"] > 0
    ]


class SoundcardSource(Source):
    """Captures mono float32 blocks at ``sr`` from ``device`` (an index, a name, or None for
    the default input)."""

    name = "soundcard"

    def __init__(self, device: str | int | None, *, sr: int = SAMPLE_RATE) -> None:
        super().__init__()
        sd = _sounddevice()
        self.sr = int(sr)
        self.received = 0  # samples read so far: the clock
        self._keep = False  # keep every block (for a recording)
        self._kept: list[np.ndarray] = []
        self._queue: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        try:
            self._stream = sd.InputStream(
                samplerate=self.sr,
                blocksize=BLOCK,
                device=device,
                channels=1,
                dtype="float32",
                callback=self._callback,
            )
        except (ValueError, sd.PortAudioError) as error:
            raise LiveIOError(
                f"cannot open audio input {device!r} at {self.sr} Hz: {error} "
                "(see visualizer live --list-devices)"
            ) from None

    @classmethod
    def open(cls, spec: str) -> SoundcardSource:
        return cls(spec or None)

    def _callback(self, data, frames, time_info, status) -> None:  # PortAudio thread
        self._queue.put(data[:, 0].copy())

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()

    def clock(self) -> ClockReading:
        return ClockReading(self.received / self.sr, True)

    def read(self, lead: float = 0.0) -> AudioBlock:
        blocks = []
        while True:
            try:
                blocks.append(self._queue.get_nowait())
            except queue.Empty:
                break
        block = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
        self.received += block.size
        if self._keep and block.size:
            self._kept.append(block)
        return AudioBlock(block)

    def keep_audio(self) -> None:
        self._keep = True

    def soundtrack(self) -> Soundtrack:
        """Every sample read since ``keep_audio``."""
        samples = np.concatenate(self._kept) if self._kept else np.zeros(0, dtype=np.float32)
        return Soundtrack(samples=samples, sr=self.sr)
