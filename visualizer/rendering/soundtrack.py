"""The soundtrack: the original track's audio in the video's window, encoded once.

A render encodes its soundtrack at the start, in a process of its own beside the segment
encoders, into the work folder (`SoundtrackEncode`); the final mux then copies it (``-c:a
copy``) instead of encoding an hour of audio after the last frame. The file's name holds what
decides its content (`soundtrack_name`: the track's path, size and modification time, the
window and the codec arguments), so a resume reuses a finished soundtrack and a changed track
is encoded again.

The audio is read from the original file (never the analysis copy), trimmed sample-accurately
to [start, start + duration) while it is encoded, as AAC at 320 kb/s in an MPEG-4 audio file
(MP4, MOV and Matroska hold it; MP4 players do not all accept the source's codec), or for a WebM
video as Opus in an Ogg file (`visualizer.rendering.codecs.audio_args`). Decoded, the copied
soundtrack equals the one a single trim-and-encode mux made.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from pathlib import Path

from visualizer.content import text_sha256
from visualizer.errors import RenderError
from visualizer.ffmpeg import ffmpeg_exe
from visualizer.files import publish, temporary_path
from visualizer.rendering.codecs import AUDIO_ARGS, OPUS_ARGS
from visualizer.rendering.video import lower_priority

PREFIX, SUFFIX = "soundtrack-", ".m4a"
# The audio file of each soundtrack codec: suffix and muxer.
FILES: dict[tuple[str, ...], tuple[str, str]] = {
    AUDIO_ARGS: (SUFFIX, "mp4"),
    OPUS_ARGS: (".ogg", "ogg"),
}


def soundtrack_name(
    track: Path, start: float, duration: float, audio: tuple[str, ...] = AUDIO_ARGS
) -> str:
    """``soundtrack-KEY.m4a`` (``.ogg`` for Opus): KEY hashes what decides the content (a
    rewritten track has a new modification time, so a resume after a change encodes it again)."""
    stat = Path(track).stat()
    key = "|".join(
        (
            str(Path(track).resolve()),
            str(stat.st_size),
            str(stat.st_mtime_ns),
            f"{start:.6f}",
            f"{duration:.6f}",
            *audio,
        )
    )
    return f"{PREFIX}{text_sha256(key)[:16]}{FILES[audio][0]}"


def stale_soundtracks(folder: Path, keep: str) -> list[Path]:
    """Soundtracks in ``folder`` other than ``keep`` (a changed track's), and left-over drafts."""
    found = [p for suffix, _ in FILES.values() for p in Path(folder).glob(f"*{PREFIX}*{suffix}*")]
    return [p for p in found if p.name != keep]


class SoundtrackEncode:
    """``track``[start, start + duration) encoded into ``path`` by one ffmpeg process.

    Starts at once and runs beside whatever the caller does; a thread renames the draft into
    place when ffmpeg succeeds, so the finished file is kept for a resume even when nobody
    waits for it. A ``path`` that exists already is used as it is. `result` waits and returns
    the path (RenderError if ffmpeg failed); `stop` ends an encode still running.
    """

    def __init__(
        self,
        track: Path,
        path: Path,
        *,
        start: float,
        duration: float,
        audio: tuple[str, ...] = AUDIO_ARGS,
    ) -> None:
        self.path = Path(path)
        self._error: str | None = None
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        if self.path.is_file():
            return
        self._tmp = temporary_path(self.path)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the waiting thread)
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
        if start > 0:
            cmd += ["-ss", f"{start:.6f}"]
        cmd += ["-t", f"{duration:.6f}", "-i", str(Path(track).absolute())]
        cmd += ["-map", "0:a:0", "-vn", *audio, "-f", FILES[audio][1], str(self._tmp)]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,  # a Ctrl-C reaches Python, which stops it
        )
        lower_priority(self._proc.pid)
        self._thread = threading.Thread(target=self._wait, name="visualizer-soundtrack")
        self._thread.daemon = True
        self._thread.start()

    def _wait(self) -> None:
        assert self._proc is not None  # the thread runs only for a started encode
        code = self._proc.wait()
        if code == 0:
            publish(self._tmp, self.path)
        else:
            self._log.seek(0)
            lines = self._log.read().decode(errors="replace").strip().splitlines()
            self._error = lines[-1] if lines else f"ffmpeg exited with status {code}"
            self._tmp.unlink(missing_ok=True)
        self._log.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def result(self) -> Path:
        """Wait for the encode; the finished file, or RenderError naming ffmpeg's message."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise RenderError(f"encoding the soundtrack failed: {self._error}")
        return self.path

    def stop(self) -> None:
        """End the encode if it is still running (its draft is removed); a finished one stays."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._proc.kill()
        if self._thread is not None:
            self._thread.join()
