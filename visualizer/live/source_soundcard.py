"""Source ``soundcard`` (``--input DEVICE``): a microphone or line-in (sounddevice over PortAudio).

The audio is pushed: PortAudio's thread queues blocks, ``read()`` takes what arrived since the
last call (`visualizer.live.input_stems.Capture`). The clock is the count of samples captured,
so the visuals follow the sound card's own clock; there is nothing to look ahead to (``lead`` is
ignored). With a channel routing (``--input-stems``) the input opens as many channels as it
routes and each block carries the mix and every stem.

sounddevice is imported only here and only for ``--input``/``--list-devices``: it needs the
PortAudio library (Debian: ``apt-get install libportaudio2``), which a machine that only renders
files does not need.
"""

from __future__ import annotations

import numpy as np

from visualizer.errors import LiveIOError
from visualizer.live.input_stems import Capture, ChannelRouting
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
    """Captures float32 blocks at ``sr`` from ``device`` (an index, a name, or None for the
    default input): one channel, the mix, or the channels ``routing`` names, split into the mix
    and its stems. ``stream=False`` opens no PortAudio stream: the blocks then come from whoever
    calls ``callback`` (a test, with no sound card)."""

    name = "soundcard"

    def __init__(
        self,
        device: str | int | None,
        *,
        sr: int = SAMPLE_RATE,
        routing: ChannelRouting | None = None,
        stream: bool = True,
    ) -> None:
        super().__init__()
        self.sr = int(sr)
        self.received = 0  # samples read so far: the clock
        self.capture = Capture(routing)
        self.stems = routing.names if routing else ()
        channels = routing.channels if routing else 1
        self._stream = self._open(device, channels) if stream else None

    def _open(self, device: str | int | None, channels: int):
        sd = _sounddevice()
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        try:
            return sd.InputStream(
                samplerate=self.sr,
                blocksize=BLOCK,
                device=device,
                channels=channels,
                dtype="float32",
                callback=self.callback,
            )
        except (ValueError, sd.PortAudioError) as error:
            raise LiveIOError(
                f"cannot open audio input {device!r} at {self.sr} Hz with {channels} "
                f"channel(s): {error} (see visualizer live --list-devices)"
            ) from None

    @classmethod
    def open(cls, spec: str) -> SoundcardSource:
        return cls(spec or None)

    def callback(self, data, frames, time_info, status) -> None:
        """PortAudio's callback, on its thread: ``data`` (frames, channels) float32."""
        self.capture.push(data)

    def start(self) -> None:
        if self._stream is not None:
            self._stream.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()

    def clock(self) -> ClockReading:
        return ClockReading(self.received / self.sr, True)

    def read(self, lead: float = 0.0) -> AudioBlock:
        block = self.capture.take()
        self.received += block.samples.size
        return block

    def keep_audio(self) -> None:
        self.capture.keep = True

    def soundtrack(self) -> Soundtrack:
        """Every sample of the mix read since ``keep_audio``."""
        kept = self.capture.kept
        samples = np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)
        return Soundtrack(samples=samples, sr=self.sr)
