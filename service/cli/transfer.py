"""``musicprism export | import``: the catalogue to a Parquet file and back into an instance
that serves the same model (service/transfer). Progress goes to stderr, the summary to stdout;
exit 1 when the file is refused (nothing is imported) or cannot be written."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tqdm import tqdm

from service.cli.common import add_data_dir, settings_from


def cmd_export(args: argparse.Namespace) -> int:
    from service.app import build_catalog
    from service.db import upgrade
    from service.transfer import TransferError, export_catalog

    settings = settings_from(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    catalog = build_catalog(settings)
    bar = tqdm(desc="export", unit="track", disable=args.quiet)
    try:
        catalog.binding.register()
        report = export_catalog(catalog, args.out, windows=not args.no_windows,
                                overwrite=args.force, progress=lambda n: bar.update(n - bar.n))
    except TransferError as exc:
        sys.stderr.write(f"musicprism export: {exc}\n")
        return 1
    finally:
        bar.close()
        catalog.close()
    sys.stdout.write(report.summary() + "\n")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from service.cli.serving import _catalog
    from service.transfer import TransferError, import_catalog

    if not args.file.is_file():
        sys.stderr.write(f"musicprism import: {args.file} is not a file\n")
        return 1
    catalog = _catalog(settings_from(args))  # migrated, indexes open (as ingest)
    bar = tqdm(desc="import", unit="track", disable=args.quiet)
    try:
        report = import_catalog(catalog, args.file, progress=lambda n: bar.update(n - bar.n))
        catalog.indexes.save_snapshot()
        if report.added:
            catalog.recordings.refresh_statistics()
    except TransferError as exc:
        sys.stderr.write(f"musicprism import: {exc}\n")
        return 1
    finally:
        bar.close()
        catalog.close()
    if args.id_map is not None:
        with open(args.id_map, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["source_id", "track_id"])
            writer.writerows(report.id_map)
    sys.stdout.write(report.summary() + "\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``export`` and ``import``."""
    p = sub.add_parser("export", help="write the catalogue (metadata, tags, vectors, "
                                      "fingerprints) to a Parquet file")
    add_data_dir(p)
    p.add_argument("out", type=Path, metavar="OUT.parquet")
    p.add_argument("--no-windows", action="store_true",
                   help="leave out window vectors (smaller; such a file cannot be imported)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="add the tracks of an exported Parquet file (same model: "
                                      "nothing is embedded again)")
    add_data_dir(p)
    p.add_argument("file", type=Path, metavar="FILE.parquet")
    p.add_argument("--id-map", type=Path, default=None, metavar="CSV",
                   help="write source_id,track_id for every row")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)
