"""The model registry, the weights cache and verified downloads from several sources.

The published BigGAN-deep checkpoints are not redistributed here: users download them into the
cache (``visualizer models download NAME``, or the first render) or point at files they already
have (``--weights PATH``); `visualizer.model.loading` turns either into a generator.

A download cannot corrupt the cache, even when several processes (renders, Ray workers) start it at
once: one process holds the model's lock file and downloads into a folder of its own, the others
wait for the lock and then find the finished files. A file takes its final name only after its
size, its sha256 (where known) and a full load of both files have been checked, so a model folder
holding ``config.json`` and ``pytorch_model.bin`` is always a finished, verified download.
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

LEGACY_BASE_URL = "https://s3.amazonaws.com/models.huggingface.co/biggan/"
BASE_URL_ENV = (
    "VISUALIZER_WEIGHTS_URL"  # comma-separated mirrors, tried before the built-in sources
)
CONFIG_NAME, WEIGHTS_NAME = "config.json", "pytorch_model.bin"
PARTIAL_NAME = WEIGHTS_NAME + ".partial"  # an interrupted download, resumed by the next one
_CHUNK = 1 << 20
# Bounds of one transfer, so a hostile or broken server can neither fill the cache disk nor
# hold a render for ever: at most the registry's size (exact with a published sha256, else
# +25 %; MAX_DOWNLOAD_BYTES when unknown), at least STALL_BYTES every STALL_SECONDS (also the
# socket timeout), and DEADLINE_SECONDS in all (what arrived is kept for the next run).
MAX_DOWNLOAD_BYTES = 2 << 30
CONFIG_MAX_BYTES = 64 << 10
STALL_SECONDS = 30.0
STALL_BYTES = 64 << 10
DEADLINE_SECONDS = 3 * 3600.0


@dataclass(frozen=True)
class Source:
    """One place that serves a model's two files."""

    weights_url: str
    config_url: str
    weights_sha256: str | None = None  # of the file this source serves, when it is published

    @classmethod
    def legacy(cls, base_url: str, name: str) -> Source:
        """The 2019 bucket layout, also the layout of mirrors: BASE/NAME-pytorch_model.bin."""
        base = base_url if base_url.endswith("/") else base_url + "/"
        return cls(f"{base}{name}-{WEIGHTS_NAME}", f"{base}{name}-{CONFIG_NAME}")

    @classmethod
    def hub(cls, repo: str, weights_sha256: str | None = None) -> Source:
        """A public Hugging Face Hub repository holding config.json + pytorch_model.bin."""
        base = f"https://huggingface.co/{repo}/resolve/main/"
        return cls(f"{base}{WEIGHTS_NAME}", f"{base}{CONFIG_NAME}", weights_sha256)


@dataclass(frozen=True)
class ModelInfo:
    """Where a published model's files come from (its frame size: `visualizer.model.catalog`)."""

    name: str
    download_size: int  # bytes of pytorch_model.bin; exact when sha256 is known, else approximate

    @property
    def max_bytes(self) -> int:
        """The most bytes a download of pytorch_model.bin may take before it is refused."""
        if self.download_size <= 0:
            return MAX_DOWNLOAD_BYTES
        return self.download_size if self.sha256 else self.download_size * 5 // 4 + _CHUNK

    sha256: str | None  # of pytorch_model.bin from every source; None: not published
    config_sha256: str | None = None
    # Where the files are published, tried in order after $VISUALIZER_WEIGHTS_URL's mirrors.
    hub_repos: tuple[tuple[str, str | None], ...] = ()  # (repo, sha256 of its weights file)
    legacy: bool = False  # whether the 2019 bucket serves it

    def sources(self, base_url: str | None = None) -> list[Source]:
        """``base_url``, then each $VISUALIZER_WEIGHTS_URL mirror, then the built-in sources."""
        bases = [base_url] if base_url else []
        bases += [b.strip() for b in os.environ.get(BASE_URL_ENV, "").split(",") if b.strip()]
        bases += [LEGACY_BASE_URL] if self.legacy else []
        found = [Source.legacy(base, self.name) for base in bases]
        return found + [Source.hub(repo, sha) for repo, sha in self.hub_repos]


# The checksums of the 256 files come from a third-party install catalog, the 128 Hub file's from
# the Hub's own listing; other files are checked for completeness (Content-Length) and then by
# loading them (every key and shape).
DOWNLOADS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            "biggan-deep-128",
            210_900_000,
            None,
            hub_repos=(
                (
                    "osanseviero/BigGAN-deep-128",
                    "b86146a8cfcde4cda135adba4b2806f78b3abe2dac9d0fd090cc3ab318604ad9",
                ),
            ),
            legacy=True,
        ),
        ModelInfo(
            "biggan-deep-256",
            234_411_737,
            "5900ef4065047e3aa0d1b66197b7f2664dceb59b27080e414ad57e203c485bc5",
            "edd106f65ff28ee1638491a978cfa6bc50dfa0344aab70749a7b8eb08bbec677",
            legacy=True,
        ),
        ModelInfo("biggan-deep-512", 235_700_000, None, legacy=True),
    )
}


def model_info(name: str) -> ModelInfo:
    """The download record of ``name``; WeightsError naming the models that can be downloaded."""
    if name not in DOWNLOADS:
        raise WeightsError(
            f"no download known for model {name!r} (downloadable: {', '.join(DOWNLOADS)})"
        )
    return DOWNLOADS[name]


def cached_model_dir(name: str) -> Path | None:
    """The cache folder of model ``name`` when its download is complete, else None."""
    folder = cache_dir() / model_info(name).name
    done = (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()
    return folder if done else None


# --------------------------------------------------------------------------------------------
# Download

Verify = Callable[[Path], None]  # checks a folder of config.json + weights; raises WeightsError

WHAT_TO_DO = (
    "use --weights PATH with a folder holding config.json + pytorch_model.bin, set "
    f"{BASE_URL_ENV} to a mirror (comma-separated base URLs), or try the tool offline with "
    "--weights random"
)


def fetch_model(
    name: str,
    *,
    verify: Verify,
    progress: ProgressCallback | None = None,
    base_url: str | None = None,
) -> Path:
    """Download model ``name`` into the cache unless it is there; return its folder.

    The sources (`ModelInfo.sources`) are tried in order; an interrupted transfer is resumed from
    the next source or by the next call. ``verify(folder)`` loads the downloaded pair fully
    before it takes its final names (`visualizer.model.loading.check_weights`). Concurrent calls
    for one model, in any processes: one downloads, the others wait and return its folder.
    Raises DownloadError naming every source tried and its failure.
    """
    info = model_info(name)
    done = cached_model_dir(name)
    if done is not None:
        return done
    folder = cache_dir() / info.name
    folder.mkdir(parents=True, exist_ok=True)
    with _model_lock(folder):
        done = cached_model_dir(name)  # another process finished it while this one waited
        if done is not None:
            return done
        failures = []
        with _staging(folder) as staging:
            for source in info.sources(base_url):
                try:
                    _fetch_source(source, info, staging, verify, progress)
                except WeightsError as error:  # DownloadError included
                    failures.append(str(error))
                    continue
                _install(staging, folder)
                return folder
    if not failures:
        raise DownloadError(f"{name}: no download source is known; {WHAT_TO_DO}")
    tried = "; ".join(failures)
    raise DownloadError(f"could not download {name}: {tried}. Instead, {WHAT_TO_DO}")


@contextlib.contextmanager
def _model_lock(folder: Path) -> Iterator[None]:
    """Hold the model's inter-process lock (released by the OS if the holder dies)."""
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
def _staging(folder: Path) -> Iterator[Path]:
    """A folder of this process's own inside ``folder``, holding the resumable partial file.

    The partial weights of an earlier attempt are moved in, and whatever remains is moved back
    (for the next call to resume) when the block ends; the folder itself is always removed.
    """
    partial = folder / PARTIAL_NAME
    # Only the lock holder stages, so any other staging folder is a killed process's: its bytes
    # become the partial file (when there is none) and the folder goes.
    for stale in folder.glob(".download-*"):
        if not partial.exists() and (stale / WEIGHTS_NAME).is_file():
            os.replace(stale / WEIGHTS_NAME, partial)
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    with contextlib.suppress(FileNotFoundError):
        os.replace(partial, staging / WEIGHTS_NAME)
    try:
        yield staging
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.replace(staging / WEIGHTS_NAME, partial)
        shutil.rmtree(staging, ignore_errors=True)


def _fetch_source(
    source: Source,
    info: ModelInfo,
    staging: Path,
    verify: Verify,
    progress: ProgressCallback | None,
) -> None:
    """Fetch both files of ``source`` into ``staging`` and check them; raise WeightsError if not.

    A transfer cut off keeps its bytes (the next source resumes them), and so do complete weights
    when only the config cannot be fetched; a file that fails a check is deleted.
    """
    weights, config = staging / WEIGHTS_NAME, staging / CONFIG_NAME
    _fetch(source.weights_url, weights, progress, f"{info.name} weights", info.max_bytes)
    try:
        _check_sha256(weights, source.weights_sha256 or info.sha256, source.weights_url)
    except DownloadError:
        weights.unlink(missing_ok=True)
        raise
    config.unlink(missing_ok=True)  # small: never resumed
    _fetch(source.config_url, config, None, f"{info.name} config", CONFIG_MAX_BYTES)
    try:
        _check_sha256(config, info.config_sha256, source.config_url)
        verify(staging)
    except WeightsError as error:
        weights.unlink(missing_ok=True)
        config.unlink(missing_ok=True)
        if isinstance(error, DownloadError):
            raise
        raise DownloadError(f"{source.weights_url}: the download does not load ({error})") from None


def _install(staging: Path, folder: Path) -> None:
    """Give the verified files their final names; config.json last (it marks the download done)."""
    (folder / CONFIG_NAME).unlink(missing_ok=True)
    publish(staging / WEIGHTS_NAME, folder / WEIGHTS_NAME)
    publish(staging / CONFIG_NAME, folder / CONFIG_NAME)


def _check_sha256(path: Path, expected: str | None, url: str) -> None:
    if expected is None:
        return
    actual = file_sha256(path)
    if actual != expected:
        raise DownloadError(
            f"{url}: checksum mismatch (sha256 {actual}, expected {expected}); the file was deleted"
        )


def _fetch(url: str, dest: Path, progress: ProgressCallback | None, label: str, limit: int) -> None:
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
            return _fetch(url, dest, progress, label, limit)
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
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
        while chunk := response.read1(_CHUNK):  # what arrived, never waiting for a full chunk
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
