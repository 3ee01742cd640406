"""Time and size of ``musicprism export`` / ``import`` (service/transfer) on a catalogue.

For each catalogue: export with and without window vectors, import the full file into a fresh
SQLite instance (another data directory), import it again (adds nothing). Times are of the
library calls, i.e. without the ~2 s the command line spends importing torch and loading the
model. Catalogues: a data directory that ``musicprism demo`` built, and optionally a synthetic
one written straight into the store as benchmarks/api_load.py writes it.

    python -m benchmarks.transfer --data-dir /tmp/demo [--synthetic 10000] \
        --out benchmarks/results/transfer.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.api_load import fill_synthetic


def _catalog(data_dir: Path, *, open_indexes: bool) -> Any:
    from service.app import build_catalog
    from service.db import upgrade
    from service.settings import Settings

    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    catalog = build_catalog(settings)
    if open_indexes:
        catalog.open()
    else:
        catalog.binding.register()
    return catalog


def measure(name: str, data_dir: Path, work: Path) -> dict[str, Any]:
    """Export ``data_dir``'s catalogue twice, import it into a fresh instance twice."""
    from service.transfer import export_catalog, import_catalog

    out: dict[str, Any] = {"catalogue": name}
    source = _catalog(data_dir, open_indexes=False)
    try:
        for windows in (True, False):
            path = work / f"{name}-{'windows' if windows else 'no-windows'}.parquet"
            started = time.perf_counter()
            report = export_catalog(source, path, windows=windows, overwrite=True)
            key = "export" if windows else "export_no_windows"
            out[key] = {"seconds": time.perf_counter() - started, "tracks": report.tracks,
                        "bytes": report.size_bytes}
    finally:
        source.close()
    target_dir = work / f"{name}-target"
    shutil.rmtree(target_dir, ignore_errors=True)
    target = _catalog(target_dir, open_indexes=True)
    try:
        for key in ("import", "import_again"):
            started = time.perf_counter()
            report = import_catalog(target, work / f"{name}-windows.parquet")
            target.indexes.save_snapshot()
            out[key] = {"seconds": time.perf_counter() - started, "rows": report.rows,
                        "added": report.added, "present": report.present}
        out["target_index_tracks"] = len(target.indexes)
    finally:
        target.close()
    out["target_db_bytes"] = (target_dir / "musicprism.db").stat().st_size
    return out


def synthetic_dir(n: int, work: Path) -> Path:
    data_dir = work / f"synthetic-{n}"
    shutil.rmtree(data_dir, ignore_errors=True)
    catalog = _catalog(data_dir, open_indexes=True)
    try:
        fill_synthetic(catalog, n)
    finally:
        catalog.close()
    return data_dir


def _cpu() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def report(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        "# Catalogue export and import (`musicprism export` / `import`)", "",
        f"Command: `{command}`", "",
        f"Machine: {_cpu()}, {os.cpu_count()} cores, "
        "shared with other work while measured (times are indicative, not best-case); "
        "SQLite store on local disk, zstd-compressed Parquet.", "",
        "| catalogue | tracks | export | file | export --no-windows | file | import "
        "(fresh SQLite) | import again |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        e, s, i, a = r["export"], r["export_no_windows"], r["import"], r["import_again"]
        lines.append(
            f"| {r['catalogue']} | {e['tracks']} | {e['seconds']:.2f} s | "
            f"{e['bytes'] / 2**20:.2f} MiB | {s['seconds']:.2f} s | {s['bytes'] / 2**20:.2f} MiB | "
            f"{i['seconds']:.2f} s ({i['added']} added, {i['rows'] / i['seconds']:.0f} "
            f"tracks/s) | {a['seconds']:.2f} s ({a['added']} added) |")
    lines += ["", "Times are of the library calls (`export_catalog`, `import_catalog` plus the "
              "index snapshot); the command line adds about 2 s to start (torch, the model). "
              "Import writes one transaction per track (`store.create_track`, as ingest does); "
              "a re-import reads and checks every row and finds each one stored.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True, help="a demo data directory")
    p.add_argument("--synthetic", type=int, default=0, help="also a synthetic catalogue of N")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/transfer.md"))
    args = p.parse_args(argv)
    words = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "benchmarks.transfer", *words])
    with tempfile.TemporaryDirectory(prefix="mp-transfer-") as tmp:
        work = Path(tmp)
        results = [measure("demo", args.data_dir, work)]
        if args.synthetic:
            results.append(measure(f"synthetic {args.synthetic}",
                                   synthetic_dir(args.synthetic, work), work))
    args.out.write_text(report(results, command))
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
