"""Live audio input from a microphone or line-in (sounddevice over PortAudio).

sounddevice is imported only here and only for ``--input``/``--list-devices``: it needs the
PortAudio library (Debian: ``apt-get install libportaudio2``), which a machine that only renders
files does not need.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from visualizer.errors import VisualizerError

SAMPLE_RATE = 22050
BLOCK = 256  # samples per callback: ~12 ms at 22.05 kHz, well under one frame


def _sounddevice():
    try:
        import sounddevice
    except (ImportError, OSError) as error:
        raise VisualizerError(
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


class InputSource:
    """Captures mono float32 blocks; ``read()`` returns what arrived since the last call.

    The clock is the count of samples captured (``received / sr``), so the visuals follow the
    sound card's own clock.
    """

    def __init__(self, device: str | int | None, *, sr: int = SAMPLE_RATE) -> None:
        sd = _sounddevice()
        self.sr = int(sr)
        self.received = 0
        self.keep = False  # keep every block (for --record)
        self._kept: list[np.ndarray] = []
        self._queue: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        self._lock = threading.Lock()
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
            raise VisualizerError(
                f"cannot open audio input {device!r} at {self.sr} Hz: {error} "
                "(see visualizer live --list-devices)"
            ) from None

    def _callback(self, data, frames, time_info, status) -> None:  # PortAudio thread
        self._queue.put(data[:, 0].copy())

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()

    def read(self) -> np.ndarray:
        blocks = []
        while True:
            try:
                blocks.append(self._queue.get_nowait())
            except queue.Empty:
                break
        block = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
        self.received += block.size
        if self.keep and block.size:
            self._kept.append(block)
        return block

    def captured(self) -> np.ndarray:
        """Every sample read so far (only while ``keep`` is set)."""
        return np.concatenate(self._kept) if self._kept else np.zeros(0, dtype=np.float32)
