"""``musicprism dataset build | real | import``: the flags of :mod:`model.data`'s typed entry
points (``benchmark.build.build`` renders the labelled corpus, ``real.fetch_real`` fetches real
recordings from Debian's game-music packages; ``import`` is in
:mod:`service.cli.dataset_import`)."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from service.cli.common import data_dir_of
from service.cli.dataset_import import add_import

logger = logging.getLogger(__name__)

def run_build(args: argparse.Namespace) -> int:
    """Build the synthesised benchmark; 0 on success, 2 when FluidSynth is missing."""
    from model.data.benchmark.build import BuildConfig, build
    from model.data.benchmark.plan import PlanError
    from model.data.benchmark.synth import SynthConfig, SynthUnavailable

    out = Path(args.out) if args.out else data_dir_of(args) / "datasets" / f"bench-{args.size}"
    synth = SynthConfig(soundfont=Path(args.soundfont), library=args.fluidsynth_library)
    cfg = BuildConfig(out=out, size=args.size, seed=args.seed, sample_rate=args.sample_rate,
                      workers=args.workers, synth=synth, n_clips=args.clips,
                      cache_dir=Path(args.cache_dir) if args.cache_dir else None,
                      progress=not args.no_progress,
                      command="musicprism " + shlex.join(sys.argv[1:]))
    try:
        report = build(cfg)
    except (SynthUnavailable, PlanError) as exc:
        logger.error("%s", exc)
        return 2
    logger.info("benchmark: %d clips in %s (%.0f s, %d failures); card: %s",
                report.n_clips, report.out, report.seconds, len(report.failures),
                report.out / "card.md")
    return 0


def run_real(args: argparse.Namespace) -> int:
    """Fetch real recordings; 0 on success, 1 on a fetch error (message on stderr)."""
    from model.data.real import RealFetchError, fetch_real

    out = args.out if args.out is not None else data_dir_of(args) / "datasets" / "real"
    try:
        summaries = fetch_real(out, args.packages, cache_dir=args.cache)
    except RealFetchError as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    for s in summaries:
        state = "kept" if s.skipped else "new"
        left = "".join(f"; left out {n} ({why})" for why, n in s.left_out.items())
        sys.stdout.write(f"{s.package:28s} {s.tracks:4d} tracks {s.seconds / 3600:6.2f} h "
                         f"{s.bytes / 1e6:8.1f} MB  {s.licence}  ({state}{left})\n")
    total_h = sum(s.seconds for s in summaries) / 3600
    sys.stdout.write(f"{'total':28s} {sum(s.tracks for s in summaries):4d} tracks "
                     f"{total_h:6.2f} h -> {Path(out) / 'manifest.csv'}\n")
    return 0


def _add_build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from model.data.benchmark.plan import SIZES  # no training package needed
    from model.data.benchmark.synth import DEFAULT_SOUNDFONT

    p = sub.add_parser("build", help="render the synthesised benchmark (resumable)",
                       description="Render labelled clips from the music21 corpus with "
                       "FluidSynth into OUT (manifest.csv, concepts.json, card.md, audio/).")
    p.add_argument("--size", choices=sorted(SIZES), default="ci",
                   help="ci ~200 clips, small ~1,500, full ~6,000 (default: ci)")
    p.add_argument("--out", default=None,
                   help="output directory (default: <data-dir>/datasets/bench-<size>)")
    # SUPPRESS: a --data-dir given to a parent parser is not overwritten by this default.
    p.add_argument("--data-dir", default=argparse.SUPPRESS,
                   help="data directory (default: the settings' data_dir)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz (default: 16000)")
    p.add_argument("--workers", type=int, default=2, help="render processes (default: 2)")
    p.add_argument("--clips", type=int, default=None, help="override the size's clip count")
    p.add_argument("--soundfont", default=str(DEFAULT_SOUNDFONT), help="GM soundfont (.sf2)")
    p.add_argument("--fluidsynth-library", default="fluidsynth",
                   help="libfluidsynth name or path (default: fluidsynth)")
    p.add_argument("--cache-dir", default=None,
                   help="parsed-notes cache, shareable between builds (default: OUT/.cache)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_build)


def _add_real(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from model.data.real import DEFAULT_PACKAGES, REAL_PACKAGES

    p = sub.add_parser(
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
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                   help="data directory (default: the settings' data_dir)")
    p.set_defaults(func=run_real)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dataset`` and its subcommands."""
    dataset = subparsers.add_parser("dataset", help="build or fetch training data")
    sub = dataset.add_subparsers(dest="dataset_command", required=True)
    _add_build(sub)
    _add_real(sub)
    add_import(sub)
