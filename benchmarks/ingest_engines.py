"""Ingest throughput by engine: ``musicprism ingest`` with the local engine in 1 and in N
processes, and with the ray engine on a local Ray cluster of N CPUs, on the same files.

    python -m benchmarks.ingest_engines [--tracks 40] [--real DIR] [--workers 2]

Each run is the real command (service.cli ``ingest``) in this process into an empty store,
once on SQLite and once on PostgreSQL (a schema of its own, dropped afterwards). 'ingest s'
is :func:`service.ingest.ingest_folder` from its call to its return: it includes starting
the engine (the worker processes, or the Ray cluster and its actors, each loading the model)
as a user waits for it; 'command s' adds loading the model here and migrating. Writes
benchmarks/results/ingest-engines.{md,json}.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import (
    command_line,
    finish_meta,
    markdown_table,
    meta_block,
    meta_markdown,
    write_results,
)
from benchmarks.ingest import (
    DEFAULT_POSTGRES,
    ROOT,
    on_real_files,
    postgres_schema_url,
    stored_audio_s,
)

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results" / "ingest-engines"


def engines(workers: int) -> list[tuple[str, list[str]]]:
    """(label, ``musicprism ingest`` flags) of each engine measured."""
    return [("local, 1 process", ["--engine", "local", "--processes", "1"]),
            (f"local, {workers} processes", ["--engine", "local", "--processes", str(workers)]),
            (f"ray, local cluster of {workers} CPUs",
             ["--engine", "ray", "--processes", str(workers)])]


@contextmanager
def timed_ingest(into: dict[str, Any]) -> Iterator[None]:
    """Time :func:`service.ingest.ingest_folder` (as the command calls it) into ``into``."""
    import service.ingest

    real = service.ingest.ingest_folder

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        report = real(*args, **kwargs)
        into.update(seconds=time.perf_counter() - start, added=report.added,
                    skipped=len(report.skipped))
        return report

    service.ingest.ingest_folder = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        service.ingest.ingest_folder = real  # type: ignore[assignment]


def ingest_once(folder: Path, data_dir: Path, database_url: str | None,
                flags: list[str]) -> dict[str, Any]:
    """``musicprism ingest FOLDER FLAGS`` into an empty store, timed."""
    from service.cli import main as cli

    old = os.environ.get("DATABASE_URL")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    loop: dict[str, Any] = {}
    start = time.perf_counter()
    try:
        with timed_ingest(loop):
            code = cli(["ingest", str(folder), "--data-dir", str(data_dir), "--quiet", *flags])
    finally:
        if old is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = old
    command_s = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"musicprism ingest {' '.join(flags)} exited with {code}")
    url = database_url or f"sqlite:///{(data_dir / 'musicprism.db').resolve()}"
    audio_s = stored_audio_s(url)
    return {"added": loop["added"], "skipped": loop["skipped"], "audio_s": audio_s,
            "ingest_s": loop["seconds"], "command_s": command_s,
            "tracks_per_min": 60 * loop["added"] / loop["seconds"],
            "audio_h_per_wall_h": audio_s / loop["seconds"]}


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A URL confined to a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    schema = f"mp_bench_engines_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield postgres_schema_url(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def run_all(folder: Path, postgres: str | None, workers: int) -> list[dict[str, Any]]:
    rows = []
    for label, flags in engines(workers):
        for backend in ("SQLite", "PostgreSQL") if postgres else ("SQLite",):
            logger.info("%s on %s", label, backend)
            with tempfile.TemporaryDirectory(prefix="mp-engines-") as tmp:
                if backend == "SQLite":
                    row = ingest_once(folder, Path(tmp), None, flags)
                else:
                    with postgres_schema(str(postgres)) as url:
                        row = ingest_once(folder, Path(tmp), url, flags)
            rows.append({"engine": label, "backend": backend, **row})
    return rows


def report(results: dict[str, Any]) -> str:
    rows = results["rows"]
    return "\n".join([
        "# Ingest throughput by engine", "", meta_markdown(results["meta"]), "",
        f"`musicprism ingest` over {results['files']} real recordings "
        f"({results['audio_h']:.2f} h of audio, {results['mib']:.0f} MiB, formats "
        f"{results['formats']}) from `{results['source']}`, into an empty store each run. "
        "'ingest s' includes starting the engine (worker processes or the Ray cluster and its "
        "actors, each loading the model); 'command s' adds loading the model in the command "
        "and migrating. Runs are one after the other, engine by engine.",
        "",
        markdown_table(
            ["engine", "backend", "tracks", "skipped", "ingest s", "command s", "tracks/min",
             "audio h per wall h (x real time)"],
            [[r["engine"], r["backend"], r["added"], r["skipped"], r["ingest_s"],
              r["command_s"], r["tracks_per_min"], r["audio_h_per_wall_h"]] for r in rows]),
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=40, help="how many recordings (default 40)")
    ap.add_argument("--real", type=Path, default=ROOT / "data" / "datasets" / "real")
    ap.add_argument("--workers", type=int, default=2,
                    help="processes of the second local run, CPUs of the Ray cluster")
    ap.add_argument("--postgres", default=os.environ.get("MUSICPRISM_TEST_POSTGRES_URL")
                    or DEFAULT_POSTGRES, help="PostgreSQL URL ('' to skip)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="result path without suffix")
    ap.add_argument("--note", default="", help="a remark for the results (e.g. other load)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    meta = meta_block(command_line("benchmarks.ingest_engines", argv))
    meta["note"] = args.note
    results = {
        "meta": finish_meta(meta),
        **on_real_files(args.real, args.tracks, "mp-engines-src-",
                        lambda folder: run_all(folder, args.postgres or None, args.workers)),
        "workers": args.workers,
    }
    write_results(args.out, results, report(results))
    for r in results["rows"]:
        logger.info("%s, %s: %.1f tracks/min, %.0f x real time", r["engine"], r["backend"],
                    r["tracks_per_min"], r["audio_h_per_wall_h"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
