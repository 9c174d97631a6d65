"""Verified downloads into the cache: the one path every downloaded weight takes.

The BigGAN-deep checkpoints (`visualizer.model.registry`), and any other published weights the
tool fetches on first use (a beat tracker, an upscaler), arrive the same way:

- one process per file holds its lock (`download_lock`; released by the system if the holder
  dies) and downloads into a staging folder of its own (`staging`), the others wait and then
  find the finished file;
- a transfer is bounded (`fetch_url`): at most its known size (exact with a published sha256,
  +25 % otherwise, `MAX_DOWNLOAD_BYTES` when unknown), at least `STALL_BYTES` every
  `STALL_SECONDS`, `DEADLINE_SECONDS` in all; a cut-off transfer keeps its bytes for the next
  run to resume with a Range request, one beyond the bound is deleted;
- a file takes its final name only after its size, sha256 (when published) and a full load
  (the caller's ``verify``) have been checked, so a file in the cache is always finished.

`RemoteFile` and `fetch_file` serve a single published file; the registry builds the two-file
BigGAN-deep download from the same pieces.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from visualizer import __version__
from visualizer.content import cache_dir, file_sha256
from visualizer.errors import DownloadError, WeightsError
from visualizer.files import publish
from visualizer.progress import ProgressCallback, report

log = logging.getLogger("visualizer")

MIRRORS_ENV = "VISUALIZER_WEIGHTS_URL"  # comma-separated base URLs tried before the built-ins
CHUNK = 1 << 20
# Bounds of one transfer, so a hostile or broken server can neither fill the cache disk nor
# hold a render for ever (see the module docstring).
MAX_DOWNLOAD_BYTES = 2 << 30
STALL_SECONDS = 30.0
STALL_BYTES = 64 << 10
DEADLINE_SECONDS = 3 * 3600.0

Verify = Callable[[Path], None]  # loads a downloaded file or folder fully; raises WeightsError


def mirrors() -> list[str]:
    """The base URLs of $VISUALIZER_WEIGHTS_URL, in order."""
    return [b.strip() for b in os.environ.get(MIRRORS_ENV, "").split(",") if b.strip()]


def size_bound(size: int, sha256: str | None) -> int:
    """The most bytes a file published as ``size`` bytes (0 = unknown) may take."""
    if size <= 0:
        return MAX_DOWNLOAD_BYTES
    return size if sha256 else size * 5 // 4 + CHUNK


@dataclass(frozen=True)
class RemoteFile:
    """One published file of weights and where the cache keeps it
    (``<cache>/<name>/<filename>``)."""

    name: str  # cache folder, e.g. "realesr-general-x4v3"
    filename: str  # e.g. "realesr-general-x4v3.pth"
    urls: tuple[str, ...]  # where it is published, tried in order after the mirrors
    size: int  # bytes; exact when sha256 is given, approximate otherwise (0 = unknown)
    sha256: str | None = None
    what: str = "weights"  # how messages name it ("beat tracker weights", ...)

    def path(self) -> Path:
        return cache_dir() / self.name / self.filename

    def sources(self, base_url: str | None = None) -> list[str]:
        """``base_url``, then each mirror (BASE/filename), then the published URLs."""
        bases = ([base_url] if base_url else []) + mirrors()
        return [f"{b.rstrip('/')}/{self.filename}" for b in bases] + list(self.urls)


def cached_file(remote: RemoteFile) -> Path | None:
    """The finished download of ``remote``, or None."""
    path = remote.path()
    return path if path.is_file() else None


def fetch_file(
    remote: RemoteFile,
    *,
    verify: Verify | None = None,
    progress: ProgressCallback | None = None,
    base_url: str | None = None,
) -> Path:
    """The cached file of ``remote``, downloaded and verified first when missing.

    Sources are tried in order, a cut-off transfer resumed by the next source or call; the file
    must match its size bound and sha256, then ``verify(path)`` (a full load) before it takes
    its name. DownloadError names every source tried and its failure.
    """
    done = cached_file(remote)
    if done is not None:
        return done
    folder = remote.path().parent
    folder.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    with download_lock(folder), staging(folder, remote.filename) as stage:
        done = cached_file(remote)  # another process finished it while this one waited
        if done is not None:
            return done
        target = stage / remote.filename
        bound = size_bound(remote.size, remote.sha256)
        for url in remote.sources(base_url):
            try:
                fetch_url(url, target, progress, f"{remote.name} {remote.what}", bound)
                check_sha256(target, remote.sha256, url)
                if verify is not None:
                    verify(target)
            except WeightsError as error:  # DownloadError included
                failures.append(str(error))
                if not isinstance(error, DownloadError) or "cut off" not in str(error):
                    target.unlink(missing_ok=True)  # only a cut-off prefix is worth resuming
                continue
            publish(target, remote.path())
            return remote.path()
    tried = "; ".join(failures) or "no source is known"
    raise DownloadError(
        f"could not download {remote.name} {remote.what}: {tried}. Set {MIRRORS_ENV} to a "
        f"mirror holding {remote.filename}, or put the file at {remote.path()}"
    )


@contextlib.contextmanager
def download_lock(folder: Path) -> Iterator[None]:
    """Hold the inter-process lock of the download into ``folder`` (released by the system if
    the holder dies); a second process waits for the first."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder.with_name(folder.name + ".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info(f"another process is downloading {folder.name}; waiting for it")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def staging(folder: Path, filename: str) -> Iterator[Path]:
    """A folder of this process's own inside ``folder``, holding the resumable partial
    ``filename``. Only for the holder of `download_lock`.

    The partial bytes of an earlier attempt (``folder/filename.partial``) are moved in, and
    whatever remains is moved back (for the next call to resume) when the block ends; the
    folder itself is always removed.
    """
    partial = folder / f"{filename}.partial"
    # Only the lock holder stages, so any other staging folder is a killed process's: its bytes
    # become the partial file (when there is none) and the folder goes.
    for stale in folder.glob(".download-*"):
        if not partial.exists() and (stale / filename).is_file():
            os.replace(stale / filename, partial)
        shutil.rmtree(stale, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    with contextlib.suppress(FileNotFoundError):
        os.replace(partial, stage / filename)
    try:
        yield stage
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.replace(stage / filename, partial)
        shutil.rmtree(stage, ignore_errors=True)


def check_sha256(path: Path, expected: str | None, url: str) -> None:
    """DownloadError (and ``path`` deleted) when the file's sha256 is not ``expected``."""
    if expected is None:
        return
    actual = file_sha256(path)
    if actual != expected:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: checksum mismatch (sha256 {actual}, expected {expected}); the file was deleted"
        )


def fetch_url(
    url: str, dest: Path, progress: ProgressCallback | None, label: str, limit: int
) -> None:
    """Append ``url``'s bytes to ``dest``, resuming with a Range request when it has some.

    Raises DownloadError on an HTTP or network error, when fewer bytes arrive than the server
    announced, when the transfer stalls or outlasts its deadline (``dest`` keeps the bytes for
    resuming), or when the file would exceed ``limit`` bytes (``dest`` is deleted: those bytes
    are not the file).
    """
    start = dest.stat().st_size if dest.exists() else 0
    if start > limit:
        dest.unlink()
        start = 0
    headers = {"User-Agent": f"visualizer/{__version__}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=STALL_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # the partial file is not a prefix we can extend
            dest.unlink()
            return fetch_url(url, dest, progress, label, limit)
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise DownloadError(f"{url}: {getattr(error, 'reason', error)}") from None
    with response:
        if start and response.status != 206:  # the server ignored Range: start again
            start = 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None and length.isdigit() else None
        if total is not None and total > limit:
            dest.unlink(missing_ok=True)
            raise DownloadError(f"{url}: announces {total} bytes, more than the {limit} expected")
        with open(dest, "ab" if start else "wb") as out:
            done, total = _copy(response, out, start, total, limit, url, progress, label)
    if done > limit:
        dest.unlink()
        raise DownloadError(
            f"{url}: sent more than the {limit} bytes expected; the partial file was deleted"
        )
    if total is not None and done != total:
        of = f" of {total}" if total > 0 else ""
        raise DownloadError(
            f"{url}: transfer cut off after {done}{of} bytes (run the command again to resume)"
        )


def _copy(response, out, done: int, total: int | None, limit: int, url, progress, label):
    """Copy the body into ``out`` until it ends, exceeds ``limit`` or stalls; (bytes held,
    total: -1 when the transfer broke off with no length announced)."""
    began = window_start = time.monotonic()
    window_bytes = 0
    try:
        while chunk := response.read1(CHUNK):  # what arrived, never waiting for a full chunk
            out.write(chunk)
            done += len(chunk)
            if done > limit:
                break
            report(progress, "download", done, total, "B", label)
            now = time.monotonic()
            window_bytes += len(chunk)
            if now - began > DEADLINE_SECONDS:
                raise DownloadError(
                    f"{url}: not finished after {DEADLINE_SECONDS:.0f} s ({done} bytes so far; "
                    "run the command again to resume)"
                )
            if now - window_start >= STALL_SECONDS:
                if window_bytes < STALL_BYTES:
                    raise DownloadError(
                        f"{url}: stalled ({window_bytes} bytes in {now - window_start:.0f} s; "
                        f"{done} bytes kept, run the command again to resume)"
                    )
                window_start, window_bytes = now, 0
    except TimeoutError:
        raise DownloadError(
            f"{url}: stalled (nothing for {STALL_SECONDS:.0f} s; {done} bytes kept, run the "
            "command again to resume)"
        ) from None
    except (http.client.IncompleteRead, ConnectionError, OSError):
        total = total or -1  # a broken connection is a short transfer, length or not
    return done, total
