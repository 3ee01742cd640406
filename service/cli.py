"""The ``musicprism`` command line: the service's operations without HTTP.

Each subcommand maps its flags onto ``Settings`` (STYLE.md rule 3) and calls the same code the
service runs. Exit codes: 0 success, 1 failure, 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from service.settings import Settings

if TYPE_CHECKING:  # the catalog imports torch: keep `musicprism --help` fast
    from service.catalog import Catalog

log = logging.getLogger("musicprism")

#: Modules only the [train] extra installs (training, evaluation, the benchmark corpus).
TRAIN_ONLY_MODULES = frozenset({"music21", "sklearn", "matplotlib"})

Command = Callable[[argparse.Namespace], int]


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    return Settings(**overrides)


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.db import current_revision, downgrade, upgrade

    settings = settings_from(args)
    url = settings.resolved_database_url
    if args.downgrade is not None:
        downgrade(url, args.downgrade)
    else:
        upgrade(url)
    log.info("database at revision %s: %s", current_revision(url), url.split("@")[-1])
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.db import upgrade

    settings = settings_from(args, host=args.host, port=args.port, workers=args.workers)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_migrate:
        upgrade(settings.resolved_database_url)
    from service.observability import logging_config, prepare_metrics_for_workers

    prepare_metrics_for_workers(settings.workers)
    log_config = logging_config(settings.log_level)
    if settings.workers > 1:
        # Workers re-read settings from the environment: pass the overrides on.
        import os

        os.environ["MUSICPRISM_DATA_DIR"] = str(settings.data_dir)
        # ... and the worker count, which decides the index_mmap default.
        os.environ["MUSICPRISM_WORKERS"] = str(settings.workers)
        uvicorn.run(
            "service.app:app_factory",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            log_config=log_config,
            access_log=False,
        )
    else:
        from service.app import create_app

        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=log_config,
            access_log=False,
        )
    return 0


def _catalog(settings: Settings) -> Catalog:
    from service.app import build_catalog
    from service.db import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    catalog = build_catalog(settings)
    catalog.open_indexes()
    return catalog


def cmd_ingest(args: argparse.Namespace) -> int:
    from service.ingest import ingest_folder

    settings = settings_from(args)
    catalog = _catalog(settings)
    try:
        report = ingest_folder(
            catalog,
            args.folder,
            metadata=args.metadata,
            ingest_root=settings.ingest_root,
            progress=not args.quiet,
        )
        catalog.save_snapshot()
        if report.added:
            catalog.refresh_statistics()
    finally:
        catalog.close()
    sys.stdout.write(report.summary() + "\n")
    for path, reason in report.skipped:
        sys.stdout.write(f"  skipped {path}: {reason}\n")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    catalog = _catalog(settings)
    try:
        n = catalog.rebuild()
    finally:
        catalog.close()
    sys.stdout.write(f"rebuilt indexes from the store: {n} tracks\n")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: MUSICPRISM_DATA_DIR or ./data)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicprism", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP service (migrates the database first)")
    _common(p)
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-migrate", action="store_true", help="do not run migrations first")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    _common(p)
    p.add_argument(
        "--downgrade",
        metavar="REVISION",
        default=None,
        help="step the schema back down to REVISION (e.g. 0001) instead; back up first",
    )
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("ingest", help="ingest a folder of audio (recursive, resumable)")
    _common(p)
    p.add_argument("folder", type=Path)
    p.add_argument(
        "--metadata",
        type=Path,
        default=None,
        help="CSV with path,title,artist,album,external_id,isrc,year",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("reindex", help="rebuild every index from the store")
    _common(p)
    p.set_defaults(func=cmd_reindex)

    for register in _plugins():
        register(sub)
    return parser


def _plugins() -> list[Callable[[argparse._SubParsersAction], object]]:
    """Subcommands that live with their code (datasets, training, demo)."""
    from model.data.cli import register as dataset
    from model.train.cli import register as training
    from service.demo import register as demo
    from service.plot_cli import register as plot

    return [demo, dataset, training, plot]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from service.observability import configure_logging

    configure_logging("debug" if args.verbose else "info")
    try:
        return int(args.func(args))
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in TRAIN_ONLY_MODULES:
            raise
        sys.stderr.write(
            f"musicprism: '{args.command}' needs the training extras ({exc.name} is not "
            "installed): pip install 'musicprism[train]', or `make install` in a checkout\n"
        )
        return 1
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ")
        sys.stderr.write(
            f"musicprism: invalid setting {where}: {message}\n"
            if where
            else f"musicprism: {message}\n"
        )
        return 2
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"musicprism: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
