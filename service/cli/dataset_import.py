"""``musicprism dataset import jamendo | magnatagatune | msd``: read a public dataset in its own
layout with :mod:`model.data`'s loader and write it as a generic manifest
(:func:`model.data.importer.write_generic`). Exit codes: 0 written, 1 a dataset error (the
message names the file, line or path), 2 bad usage."""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SOURCES = ("jamendo", "magnatagatune", "msd")


def _load_jamendo(args: argparse.Namespace) -> Any:
    from model.data.jamendo import load_jamendo

    return load_jamendo(args.splits, args.audio, subset=args.subset, split=args.split,
                        low_quality=args.low_quality, require_files=False)


def _load_magnatagatune(args: argparse.Namespace) -> Any:
    from model.data.magnatagatune import load_magnatagatune

    files = None
    if args.split_files is not None:
        files = dict(zip(("train", "val", "test"), args.split_files, strict=True))
    return load_magnatagatune(args.annotations, args.audio, split_files=files,
                              top_k=args.top_k, keep_untagged=args.keep_untagged,
                              require_files=False)


def _load_msd(args: argparse.Namespace) -> Any:
    from model.data.msd import load_msd

    files = {k: getattr(args, k) for k in ("train", "val", "test", "trainval")
             if getattr(args, k) is not None}
    return load_msd(args.tags, args.audio, split_files=files, train_count=args.train_count,
                    path_pattern=args.path_pattern, require_files=False)


LOADERS = {"jamendo": _load_jamendo, "magnatagatune": _load_magnatagatune, "msd": _load_msd}


def run_import(args: argparse.Namespace) -> int:
    """Load the source and write the manifest; 0 on success, 1 on a dataset error."""
    from model.data.base import DatasetError
    from model.data.importer import write_generic

    out = args.out if args.out is not None else args.audio
    try:
        if not Path(args.audio).is_dir():
            raise DatasetError(f"--audio '{args.audio}' is not a folder")
        dataset = LOADERS[args.source](args)
        report = write_generic(dataset, out, skip_missing=args.skip_missing,
                               overwrite=args.force)
    except (DatasetError, OSError, UnicodeDecodeError, csv.Error) as exc:
        why = exc if isinstance(exc, DatasetError) else f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"musicprism: dataset import {args.source}: {why}\n")
        return 1
    splits = ", ".join(f"{n} {s}" for s, n in sorted(report.written.items()))
    sys.stdout.write(f"{report.total} clips ({splits}) -> {report.out / 'manifest.csv'}\n")
    if report.missing_audio:
        sys.stdout.write(f"left out {report.missing_audio} clip(s) with missing audio\n")
    if report.labelled_without_tags:
        sys.stdout.write(f"{report.labelled_without_tags} labelled clip(s) have none of the "
                         "kept tags and are listed as unlabelled\n")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio", type=Path, required=True, help="the audio root")
    p.add_argument("--out", type=Path, default=None,
                   help="where manifest.csv, concepts.json and card.json go: the audio root "
                        "(default) or a folder holding it (manifest paths may not leave it)")
    p.add_argument("--skip-missing", action="store_true",
                   help="leave out clips whose audio is missing (counted) instead of failing")
    p.add_argument("--force", action="store_true", help="replace an existing manifest.csv")
    p.set_defaults(func=run_import)


def add_import(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dataset import`` and one subcommand per source."""
    p = sub.add_parser("import", help="write MTG-Jamendo, MagnaTagATune or MSD as a generic "
                                      "manifest (manifest.csv + concepts.json)")
    src = p.add_subparsers(dest="source", required=True)
    j = src.add_parser("jamendo", help="MTG-Jamendo autotagging splits")
    j.add_argument("--splits", type=Path, required=True,
                   help="data/splits of mtg-jamendo-dataset, or one split-N folder")
    j.add_argument("--subset", default="top50tags",
                   choices=("top50tags", "genre", "instrument", "moodtheme", "all"))
    j.add_argument("--split", default="split-0", help="split-0 ... split-4 (default split-0)")
    j.add_argument("--low-quality", action="store_true", help="use the .low.mp3 files")
    _common(j)
    m = src.add_parser("magnatagatune", help="MagnaTagATune, top-k tags")
    m.add_argument("--annotations", type=Path, required=True, help="annotations_final.csv")
    m.add_argument("--split-files", type=Path, nargs=3, default=None,
                   metavar=("TRAIN", "VAL", "TEST"),
                   help="the standard split lists (default: folders 0-b / c / d-f)")
    m.add_argument("--top-k", type=int, default=50, help="most frequent tags kept (50)")
    m.add_argument("--keep-untagged", action="store_true",
                   help="folder split: keep clips with none of the kept tags")
    _common(m)
    s = src.add_parser("msd", help="Million Song Dataset with the Last.fm top-50 tags")
    s.add_argument("--tags", type=Path, required=True, help="msd_id,tags[,path] table")
    for name in ("train", "val", "test", "trainval"):
        s.add_argument(f"--{name}", type=Path, default=None, help=f"{name} id list")
    s.add_argument("--train-count", type=int, default=None,
                   help="with --trainval: how many leading ids are train")
    s.add_argument("--path-pattern", default="{msd_id[2]}/{msd_id[3]}/{msd_id[4]}/"
                   "{msd_id}.clip.mp3", help="audio path of an id under --audio")
    _common(s)
