"""``musicprism dataset real``: fetch Debian's free game music as an unlabelled dataset."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from model.data.real import DEFAULT_PACKAGES, REAL_PACKAGES, RealFetchError, fetch_real

logger = logging.getLogger(__name__)


def add_real_command(
    dataset_subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> argparse.ArgumentParser:
    """Add the ``real`` subcommand; its ``func`` takes the namespace and returns an exit code."""
    p = dataset_subparsers.add_parser(
        "real",
        help="fetch real recorded music (Debian game-music packages) as a manifest",
        description=(
            "Download Debian game-music packages with 'apt-get download' (no install, no "
            "root), unpack them with 'dpkg-deb -x' and write <out>/<package>/manifest.csv "
            "plus <out>/manifest.csv over all packages (generic format, no tags). "
            "Packages already unpacked are skipped."
        ),
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES), metavar="PKG",
                       help=f"Debian packages (default: {' '.join(DEFAULT_PACKAGES)})")
    which.add_argument("--all", action="store_const", const=list(REAL_PACKAGES),
                       dest="packages", help=f"all {len(REAL_PACKAGES)} known packages "
                                             f"(about 500 tracks, 27 h, 4.3 GB of .deb)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: <data-dir>/datasets/real)")
    p.add_argument("--cache", type=Path, default=None,
                   help="where .deb files are kept (default: <out>/.debs)")
    p.set_defaults(func=run_real)
    return p


def run_real(args: argparse.Namespace) -> int:
    """Run ``dataset real``; 0 on success, 1 on a fetch error (message on stderr)."""
    out = args.out
    if out is None:
        from service.settings import get_settings

        out = get_settings().data_dir / "datasets" / "real"
    try:
        summaries = fetch_real(out, args.packages, cache_dir=args.cache)
    except RealFetchError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        return 1
    for s in summaries:
        state = "kept" if s.skipped else "new"
        left = "".join(f"; left out {n} ({why})" for why, n in s.left_out.items())
        print(f"{s.package:28s} {s.tracks:4d} tracks {s.seconds / 3600:6.2f} h "  # noqa: T201
              f"{s.bytes / 1e6:8.1f} MB  {s.licence}  ({state}{left})")
    total_h = sum(s.seconds for s in summaries) / 3600
    print(f"{'total':28s} {sum(s.tracks for s in summaries):4d} tracks {total_h:6.2f} h "  # noqa: T201
          f"-> {Path(out) / 'manifest.csv'}")
    return 0
