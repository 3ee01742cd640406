"""``musicprism dataset build | real | import | teacher``: the flags of the typed entry points
(``model.data.benchmark.build.build`` renders the labelled corpus, ``model.data.real.
fetch_real`` fetches real recordings from Debian's game-music packages,
``model.teacher.label`` labels a manifest with the distillation teacher; ``import`` is in
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


def run_teacher(args: argparse.Namespace) -> int:
    """Label a manifest's tracks with the musicnn teacher; 0 on success, 1 on an error."""
    import torch

    from model.teacher.label import LabelConfig, label_manifest, write_teacher_csv
    from model.teacher.musicnn import load_musicnn
    from model.teacher.weights import WHEEL_NAME, WheelError, ensure_wheel

    manifest = Path(args.data) / "manifest.csv"
    out = Path(args.out) if args.out is not None else Path(args.data)
    wheel = Path(args.wheel) if args.wheel is not None else Path(sys.prefix) / "teacher"
    try:
        i, n = (int(v) for v in args.shard.split("/"))
        if not 0 <= i < n:
            raise ValueError
    except ValueError:
        sys.stderr.write(f"musicprism: --shard '{args.shard}' must be i/n with 0 <= i < n\n")
        return 2
    if not manifest.is_file():
        sys.stderr.write(f"musicprism: no manifest.csv in '{args.data}'\n")
        return 1
    try:
        model = load_musicnn(wheel if wheel.suffix == ".whl" else ensure_wheel(wheel))
    except (OSError, ValueError, WheelError) as exc:  # the bundle errors are ValueErrors
        sys.stderr.write(f"musicprism: cannot load the teacher ({WHEEL_NAME}): {exc}\n")
        return 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = LabelConfig(max_seconds=args.max_seconds, batch_windows=args.batch_windows,
                      shard=(i, n), limit=args.limit)
    report = label_manifest(manifest, out, model, cfg)
    listed, skipped = write_teacher_csv(manifest, out)
    sys.stdout.write(f"labelled {report.labelled}, already done {report.already}, skipped "
                     f"{report.skipped} ({report.audio_seconds / 3600:.2f} h of audio in "
                     f"{report.wall_seconds:.0f} s)\n{listed} tracks in {out / 'teacher.csv'}, "
                     f"{skipped} in {out / 'teacher_skipped.csv'}; train with "
                     f"data.teacher: {out}\n")
    return 0


def _add_teacher(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "teacher", help="label a manifest's tracks with the musicnn teacher (distillation)",
        description="Run the musicnn MSD-50 teacher over every track of DATA/manifest.csv, "
        "window by window: OUT/teacher/<key>.npz (per-window probabilities), OUT/teacher.csv "
        "(mean per track) and OUT/teacher_skipped.csv. Resumable; shardable over processes.")
    p.add_argument("data", type=Path, help="dataset folder holding manifest.csv")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: DATA)")
    p.add_argument("--wheel", type=Path, default=None,
                   help="the musicnn-0.1.0 wheel, or the folder that holds it (fetched there, "
                        "hash-pinned, when missing; default: <environment>/teacher, where "
                        "make install puts it)")
    p.add_argument("--shard", default="0/1", help="i/n: this process labels rows i, i+n, ...")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--batch-windows", type=int, default=8, help="windows per forward pass")
    p.add_argument("--max-seconds", type=float, default=3600.0,
                   help="longer tracks are skipped and reported")
    p.add_argument("--limit", type=int, default=None, help="at most this many rows")
    p.set_defaults(func=run_teacher)


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
    _add_teacher(sub)
