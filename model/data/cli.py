"""``musicprism dataset ...``: data subcommands. The lead's CLI calls :func:`register`.

Each subcommand sets ``func`` to a callable taking the argparse Namespace and returning an
exit code; add one by writing ``_add_<name>(sub)`` and calling it from :func:`register`.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def _data_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "data_dir", None):
        return Path(args.data_dir)
    from service.settings import get_settings

    return get_settings().data_dir


def run_build(args: argparse.Namespace) -> int:
    """Build the synthesised benchmark; 0 on success, 2 when FluidSynth is missing."""
    from model.data.benchmark.build import BuildConfig, build
    from model.data.benchmark.plan import PlanError
    from model.data.benchmark.synth import SynthConfig, SynthUnavailable

    out = Path(args.out) if args.out else _data_dir(args) / "datasets" / f"bench-{args.size}"
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


def _add_build(sub: argparse._SubParsersAction) -> None:
    from model.data.benchmark.plan import SIZES
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


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``dataset`` command and its subcommands to a CLI's subparsers."""
    dataset = subparsers.add_parser("dataset", help="build or import training data")
    sub = dataset.add_subparsers(dest="dataset_command", required=True)
    _add_build(sub)
    from model.data.real_cli import add_real_command

    add_real_command(sub)
    return dataset


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m model.data.cli dataset build ...``)."""
    parser = argparse.ArgumentParser(prog="musicprism")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
