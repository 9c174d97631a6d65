"""`visualizer models`: list the generators' and upscalers' weights and download them into the
cache."""

from __future__ import annotations

import argparse

from visualizer.commands.common import ProgressBars, add_quiet_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the models: resolution, download size, cached or not")
    download = sub.add_parser(
        "download",
        help="download a model's weights into the cache (resumes an interrupted download)",
    )
    download.add_argument(
        "name",
        metavar="NAME",
        help="e.g. biggan-deep-256 or realesr-general-x4v3 (see 'models list')",
    )
    download.add_argument(
        "--base-url",
        default=None,
        help="a mirror (BASE/NAME-pytorch_model.bin) tried before $VISUALIZER_WEIGHTS_URL's "
        "and the built-in sources",
    )
    add_quiet_option(download)


def run(args: argparse.Namespace) -> int:
    from visualizer.content import cache_dir
    from visualizer.model import registry as weights
    from visualizer.model.catalog import family_of, model_names, resolution_of
    from visualizer.model.upscaler import is_published

    if args.action == "list":
        print(f"{'NAME':<17} {'RES':>4}  {'SIZE':>8}  CACHED")
        for name in model_names():
            info = weights.DOWNLOADS.get(name)
            folder = weights.cached_model_dir(name) if info else None
            approx = "" if info is None or info.sha256 else "~"
            size = f"{approx}{info.download_size / 1e6:.0f} MB" if info else "-"
            print(f"{name:<17} {resolution_of(name):>4}  {size:>8}  {folder or 'no'}")
        list_upscalers()
        print(f"cache: {cache_dir()}")
        return 0
    if is_published(args.name):
        return download_upscaler(args)
    family_of(args.name)  # an unknown name is refused with the list of models there are
    info = weights.model_info(args.name)
    already = weights.cached_model_dir(info.name)
    bars = ProgressBars(quiet=args.quiet)
    from visualizer.model.loading import download

    try:
        folder = download(info.name, progress=bars, base_url=args.base_url)
    finally:
        bars.close()
    if not args.quiet:
        verb = "already cached in" if already else "downloaded to"
        print(f"{info.name}: {verb} {folder} (verified: size, sha256 where published, full load)")
    return 0


def list_upscalers() -> None:
    """The published upscalers: scale, download size, cached or not, and what each is."""
    from visualizer.downloads import cached_file
    from visualizer.model.upscaler import PUBLISHED

    print(f"\n{'UPSCALER':<21} {'x':>2}  {'SIZE':>8}  CACHED")
    for row in PUBLISHED.values():
        size = f"{row.remote.size / 1e6:.0f} MB"
        print(f"{row.name:<21} {row.scale:>2}  {size:>8}  {cached_file(row.remote) or 'no'}")
        print(f"  {row.note}")


def download_upscaler(args: argparse.Namespace) -> int:
    """`models download` of a published upscaler (verified: size, sha256, a full load)."""
    from visualizer.downloads import cached_file
    from visualizer.model.upscale_loading import upscaler_path
    from visualizer.model.upscaler import published_upscaler

    row = published_upscaler(args.name)
    already = cached_file(row.remote)
    bars = ProgressBars(quiet=args.quiet)
    try:
        path = upscaler_path(args.name, progress=bars, base_url=args.base_url)
    finally:
        bars.close()
    if not args.quiet:
        verb = "already cached in" if already else "downloaded to"
        print(f"{row.name}: {verb} {path} (verified: size, sha256, full load)")
    return 0
