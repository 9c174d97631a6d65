"""The model registry, the weights cache and verified downloads.

The published BigGAN-deep checkpoints are not redistributed here: users download them into the
cache (`download`, ``visualizer models download NAME``) or point at files they already have
(``--weights PATH``); `visualizer.model.loading` turns either into a generator.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from visualizer import __version__
from visualizer.errors import DownloadError, WeightsError
from visualizer.progress import ProgressCallback, report

if TYPE_CHECKING:
    pass

log = logging.getLogger("visualizer")

DEFAULT_BASE_URL = "https://s3.amazonaws.com/models.huggingface.co/biggan/"
BASE_URL_ENV = "VISUALIZER_WEIGHTS_URL"  # overrides DEFAULT_BASE_URL (mirrors, tests)
CONFIG_NAME, WEIGHTS_NAME = "config.json", "pytorch_model.bin"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelInfo:
    name: str
    resolution: int
    download_size: int  # bytes of pytorch_model.bin; exact when sha256 is known, else approximate
    sha256: str | None  # of pytorch_model.bin; None: not published, the size is not checked either
    config_sha256: str | None = None

    def urls(self, base_url: str | None = None) -> tuple[str, str]:
        """(weights URL, config URL) under ``base_url``, else $VISUALIZER_WEIGHTS_URL, else S3."""
        base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        base = base if base.endswith("/") else base + "/"
        return f"{base}{self.name}-pytorch_model.bin", f"{base}{self.name}-config.json"


# The checksums of the 256 files come from a third-party install catalog; nobody has published
# them for 128 and 512, whose downloads are checked for completeness (Content-Length) and then
# by loading them (every key and shape).
MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("biggan-deep-128", 128, 210_900_000, None),
        ModelInfo(
            "biggan-deep-256",
            256,
            234_411_737,
            "5900ef4065047e3aa0d1b66197b7f2664dceb59b27080e414ad57e203c485bc5",
            "edd106f65ff28ee1638491a978cfa6bc50dfa0344aab70749a7b8eb08bbec677",
        ),
        ModelInfo("biggan-deep-512", 512, 235_700_000, None),
    )
}


def model_info(name: str) -> ModelInfo:
    if name not in MODELS:
        raise WeightsError(f"unknown model {name!r} (available: {', '.join(MODELS)})")
    return MODELS[name]


def cache_dir() -> Path:
    """$VISUALIZER_CACHE, else $XDG_CACHE_HOME/visualizer, else ~/.cache/visualizer."""
    if os.environ.get("VISUALIZER_CACHE"):
        return Path(os.environ["VISUALIZER_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "visualizer"


def cached_model_dir(name: str) -> Path | None:
    """The cache folder of model ``name`` when its download is complete, else None."""
    folder = cache_dir() / model_info(name).name
    done = (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()
    return folder if done else None


# --------------------------------------------------------------------------------------------
# Download


def download(
    name: str, *, progress: ProgressCallback | None = None, base_url: str | None = None
) -> Path:
    """Download model ``name`` into the cache (resuming a ``.partial``), verify, return its folder.

    Files only take their final names once complete and verified, so a folder holding both
    ``config.json`` and ``pytorch_model.bin`` is a finished download. Raises DownloadError on HTTP
    errors, a transfer cut off (the ``.partial`` is kept for resuming) or a checksum mismatch (the
    bad file is deleted).
    """
    info = model_info(name)
    done = cached_model_dir(name)
    if done is not None:
        return done
    folder = cache_dir() / info.name
    folder.mkdir(parents=True, exist_ok=True)
    weights_url, config_url = info.urls(base_url)
    if not (folder / WEIGHTS_NAME).is_file():
        _fetch(weights_url, folder / WEIGHTS_NAME, info.sha256, progress, f"{name} weights")
    if not (folder / CONFIG_NAME).is_file():
        partial = folder / (CONFIG_NAME + ".partial")
        partial.unlink(missing_ok=True)  # small: never resumed
        _fetch(config_url, partial, info.config_sha256, None, f"{name} config")
        from visualizer.model.network import BigGANConfig

        try:
            BigGANConfig.from_json(partial)
        except WeightsError as error:
            partial.unlink(missing_ok=True)
            raise DownloadError(
                f"{config_url}: the downloaded config is invalid ({error})"
            ) from None
        os.replace(partial, folder / CONFIG_NAME)
    return folder


def _fetch(
    url: str, dest: Path, sha256: str | None, progress: ProgressCallback | None, label: str
) -> None:
    """Stream ``url`` to ``dest`` through ``dest.partial`` (resumed with a Range request)."""
    partial = dest if dest.name.endswith(".partial") else dest.with_name(dest.name + ".partial")
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": f"visualizer/{__version__}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # the partial file is not a prefix we can extend
            partial.unlink()
            return _fetch(url, dest, sha256, progress, label)
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(f"{url}: {getattr(error, 'reason', error)}") from None
    with response:
        if start and response.status != 206:  # the server ignored Range: start again
            start = 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        hasher = hashlib.sha256()
        if start:
            _hash_file(partial, hasher)
        done = start
        with open(partial, "ab" if start else "wb") as out:
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    hasher.update(chunk)
                    done += len(chunk)
                    report(progress, "download", done, total, "B", label)
            except (http.client.IncompleteRead, ConnectionError, TimeoutError, OSError):
                total = total or -1  # a broken connection is a short transfer, length or not
    if total is not None and done != total:
        of = f" of {total}" if total > 0 else ""
        raise DownloadError(
            f"{url}: transfer cut off after {done}{of} bytes (run the command again to resume)"
        )
    if sha256 is not None and hasher.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: checksum mismatch (sha256 {hasher.hexdigest()}, expected {sha256}); "
            "the file was deleted, run the command again"
        )
    if partial != dest:
        os.replace(partial, dest)


def _hash_file(path: Path, hasher: hashlib._Hash | None = None) -> hashlib._Hash:
    hasher = hasher or hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes (hex)."""
    return _hash_file(path).hexdigest()
