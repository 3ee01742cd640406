"""End-to-end ingestion throughput: ``musicprism ingest`` over a folder of real recordings.

    python -m benchmarks.ingest [--quick] [--real DIR] [--postgres URL]

Runs the real command (service.cli ``ingest``: decode, embed, store, index, snapshot) in this
process, once on SQLite and once on PostgreSQL (a schema of its own, dropped afterwards),
each into an empty store. The steps are timed by wrapping the functions the catalogue calls
(``model.audio.sha256_of`` and ``decode``, ``Embedder.embed``, ``store.create_track``,
``FacetIndexSet.add``), so the split is of the very run that is measured. Reports tracks
per minute, hours of audio per wall-clock hour, and the split. Writes
benchmarks/results/ingest.{md,json}.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
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

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "ingest"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SUFFIXES = {".ogg", ".opus", ".flac", ".wav", ".mp3", ".m4a"}
STEPS = ("hash", "decode", "embed", "fingerprint", "store", "index")
FINGERPRINT_TABLES = ("fingerprint_hashes", "track_fingerprints")
FINGERPRINT_INDEXES = ("ix_fingerprint_hashes_lookup", "ix_fingerprint_hashes_track_id",
                       "pk_track_fingerprints")


class StepTimer:
    """Accumulates wall seconds and calls per step; ``audio_s`` sums decoded durations."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.audio_s = 0.0

    def wrap(self, step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[step] += time.perf_counter() - start
                self.calls[step] += 1

        return timed

    def split(self, total_s: float) -> dict[str, dict[str, float]]:
        """Seconds and share of ``total_s`` per step, plus ``other`` (the rest: discovery,
        duplicate checks, progress, the snapshot)."""
        out = {s: {"seconds": self.seconds.get(s, 0.0), "calls": self.calls.get(s, 0)}
               for s in STEPS}
        out["other"] = {"seconds": total_s - sum(v["seconds"] for v in out.values()),
                        "calls": 0}
        for v in out.values():
            v["share"] = v["seconds"] / total_s if total_s > 0 else 0.0
        return out


@contextmanager
def instrumented(timer: StepTimer) -> Iterator[None]:
    """Wrap the functions the catalogue calls with ``timer`` (restored afterwards)."""
    from index.facet_set import FacetIndexSet
    from model import audio
    from model import fingerprint as fp
    from model.embed import Embedder
    from service import store

    def decode(*args: Any, **kwargs: Any) -> Any:
        decoded = real_decode(*args, **kwargs)
        timer.audio_s += decoded.duration
        return decoded

    patches = [(audio, "sha256_of", timer.wrap("hash", audio.sha256_of)),
               (audio, "decode", timer.wrap("decode", decode)),
               (Embedder, "embed", timer.wrap("embed", Embedder.embed)),
               (fp, "fingerprint", timer.wrap("fingerprint", fp.fingerprint)),
               (store, "create_track", timer.wrap("store", store.create_track)),
               (FacetIndexSet, "add", timer.wrap("index", FacetIndexSet.add))]
    real_decode = audio.decode
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, fn in patches:
            setattr(obj, name, fn)
        yield
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)


def pick(folder: Path, n: int | None) -> list[Path]:
    """Audio files under ``folder``, sorted; ``n`` of them spread evenly over the list."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if n is None or n >= len(files):
        return files
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def stage(files: list[Path], root: Path, dest: Path) -> Path:
    """Copy ``files`` into ``dest`` keeping their paths below ``root`` (ingest follows no
    link out of its folder, so a subset is a copy)."""
    for f in files:
        target = dest / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return dest


def on_real_files(real: Path, tracks: int | None, prefix: str,
                  run: Callable[[Path], list[dict[str, Any]]]) -> dict[str, Any]:
    """``run`` over a staged copy of ``tracks`` recordings picked from ``real``: its rows and
    what the results files say of the files (count, size, hours, formats)."""
    files = pick(real, tracks)
    if not files:
        raise SystemExit(f"no audio under {real}: run `musicprism dataset real` first")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        rows = run(stage(files, real, Path(tmp)))
    return {
        "rows": rows, "files": len(files), "source": str(real),
        "mib": sum(f.stat().st_size for f in files) / 2**20,
        "audio_h": rows[0]["audio_s"] / 3600,
        "formats": ", ".join(sorted({f.suffix.lstrip('.') for f in files})),
    }


def postgres_schema_url(base: str, schema: str) -> str:
    """``base`` with connections confined to ``schema`` (``search_path``); commits stay
    synchronous, as in a deployment."""
    from sqlalchemy.engine import make_url

    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def fingerprint_storage(database_url: str) -> dict[str, int]:
    """Rows of ``fingerprint_hashes`` and bytes on disk of the fingerprint tables and their
    indexes (SQLite: ``dbstat`` pages; PostgreSQL: ``pg_total_relation_size``)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM fingerprint_hashes")).scalar_one()
            if engine.dialect.name == "sqlite":
                names = ", ".join(f"'{n}'" for n in (*FINGERPRINT_TABLES, *FINGERPRINT_INDEXES,
                                                      "sqlite_autoindex_track_fingerprints_1"))
                size = conn.execute(
                    text(f"SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({names})")
                ).scalar_one()
            else:
                size = sum(conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one()
                           for t in FINGERPRINT_TABLES)
    finally:
        engine.dispose()
    return {"rows": int(rows), "bytes": int(size)}


def identify_latency(folder: Path, data_dir: Path, database_url: str | None,
                     n: int = 20) -> dict[str, Any]:
    """Time ``Recordings.identify`` (fingerprint, store lookup, alignment) on 10 s excerpts of
    ``n`` of the ingested recordings, re-encoded as MP3; count those identified as their own."""
    import numpy as np

    from model.audio import decode
    from service import store
    from service.app import build_catalog
    from service.settings import Settings
    from support.audio import encode

    settings = Settings(data_dir=data_dir, database_url=database_url, environment="test")
    catalog = build_catalog(settings)
    seconds, own = [], 0
    try:
        with catalog.binding.session() as session:
            sources = {t.id: t.source for t in store.list_tracks(session, limit=100_000)}
        rng = np.random.default_rng(0)
        for path in pick(folder, n):
            samples = decode(path, sample_rate=16_000, max_seconds=3600).samples
            if len(samples) < 12 * 16_000:
                continue
            start = int(rng.integers(0, len(samples) - 10 * 16_000))
            clip = decode(encode(samples[start:start + 160_000], 16_000, "mp3"),
                          sample_rate=16_000).samples
            t0 = time.perf_counter()
            matches = catalog.recordings.identify(clip)
            seconds.append(time.perf_counter() - t0)
            own += bool(matches) and sources.get(matches[0].track_id) == str(
                path.relative_to(folder))
    finally:
        catalog.close()
    return {"identify_queries": len(seconds), "identify_own_first": int(own),
            "identify_ms_p50": 1e3 * float(np.median(seconds)),
            "identify_ms_max": 1e3 * float(np.max(seconds))}


def stored_audio_s(database_url: str) -> float:
    """Seconds of audio the store holds (the tracks' durations)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return float(conn.execute(text("SELECT sum(duration_seconds) FROM tracks")).scalar()
                         or 0.0)
    finally:
        engine.dispose()


def ingest_once(folder: Path, data_dir: Path, database_url: str | None,
                processes: int = 1) -> dict[str, Any]:
    """Run ``musicprism ingest FOLDER --processes N`` from this process; time it and its
    steps (with N > 1, decoding, embedding and fingerprinting happen in the workers, where
    the step timers do not reach: only the main process's steps are split out)."""
    import service.ingest
    from service.cli import main as cli

    timer = StepTimer()
    loop: dict[str, float] = {}
    real_ingest = service.ingest.ingest_folder

    def timed_ingest(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        report = real_ingest(*args, **kwargs)
        loop["seconds"] = time.perf_counter() - start
        loop["added"], loop["skipped"] = report.added, report.skipped
        return report

    env = {"DATABASE_URL": database_url} if database_url else {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    service.ingest.ingest_folder = timed_ingest  # type: ignore[assignment]
    start = time.perf_counter()
    try:
        with instrumented(timer):
            code = cli(["ingest", str(folder), "--data-dir", str(data_dir), "--quiet",
                        "--processes", str(processes)])
    finally:
        service.ingest.ingest_folder = real_ingest  # type: ignore[assignment]
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    command_s = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"musicprism ingest exited with {code}")
    loop_s = loop["seconds"]
    url = database_url or f"sqlite:///{(data_dir / 'musicprism.db').resolve()}"
    storage = fingerprint_storage(url)
    audio_s = timer.audio_s if processes == 1 else stored_audio_s(url)
    identify = identify_latency(folder, data_dir, database_url)
    return {
        **identify,
        "fingerprint_rows": storage["rows"], "fingerprint_bytes": storage["bytes"],
        "added": loop["added"], "skipped": len(loop["skipped"]),
        "skipped_why": [f"{path}: {why}" for path, why in loop["skipped"]],
        "audio_s": audio_s, "processes": processes,
        "command_s": command_s, "ingest_s": loop_s,
        "tracks_per_min": 60 * loop["added"] / loop_s,
        "audio_h_per_wall_h": audio_s / loop_s,
        "split": timer.split(loop_s),
    }


def run_backends(folder: Path, postgres: str | None, processes: int = 1
                 ) -> list[dict[str, Any]]:
    """Ingest ``folder`` into an empty SQLite store, then an empty PostgreSQL schema."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    rows = []
    with tempfile.TemporaryDirectory(prefix="mp-ingest-sqlite-") as tmp:
        logger.info("SQLite: ingesting %s", folder)
        rows.append({"backend": "SQLite", **ingest_once(folder, Path(tmp), None, processes)})
    if postgres:
        schema = f"mp_bench_ingest_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres, poolclass=NullPool)
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            with tempfile.TemporaryDirectory(prefix="mp-ingest-pg-") as tmp:
                logger.info("PostgreSQL (schema %s): ingesting %s", schema, folder)
                url = postgres_schema_url(postgres, schema)
                rows.append({"backend": "PostgreSQL",
                             **ingest_once(folder, Path(tmp), url, processes)})
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    return rows


def _share(step: dict[str, float]) -> str:
    return f"{step['seconds']:.1f} s ({100 * step['share']:.0f} %)"


def report(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        "# Ingestion throughput", "", meta_markdown(results["meta"]), "",
        f"`musicprism ingest` over {results['files']} real recordings "
        f"({results['audio_h']:.2f} h of audio, {results['mib']:.0f} MiB, formats "
        f"{results['formats']}) from `{results['source']}`, into an empty store each time, "
        + ("in one process" if results.get("processes", 1) == 1 else
           f"with {results['processes']} worker processes decoding, embedding and "
           "fingerprinting (their time is inside 'other' below, not split into steps)")
        + " (model loading and migration are in 'command', not in 'ingest').",
        "",
        markdown_table(
            ["backend", "tracks", "skipped", "ingest s", "command s", "tracks/min",
             "audio h per wall h", "store ms per track"],
            [[r["backend"], r["added"], r["skipped"], r["ingest_s"], r["command_s"],
              r["tracks_per_min"], r["audio_h_per_wall_h"],
              1e3 * r["split"]["store"]["seconds"] / max(r["split"]["store"]["calls"], 1)]
             for r in rows],
        ),
        "",
        "The backends run one after the other, so a change in the machine's other load "
        "between them shows in every step; only 'store' depends on the backend.",
        "",
        *[f"Skipped ({r['backend']}): {why}" for r in rows for why in r["skipped_why"]],
        "",
        "Fingerprints (model/fingerprint.py) stored by the same run: hash rows, and bytes on "
        "disk of the two fingerprint tables with their indexes:",
        "",
        markdown_table(
            ["backend", "hash rows", "rows per audio s", "MiB", "MiB per audio hour",
             "bytes per row"],
            [[r["backend"], r["fingerprint_rows"], r["fingerprint_rows"] / r["audio_s"],
              r["fingerprint_bytes"] / 2**20,
              r["fingerprint_bytes"] / 2**20 / (r["audio_s"] / 3600),
              r["fingerprint_bytes"] / max(r["fingerprint_rows"], 1)] for r in rows],
        ),
        "",
        "Identification against that store (`Recordings.identify`: fingerprint a 10 s MP3 "
        "excerpt of an ingested recording, look its hashes up, align): "
        + "; ".join(f"{r['backend']} {r['identify_own_first']} of {r['identify_queries']} "
                    f"excerpts identified as their own recording, p50 "
                    f"{r['identify_ms_p50']:.0f} ms, max {r['identify_ms_max']:.0f} ms"
                    for r in rows) + ".",
        "",
        "Where the ingest time goes (wall seconds and share; 'decode' includes resampling to "
        "16 kHz mono, 'embed' the windows' forward passes, 'fingerprint' the landmark hashes, "
        "'store' the transaction writing the track, its vectors, tag scores and fingerprint, "
        "'index' the FAISS adds, 'other' the rest):",
        "",
        markdown_table(
            ["step", *[r["backend"] for r in rows]],
            [[step, *[_share(r["split"][step]) for r in rows]] for step in (*STEPS, "other")],
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 recordings instead of all")
    ap.add_argument("--tracks", type=int, default=None, help="how many recordings (default all)")
    ap.add_argument("--real", type=Path, default=ROOT / "data" / "datasets" / "real")
    ap.add_argument("--postgres", default=os.environ.get("MUSICPRISM_TEST_POSTGRES_URL")
                    or DEFAULT_POSTGRES, help="PostgreSQL URL ('' to skip)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="result path without suffix")
    ap.add_argument("--note", default="", help="a remark for the results (e.g. other load)")
    ap.add_argument("--processes", type=int, default=1,
                    help="musicprism ingest --processes (default 1: every step timed)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    command = command_line("benchmarks.ingest", argv)
    meta = meta_block(command)
    meta["note"] = args.note
    results = {
        "meta": finish_meta(meta),
        **on_real_files(args.real, args.tracks or (20 if args.quick else None), "mp-ingest-src-",
                        lambda folder: run_backends(folder, args.postgres or None,
                                                    args.processes)),
        "quick": args.quick, "processes": args.processes,
    }
    write_results(args.out, results, report(results))
    for r in results["rows"]:
        logger.info("%s: %.1f tracks/min, %.0f h of audio per hour", r["backend"],
                    r["tracks_per_min"], r["audio_h_per_wall_h"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
