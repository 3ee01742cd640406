"""Per-worker memory of ``musicprism serve --workers 2`` with mapped snapshots on and off.

Fills a SQLite store with synthetic tracks (benchmarks/synthetic.py vectors in the shipped
model's facet layout, written in bulk with the store's ORM models), writes the index snapshot
once, then starts the real server twice (``MUSICPRISM_INDEX_MMAP`` false, then true), warms
every index in every worker with queries, and reads each worker's RSS and PSS from
``/proc/PID/smaps_rollup``. PSS divides shared pages between the processes mapping them, so
it shows what each worker really costs.

    python -m benchmarks.worker_memory --tracks 100000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, update

from benchmarks.common import markdown_table, meta_block, write_results
from benchmarks.synthetic import make_catalogue
from model.checkpoint import load_checkpoint
from service.app import DEFAULT_MODEL
from service.db import make_engine, upgrade
from service.models import Embedding, IndexEvent, ModelVersion, StoreState, Track

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "worker_memory"
BATCH = 5_000


def fill_store(url: str, n: int) -> int:
    """``n`` tracks with synthetic vectors, as the store holds them; returns the dimension."""
    model = load_checkpoint(DEFAULT_MODEL)
    schema = model.schema
    x = make_catalogue(n, schema, seed=0).x
    engine = make_engine(url)
    with engine.begin() as conn:
        mv_id = conn.execute(
            insert(ModelVersion)
            .values(
                name=model.version,
                checkpoint_sha256=model.sha256,
                dim=schema.dim,
                concept_schema=schema.to_dict(),
            )
            .returning(ModelVersion.id)
        ).scalar_one()
        for start in range(0, n, BATCH):
            _insert_batch(conn, x, start, min(n, start + BATCH), mv_id)
        conn.execute(update(StoreState).values(seq=n))
    engine.dispose()
    return int(schema.dim)


def _insert_batch(conn: Any, x: np.ndarray, start: int, stop: int, mv_id: int) -> None:
    ids = range(start + 1, stop + 1)
    conn.execute(
        insert(Track),
        [
            {
                "id": i,
                "title": f"Track {i}",
                "artist": f"Artist {i % 997}",
                "artist_key": f"artist {i % 997}",
                "duration_seconds": 30.0,
                "source": f"{i}.flac",
                "content_hash": f"{i:064x}",
            }
            for i in ids
        ],
    )
    conn.execute(
        insert(Embedding),
        [
            {
                "track_id": i,
                "model_version_id": mv_id,
                "vector": x[i - 1].tobytes(),
                "windows": x[i - 1].tobytes(),
                "n_windows": 1,
                "window_seconds": 3.0,
                "hop_seconds": 3.0,
                "seq": i,
            }
            for i in ids
        ],
    )
    conn.execute(insert(IndexEvent), [{"seq": i, "track_id": i, "op": "add"} for i in ids])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read())


def memory_kib(pid: int) -> dict[str, int]:
    """Rss, Pss, Shared_Clean, Private_Dirty ... (KiB) from ``/proc/PID/smaps_rollup``."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        out[key] = int(value.split()[0])
    return out


def workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes under the server process."""
    ps = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    children = [int(p) for p in ps.stdout.split()]
    cmdlines = {c: Path(f"/proc/{c}/cmdline").read_text() for c in children}
    return [c for c, line in cmdlines.items() if "spawn_main" in line]


def measure(data_dir: Path, n: int, mmap: bool, queries: int) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICPRISM_")}
    env.update(
        MUSICPRISM_DATA_DIR=str(data_dir),
        MUSICPRISM_INDEX_MMAP=str(mmap).lower(),
        MUSICPRISM_LOG_LEVEL="warning",
        PROMETHEUS_MULTIPROC_DIR=str(data_dir / f"prom-{mmap}"),
    )
    (data_dir / f"prom-{mmap}").mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            try:
                if get_json(f"{base}/readyz")["tracks"] == n:
                    break
            except OSError:
                pass
            if time.monotonic() - started > 600 or server.poll() is not None:
                raise RuntimeError("server did not become ready")
            time.sleep(0.5)
        ready_s = time.monotonic() - started
        rng = np.random.default_rng(1)
        for i in range(queries):  # every index in every worker (connections go to either)
            facet = ["", "&facet=genre", "&facet=mood", "&facet=instrument", "&facet=era"][i % 5]
            get_json(f"{base}/similar/{int(rng.integers(1, n + 1))}?k=10{facet}")
        time.sleep(1.0)
        workers = workers_of(server.pid)
        per = [{"pid": w, **memory_kib(w)} for w in workers]
        return {"mmap": mmap, "ready_seconds": round(ready_s, 1), "workers": per}
    finally:
        server.terminate()
        server.wait(timeout=120)


def report(results: list[dict[str, Any]], n: int, dim: int, load: str) -> str:
    rows = []
    for r in results:
        for i, w in enumerate(r["workers"]):
            rows.append(
                [
                    ("on" if r["mmap"] else "off"),
                    i + 1,
                    w["Rss"] / 1024,
                    w["Pss"] / 1024,
                    w.get("Shared_Clean", 0) / 1024,
                    w.get("Private_Dirty", 0) / 1024,
                ]
            )
    totals = {
        ("on" if r["mmap"] else "off"): sum(w["Pss"] for w in r["workers"]) / 1024 for r in results
    }
    raw = n * dim * 4 * 2 / 2**20  # the full-space index plus the facet indexes (same size)
    return "\n".join(
        [
            f"# Worker memory: {n:,} tracks, D = {dim}, `musicprism serve --workers 2`",
            "",
            f"Machine load when run: {load}.",
            "",
            markdown_table(
                ["mmap", "worker", "RSS MiB", "PSS MiB", "shared clean MiB", "private dirty MiB"],
                rows,
            ),
            "",
            f"Sum of PSS over the two workers: mmap off {totals.get('off', 0):.0f} MiB, "
            f"mmap on {totals.get('on', 0):.0f} MiB. The indexes hold {raw:.0f} MiB of vectors "
            "(full space + facets). With mmap each worker's RSS still counts the mapped index "
            "pages, but PSS splits them between the two workers: they are one copy in the page "
            "cache.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    load = f"loadavg {one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} cores"
    with tempfile.TemporaryDirectory(prefix="worker-memory-") as tmp:
        data_dir = Path(tmp) / "data"
        url = f"sqlite:///{data_dir / 'musicprism.db'}"
        upgrade(url)
        dim = fill_store(url, args.tracks)
        results = [measure(data_dir, args.tracks, mmap, args.queries) for mmap in (False, True)]
    command = "python -m benchmarks.worker_memory " + " ".join(sys.argv[1:])
    payload = {
        **meta_block(command),
        "tracks": args.tracks,
        "dim": dim,
        "load": load,
        "results": results,
    }
    markdown = report(results, args.tracks, dim, load)
    meta = payload
    header = (
        f"Command: `{command}`  \nDate: {meta['date']}  \n"
        f"Machine: {json.dumps(meta['machine'])}\n\n"
    )
    write_results(args.out, payload, header + markdown)
    print(markdown)  # noqa: T201 - the report is the output


if __name__ == "__main__":
    main()
