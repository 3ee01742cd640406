"""``musicprism serve | migrate | ingest | reindex | worker | demo``: running the service and
filling its catalogue. Each maps its flags onto ``Settings`` and calls the code the service runs."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from service.cli.common import add_data_dir, settings_from
from service.ingest_engines import ENGINES
from service.settings import Settings

if TYPE_CHECKING:  # the catalog imports torch: keep `musicprism --help` fast
    from service.catalog import Catalog

log = logging.getLogger("musicprism")


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
    try:
        catalog.open()
    except BaseException:
        catalog.close()
        raise
    return catalog


def cmd_ingest(args: argparse.Namespace) -> int:
    from service.app import resolve_model_path
    from service.ingest import ingest_folder
    from service.ingest_engines import EngineSpec, EngineUnavailable
    from service.ingest_pool import usable_cores

    settings = settings_from(args)
    processes = args.processes
    if processes is None and args.engine == "local":
        processes = usable_cores()
    if processes is not None and processes < 1:
        sys.stderr.write(f"error: --processes must be at least 1, got {processes}\n")
        return 2
    if args.address is not None and args.engine != "ray":
        sys.stderr.write("error: --address is for --engine ray\n")
        return 2
    engine = EngineSpec(args.engine, processes, resolve_model_path(settings), args.address)
    catalog = _catalog(settings)
    try:
        report = ingest_folder(
            catalog,
            args.folder,
            metadata=args.metadata,
            ingest_root=settings.ingest_root,
            progress=not args.quiet,
            engine=engine,
        )
        catalog.indexes.save_snapshot()
        if report.added:
            catalog.recordings.refresh_statistics()
    except EngineUnavailable as exc:
        sys.stderr.write(f"musicprism: {exc}\n")
        return 1
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
        n = catalog.indexes.rebuild()
    finally:
        catalog.close()
    sys.stdout.write(f"rebuilt indexes from the store: {n} tracks\n")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Work background jobs beside (or instead of) the serving processes, until SIGTERM or
    SIGINT (``--drain``: until no job or webhook is left to do)."""
    import signal

    from service.app import job_parts

    settings = settings_from(args)
    catalog = _catalog(settings)
    _, runner = job_parts(settings, catalog)
    try:
        if args.drain:
            done = 0
            while runner.run_once():
                done += 1
            sys.stdout.write(f"worked {done} jobs and webhooks; none left\n")
            return 0
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: runner.request_stop())
        log.info("worker %s: %d threads", runner.name, args.threads)
        runner.start(args.threads)
        runner.wait()
        runner.stop()
    finally:
        catalog.indexes.save_snapshot()
        catalog.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from service.demo import ensure_demo

    message = ensure_demo(settings_from(args), size=args.size, progress=not args.quiet)
    sys.stdout.write(message + "\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve``, ``migrate``, ``ingest``, ``reindex``, ``worker`` and ``demo``."""
    p = sub.add_parser("serve", help="run the HTTP service (migrates the database first)")
    add_data_dir(p)
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-migrate", action="store_true", help="do not run migrations first")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    add_data_dir(p)
    p.add_argument(
        "--downgrade",
        metavar="REVISION",
        default=None,
        help="step the schema back down to REVISION (e.g. 0001) instead; back up first",
    )
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("ingest", help="ingest a folder of audio (recursive, resumable)")
    add_data_dir(p)
    p.add_argument("folder", type=Path)
    p.add_argument(
        "--metadata",
        type=Path,
        default=None,
        help="CSV with path,title,artist,album,external_id,isrc,year",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="where files are decoded, embedded and fingerprinted: local (this "
                        "machine's processes) or ray (a Ray cluster; needs the [ray] extra); "
                        "the store is written from this process either way (default: local)")
    p.add_argument("--processes", type=int, default=None, metavar="N",
                   help="processes (local) or Ray actors (ray) that decode, embed and "
                        "fingerprint (default: one per usable core, or per CPU of the Ray "
                        "cluster; 1 with local: all in this process)")
    p.add_argument("--address", default=None, metavar="HOST:PORT",
                   help="--engine ray: join the Ray cluster there (host:port, "
                        "ray://host:port or auto) instead of starting one for this run")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("reindex", help="rebuild every index from the store")
    add_data_dir(p)
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("worker", help="work background jobs (uploads with async=true, POST /jobs)")
    add_data_dir(p)
    p.add_argument("--threads", type=int, default=1, help="jobs worked at once (default 1)")
    p.add_argument("--drain", action="store_true",
                   help="work until nothing is left to do, then exit (webhooks not yet due wait)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("demo", help="make sure a model and a demo catalogue are there")
    add_data_dir(p)
    p.add_argument(
        "--size",
        choices=["ci", "small", "full"],
        default="ci",
        help="benchmark corpus size to ingest (default: ci, ~200 clips)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)
