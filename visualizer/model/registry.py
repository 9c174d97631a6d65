"""The model registry, the weights cache and verified downloads from several sources.

The published BigGAN-deep checkpoints are not redistributed here: users download them into the
cache (``visualizer models download NAME``, or the first render) or point at files they already
have (``--weights PATH``); `visualizer.model.loading` turns either into a generator.

Downloads go the way of every downloaded weight (`visualizer.downloads`: one process per model
downloads under a lock, transfers are bounded and resumable, files are checked before they take
their names); a model folder holding ``config.json`` and ``pytorch_model.bin`` is always a
finished, verified download (config.json, written last, marks it done).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from visualizer.content import cache_dir
from visualizer.downloads import (
    MIRRORS_ENV,
    Verify,
    check_sha256,
    download_lock,
    fetch_url,
    mirrors,
    size_bound,
    staging,
)
from visualizer.errors import DownloadError, WeightsError
from visualizer.files import publish
from visualizer.progress import ProgressCallback

log = logging.getLogger("visualizer")

LEGACY_BASE_URL = "https://s3.amazonaws.com/models.huggingface.co/biggan/"
CONFIG_NAME, WEIGHTS_NAME = "config.json", "pytorch_model.bin"
CONFIG_MAX_BYTES = 64 << 10  # a config.json is a few hundred bytes


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
        return size_bound(self.download_size, self.sha256)

    sha256: str | None  # of pytorch_model.bin from every source; None: not published
    config_sha256: str | None = None
    # Where the files are published, tried in order after $VISUALIZER_WEIGHTS_URL's mirrors.
    hub_repos: tuple[tuple[str, str | None], ...] = ()  # (repo, sha256 of its weights file)
    legacy: bool = False  # whether the 2019 bucket serves it

    def sources(self, base_url: str | None = None) -> list[Source]:
        """``base_url``, then each $VISUALIZER_WEIGHTS_URL mirror, then the built-in sources."""
        bases = [base_url] if base_url else []
        bases += mirrors()
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

WHAT_TO_DO = (
    "use --weights PATH with a folder holding config.json + pytorch_model.bin, set "
    f"{MIRRORS_ENV} to a mirror (comma-separated base URLs), or try the tool offline with "
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
    with download_lock(folder):
        done = cached_model_dir(name)  # another process finished it while this one waited
        if done is not None:
            return done
        failures = []
        with staging(folder, WEIGHTS_NAME) as stage:
            for source in info.sources(base_url):
                try:
                    _fetch_source(source, info, stage, verify, progress)
                except WeightsError as error:  # DownloadError included
                    failures.append(str(error))
                    continue
                _install(stage, folder)
                return folder
    if not failures:
        raise DownloadError(f"{name}: no download source is known; {WHAT_TO_DO}")
    tried = "; ".join(failures)
    raise DownloadError(f"could not download {name}: {tried}. Instead, {WHAT_TO_DO}")


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
    fetch_url(source.weights_url, weights, progress, f"{info.name} weights", info.max_bytes)
    check_sha256(weights, source.weights_sha256 or info.sha256, source.weights_url)
    config.unlink(missing_ok=True)  # small: never resumed
    fetch_url(source.config_url, config, None, f"{info.name} config", CONFIG_MAX_BYTES)
    try:
        check_sha256(config, info.config_sha256, source.config_url)
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
