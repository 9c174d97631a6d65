"""Sink ``record`` (``--record OUT.mp4``): the frames shown plus the audio heard, in one video.

Frames arrive with their frame index; a frame the render loop dropped is filled with the
previous one, so the video keeps the frame clock and stays in sync with the audio. The sink
holds up to QUEUE_FRAMES frames for its encoding thread: a slow encoder costs recorded frames
(filled the same way, and counted), never render-loop time. At the end the frames are muxed with
the source's soundtrack (``--audio``: the played span of the original file; ``--input``: the
captured samples), into a temporary name renamed when complete.

Signals: the encoder starts with `STOP_SIGNALS` blocked (`shielded`), so a ``systemctl stop``,
which signals every process of the service at once, reaches the show (which then finishes the
recording, `visualizer.live.session.StopSignals`) but not the encoder, which ends when its input
does.
The work folder ``.live-record-XXXX`` beside the output holds a lock for as long as its show
lives; a show killed outright (SIGKILL, a power cut) leaves it behind, and the next recording
into that folder removes it (`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from visualizer.errors import OutputError
from visualizer.live.sink import Frame, Sink, SinkSetup, no_soundtrack

if TYPE_CHECKING:
    import numpy as np

    from visualizer.live.source import Soundtrack

log = logging.getLogger("visualizer")

QUEUE_FRAMES = 64
WORK_PREFIX = ".live-record-"  # the hidden work folder beside the output
OWNER = "owner.lock"  # inside it: locked (flock) while its show lives
ORPHAN_AGE_S = 60.0  # a work folder with no owner lock (an earlier version's) this old is stale
# the signals that end a process unless caught: a show catches them to finish its recording
STOP_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
    if hasattr(signal, name)
)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """`STOP_SIGNALS` blocked in this thread for the block: a process started in it inherits
    them blocked (a signal handler it installs does not unblock them). Signals that come
    meanwhile wait, and are handled when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the work folders that killed shows left in ``folder`` (see the module docstring);
    returns them. A folder whose show still runs, a link, and another user's folder are kept."""
    removed = []
    for path in sorted(folder.glob(WORK_PREFIX + "*")):
        if _orphaned(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _orphaned(path: Path) -> bool:
    import fcntl

    try:
        status = path.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid():
        return False
    try:
        fd = os.open(path / OWNER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return time.time() - status.st_mtime > ORPHAN_AGE_S
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # only a dead show's lock is free
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _work_folder(parent: Path) -> tuple[Path, int]:
    """A new work folder in ``parent`` and the descriptor of its owner lock, held."""
    import fcntl

    folder = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=parent))
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(folder / OWNER, flags, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return folder, fd


class RecordSink(Sink):
    """Writes frames (uint8 (R, R, 3)) at their frame index to ``output``; ``close()`` muxes
    ``soundtrack()`` and returns the path (None when no frame came)."""

    name = "record"
    summary = "a video file, see --record"
    output_choice = False  # chosen by --record FILE
    depth = QUEUE_FRAMES
    close_wait_s = None  # every frame taken is written

    def __init__(
        self,
        output: str | Path,
        *,
        fps: Fraction,
        resolution: int,
        size: tuple[int, int] | None = None,
        overwrite: bool = False,
        soundtrack: Callable[[], Soundtrack | None] = no_soundtrack,
    ) -> None:
        self.output = Path(output)
        if self.output.exists() and not overwrite:
            raise OutputError(f"{self.output} exists (use --overwrite to replace it)")
        if not self.output.parent.is_dir():
            raise OutputError(f"folder of {self.output} does not exist")
        super().__init__()
        self.fps, self.resolution = Fraction(fps), resolution
        self._soundtrack = soundtrack
        for path in remove_leftovers(self.output.parent):
            log.warning("removed %s, the work folder of a recording that was killed", path)
        self._dir, self._owner = _work_folder(self.output.parent)
        from visualizer.rendering.video import SegmentWriter

        self._segment = self._dir / "video.mp4"
        try:
            with shielded():
                self._writer = SegmentWriter(
                    self._segment, resolution=resolution, fps=self.fps, size=size
                )
        except BaseException:
            self._cleanup()
            raise
        self.first_index: int | None = None
        self.last_index: int | None = None
        self._previous: np.ndarray | None = None

    @classmethod
    def open(cls, setup: SinkSetup) -> RecordSink:
        if setup.record is None:
            raise OutputError("a recording needs a file (--record OUT.mp4)")
        return cls(
            setup.record, fps=setup.fps, resolution=setup.resolution, size=setup.record_size,
            overwrite=setup.overwrite, soundtrack=setup.soundtrack,
        )  # fmt: skip

    def send(self, frame: Frame) -> None:
        index, pixels = frame.index, frame.pixels
        if self.last_index is not None and index <= self.last_index:
            return  # the track was sought back: keep the recording continuous
        if self.last_index is None:
            self.first_index = index
        elif self._previous is not None:
            for _ in range(index - self.last_index - 1):  # dropped frames: hold the picture
                self._writer.write(self._previous[None])
        self._writer.write(pixels[None])
        self._previous, self.last_index = pixels, index

    def release(self) -> Path | None:
        from visualizer.rendering.video import concat_and_mux

        try:
            if self.first_index is None or self.last_index is None:
                self._writer.abort()
                return None
            self._writer.close()
            start = float(self.first_index / self.fps)
            duration = float((self.last_index - self.first_index + 1) / self.fps)
            concat_and_mux(
                [self._segment], self.output, audio=self._audio_file(), audio_start=start,
                audio_duration=duration,
            )  # fmt: skip
            if self.dropped:
                log.warning(
                    "recording: %d frames held because the encoder fell behind", self.dropped
                )
            return self.output
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
        os.close(self._owner)  # after the removal: the next show never sees a live folder free

    def _audio_file(self) -> Path | None:
        """The soundtrack as a file: the track itself, or the captured samples written out."""
        soundtrack = self._soundtrack()
        if soundtrack is None or soundtrack.samples is None or not soundtrack.sr:
            return soundtrack.file if soundtrack is not None else None
        import numpy as np
        import soundfile

        path = self._dir / "input.wav"
        soundfile.write(path, np.asarray(soundtrack.samples, dtype=np.float32), soundtrack.sr)
        return path

    def describe(self) -> str:
        return f"recording to {self.output}"
