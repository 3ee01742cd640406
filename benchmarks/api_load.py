"""The HTTP service under concurrent load, against a demo-style baseline, in one run.

    python -m benchmarks.api_load [--quick] [--clips DIR] [--real DIR] [--get-only]

Builds a catalogue in a temporary data directory: N synthetic tracks written straight into
the store with the functions ingest uses (service.store.create_track: track row, tag scores,
window and track vectors under the shipped model's version row; vectors from
benchmarks.synthetic in the model's facet layout, tag scores from the model's own tag head)
plus a few hundred clips really ingested (decode, embed, store, index). Then, for
``musicprism serve`` with 1 and 2 workers and for the baseline (benchmarks/baseline_app.py)
serving the same vectors, a load generator in its own process (benchmarks/loadgen.py) sends
GET /similar/{id}, GET /search?tag=jazz and POST /similar (a 10 s clip of a real recording)
from 1, 4 and 16 concurrent keep-alive connections. Server CPU time per request is read from
/proc. Writes benchmarks/results/api_load.{md,json}.

``--get-only`` measures the two GET routes alone (no clips ingested, no upload, so no audio is
needed) and checks them against the one-thread baseline (issue 15): server CPU per request
within 1.5 times the baseline's, 1,500 req/s with 2 workers, p50 within 2 ms at 1 client.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmarks.baseline_app import DATA_ENV, THREADS_ENV, save_baseline_data
from benchmarks.common import command_line, finish_meta, meta_block, write_results
from benchmarks.loadgen import multipart
from benchmarks.synthetic import make_catalogue

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "api_load"
CONCURRENCY = (1, 4, 16)
TARGETS = {  # issue 5, on 2 cores
    "GET /similar/{id}": {"p50_ms": 5.0, "req_per_s": 500.0},
    "POST /similar": {"p50_ms": 80.0},
}
# issue 15: the GET routes against the one-thread baseline's GET /similar/{id}, on 2 cores
DEMO = "baseline, 1 thread"
GET_TARGETS = {"cpu_ratio": 1.5, "req_per_s_2_workers": 1500.0, "p50_ms": 2.0}
WINDOWS_PER_TRACK = 10  # a 30 s track in 3 s windows


# --- the catalogue ---------------------------------------------------------------------------
def synthetic_rows(model: Any, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Windows, track vectors and tag probabilities of ``n`` synthetic tracks.

    Track centres come from the clustered synthetic distribution; each window is its centre
    plus noise (renormalised per facet), the track vector is the windows' per-facet mean (as
    ``model.embed`` does), and tag probabilities are the model's tag head applied to it.
    """
    import torch

    from layout.facets import to_full_space

    schema = model.schema
    rng = np.random.default_rng(seed + 1)
    centres = make_catalogue(n, schema, seed=seed).x
    noise = rng.standard_normal((n, WINDOWS_PER_TRACK, schema.dim), dtype=np.float32)
    win = to_full_space((centres[:, None, :] + 0.03 * noise).reshape(-1, schema.dim), schema)
    win = win.reshape(n, WINDOWS_PER_TRACK, schema.dim)
    vec = to_full_space(win.mean(axis=1), schema)
    with torch.inference_mode():
        probs = torch.sigmoid(model.encoder.head(torch.from_numpy(vec))).numpy()
    return {"windows": win, "vectors": vec, "probs": probs}


def fill_synthetic(catalog: Any, n: int, seed: int = 0) -> int:
    """Store ``n`` synthetic tracks with ``store.create_track`` (one transaction each, as
    ingest writes them). Returns how many were created."""
    from service import store

    schema = catalog.schema
    rows = synthetic_rows(catalog.model, n, seed)
    concepts = {t: schema.concept_of_tag(t) for t in schema.tags}
    created = 0
    with catalog.binding.session() as session:
        for i in range(n):
            _, new = store.create_track(
                session,
                content_hash=hashlib.sha256(f"synthetic-{seed}-{i}".encode()).hexdigest(),
                source=f"synthetic/{i}",
                duration_seconds=3.0 * WINDOWS_PER_TRACK,
                embedding=store.EmbeddingRecord(
                    model_version_id=catalog.binding.model_version_id,
                    vector=rows["vectors"][i],
                    windows=rows["windows"][i],
                    window_seconds=3.0,
                    tag_scores=dict(zip(schema.tags, rows["probs"][i].tolist(), strict=True)),
                    tag_concepts=concepts,
                ),
                title=f"synthetic {i}",
                artist=f"artist {i % 997}",
            )
            created += int(new)
    return created


def ingest_clips(catalog: Any, paths: list[Path]) -> int:
    """Ingest real clips through ``Recordings.ingest``; returns how many were added."""
    from service.catalog import TrackMeta

    added = 0
    for path in paths:
        meta = TrackMeta(title=path.stem, source=str(path))
        added += int(catalog.recordings.ingest(path, meta).created)
    return added


def build_data_dir(data_dir: Path, *, n_synthetic: int, clips: list[Path]) -> dict[str, Any]:
    """Migrate a SQLite store under ``data_dir``, fill it, save the index snapshot, and
    write the baseline's copy of the same vectors."""
    from service import store
    from service.app import build_catalog
    from service.db import upgrade
    from service.settings import Settings

    settings = Settings(data_dir=data_dir)
    upgrade(settings.resolved_database_url)
    catalog = build_catalog(settings)
    try:
        catalog.open()
        synthetic = fill_synthetic(catalog, n_synthetic)
        real = ingest_clips(catalog, clips)
        n = catalog.indexes.rebuild()  # also saves the snapshot the servers load
        with catalog.binding.session() as session:
            ids, vectors = store.load_embeddings(
                session, model_version_id=catalog.binding.model_version_id
            )
            titles = [t.title or "" for t in store.tracks_by_ids(session, track_ids=ids)]
        save_baseline_data(data_dir / "baseline.npz", ids, vectors, titles)
        return {"tracks": n, "synthetic": synthetic, "ingested": real,
                "ids": ids.tolist(), "db_bytes": (data_dir / "musicprism.db").stat().st_size}
    finally:
        catalog.close()


def query_clip(recording: Path, seconds: float = 10.0, start: float = 30.0) -> bytes:
    """A ``seconds`` excerpt of a real recording as 44.1 kHz mono FLAC (the upload)."""
    from model.audio import decode

    decoded = decode(recording, sample_rate=44_100, start=start, duration=seconds)
    buf = io.BytesIO()
    sf.write(buf, decoded.samples, 44_100, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


# --- the servers -----------------------------------------------------------------------------
def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def start_musicprism(data_dir: Path, workers: int, log: Path) -> Any:
    from support.server import start_server

    env = {"MUSICPRISM_DATA_DIR": str(data_dir), "MUSICPRISM_WORKERS": str(workers),
           "MUSICPRISM_LOG_LEVEL": "warning"}
    return start_server(env, log, migrate=False)


def start_baseline(data_dir: Path, log: Path, threads: int | None = None) -> Any:
    from support.server import HOST, Server, free_port, subprocess_env

    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.baseline_app:app_from_env",
           "--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    settings = {DATA_ENV: str(data_dir / "baseline.npz")}
    if threads:
        settings[THREADS_ENV] = str(threads)
    env = subprocess_env(settings)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    server = Server(process=proc, base_url=f"http://{HOST}:{port}", log_path=log)
    try:
        server.wait_ready(180.0)
    except BaseException:
        server.stop(timeout=5.0)
        raise
    return server


# --- the load --------------------------------------------------------------------------------
def endpoint_requests(ids: list[int], clip: bytes, *, seed: int = 0) -> dict[str, list[dict]]:
    """Request specs per endpoint: similar-by-id over 256 random catalogue ids, the tag
    search, and the clip upload."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.asarray(ids), size=min(256, len(ids)), replace=False)
    body, ctype = multipart("file", "query.flac", clip, "musicprismbenchboundary")
    return {
        "GET /similar/{id}": [{"method": "GET", "path": f"/similar/{int(i)}?k=10"}
                              for i in picks],
        "GET /search?tag=jazz": [{"method": "GET", "path": "/search?tag=jazz&k=10"}],
        "POST /similar": [{"method": "POST", "path": "/similar", "content_type": ctype,
                           "body_b64": base64.b64encode(body).decode()}],
    }


def load_level(server: Any, requests: list[dict], concurrency: int, bounds: dict[str, Any]
               ) -> dict[str, Any]:
    """Run benchmarks.loadgen in its own process against ``server`` at one concurrency."""
    host, port = server.base_url.removeprefix("http://").split(":")
    plan = {"host": host, "port": int(port), "concurrency": concurrency,
            "requests": requests, **bounds}
    cpu0 = process_tree_cpu(server.process.pid)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.loadgen"], input=json.dumps(plan),
                          capture_output=True, text=True, cwd=ROOT, check=True,
                          timeout=bounds["max_seconds"] * 3 + 120)
    out = json.loads(proc.stdout)
    server_cpu = process_tree_cpu(server.process.pid) - cpu0  # warm-up included
    out["server_cpu_ms_per_req"] = 1e3 * server_cpu / max(out["requests"] + plan["warmup"], 1)
    return out


def run_server(name: str, server: Any, endpoints: dict[str, list[dict]],
               bounds: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for endpoint, requests in endpoints.items():
        for c in CONCURRENCY:
            row = {"server": name, "endpoint": endpoint, **load_level(
                server, requests, c, bounds["post" if endpoint.startswith("POST") else "get"])}
            logger.info("%s %s c=%d: p50 %.2f ms, %.0f req/s, %d errors", name, endpoint, c,
                        row.get("p50_ms", float("nan")), row["req_per_s"], row["errors"])
            rows.append(row)
    return rows


def profile_get_similar(server: Any, requests: list[dict], out: Path, seconds: float
                        ) -> dict[str, Any] | None:
    """Sample the server with py-spy (GIL holders) during a 4-client GET /similar/{id} run."""
    from benchmarks import pyspy

    spy = pyspy.start_record(server.process.pid, seconds + 1.0, out)
    if spy is None:
        return None
    load = load_level(server, requests, 4, {"max_requests": 10**6, "max_seconds": seconds,
                                            "warmup": 10})
    if spy.wait(timeout=seconds + 60) != 0 or not out.exists():
        logger.warning("py-spy failed (exit %s): no profile", spy.returncode)
        return None
    return {**pyspy.summarise_file(out), "load": load}


# --- the report ------------------------------------------------------------------------------
def verdict(rows: list[dict[str, Any]], server: str) -> list[str]:
    """Target checks for one server: p50 at one client, best req/s over the concurrencies,
    and errors over every level."""
    lines = []
    for endpoint, targets in TARGETS.items():
        mine = [r for r in rows if r["server"] == server and r["endpoint"] == endpoint]
        if not mine:
            continue
        one = next(r for r in mine if r["concurrency"] == 1)
        if "p50_ms" in targets and "p50_ms" in one:
            p50, t = one["p50_ms"], targets["p50_ms"]
            lines.append(f"{server}, {endpoint}: p50 {p50:.1f} ms at 1 client vs <= {t:g} ms: "
                         f"{'met' if p50 <= t else 'missed'} ({p50 / t:.2f}x the target)")
        if "req_per_s" in targets:
            best = max(mine, key=lambda r: r["req_per_s"])
            rps, t = best["req_per_s"], targets["req_per_s"]
            lines.append(f"{server}, {endpoint}: {rps:.0f} req/s at best "
                         f"({best['concurrency']} clients) vs >= {t:g}: "
                         f"{'met' if rps >= t else 'missed'} ({rps / t:.2f}x the target)")
            cpu = best["server_cpu_ms_per_req"]
            lines.append(f"{server}, {endpoint}: the server spent {cpu:.2f} ms of CPU per "
                         f"request there, so one whole core serves at most {1e3 / cpu:.0f} "
                         f"req/s and two at most {2e3 / cpu:.0f} (a bound, not a measurement)")
    errors = sum(r["errors"] for r in rows if r["server"] == server)
    lines.append(f"{server}: {errors} errors in all levels: "
                 f"{'met' if errors == 0 else 'missed'} (target: zero)")
    return lines


def get_verdict(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 15's checks of the GET routes: server CPU per request against the one-thread
    baseline's at the same concurrency, req/s with 2 workers, p50 at one client."""
    demo = {r["concurrency"]: r for r in rows
            if r["server"] == DEMO and r["endpoint"] == "GET /similar/{id}"}
    if not demo:
        return []
    lines = []
    t = GET_TARGETS
    for endpoint in ("GET /similar/{id}", "GET /search?tag=jazz"):
        for server in sorted({r["server"] for r in rows if r["server"].startswith("musicprism")}):
            mine = {r["concurrency"]: r for r in rows
                    if r["server"] == server and r["endpoint"] == endpoint}
            if not mine:
                continue
            ratios = {c: mine[c]["server_cpu_ms_per_req"] / demo[c]["server_cpu_ms_per_req"]
                      for c in mine if c in demo}
            worst = max(ratios.values())
            lines.append(
                f"{server}, {endpoint}: server CPU per request "
                + ", ".join(f"{mine[c]['server_cpu_ms_per_req']:.2f} ms vs "
                            f"{demo[c]['server_cpu_ms_per_req']:.2f} ms ({ratios[c]:.2f}x) at "
                            f"{c} client{'s' if c > 1 else ''}" for c in sorted(ratios))
                + f" against the one-thread baseline's GET /similar/{{id}}; <= "
                f"{t['cpu_ratio']:g}x: {'met' if worst <= t['cpu_ratio'] else 'missed'} "
                f"(worst {worst:.2f}x)")
            if 1 in mine and "p50_ms" in mine[1]:
                p50 = mine[1]["p50_ms"]
                lines.append(f"{server}, {endpoint}: p50 {p50:.2f} ms at 1 client vs <= "
                             f"{t['p50_ms']:g} ms: {'met' if p50 <= t['p50_ms'] else 'missed'}")
            if server.startswith("musicprism 2"):
                best = max(mine.values(), key=lambda r: r["req_per_s"])
                rps = best["req_per_s"]
                lines.append(
                    f"{server}, {endpoint}: {rps:,.0f} req/s at best ({best['concurrency']} "
                    f"clients) vs >= {t['req_per_s_2_workers']:,.0f}: "
                    f"{'met' if rps >= t['req_per_s_2_workers'] else 'missed'} "
                    f"({rps / t['req_per_s_2_workers']:.2f}x the target)")
    return lines


def report(results: dict[str, Any]) -> str:
    from benchmarks.common import markdown_table, meta_markdown

    cat = results["catalogue"]
    if results.get("query_recording"):
        upload = (f"Query clip for `POST /similar`: 10 s of `{results['query_recording']}` as "
                  f"44.1 kHz mono FLAC ({results['clip_bytes'] / 1024:.0f} KiB). ")
    else:
        upload = "GET routes only (`--get-only`): no clip ingested, no upload. "
    table = markdown_table(
        ["server", "endpoint", "clients", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors",
         "requests", "server CPU ms/req", "client CPU ms/req"],
        [[r["server"], f"`{r['endpoint']}`", r["concurrency"], r.get("p50_ms"),
          r.get("p95_ms"), r.get("p99_ms"), r["req_per_s"], r["errors"], r["requests"],
          r["server_cpu_ms_per_req"], r["client_cpu_ms_per_req"]] for r in results["rows"]],
    )
    prof = results.get("profile")
    profile = ["No profile (py-spy missing or disabled)."] if not prof else [
        f"py-spy, samples of the thread holding the GIL, {prof['samples']} samples, musicprism "
        "1 worker under 4 clients of `GET /similar/{id}` "
        f"({prof['load']['req_per_s']:.0f} req/s, server CPU "
        f"{prof['load']['server_cpu_ms_per_req']:.2f} ms per request during the profile). "
        "Share of samples inside each part (inclusive; indented parts are inside the one "
        "above):", "",
        markdown_table(["part", "share of samples"],
                       [[k, f"{100 * v:.0f} %"] for k, v in prof["shares"].items()]),
    ]
    return "\n".join([
        "# HTTP API under load", "", meta_markdown(results["meta"]), "",
        f"Catalogue: {cat['tracks']:,} tracks in SQLite: {cat['synthetic']:,} synthetic "
        "(vectors from benchmarks/synthetic.py in the model's facet layout, 10 windows each, "
        "tag scores from the model's tag head, written with `store.create_track` as ingest "
        f"writes them) and {cat['ingested']} clips really ingested (decode, embed, store, "
        f"index) from `{results['clips_dir']}`. Database {cat['db_bytes'] / 2**20:.0f} MiB.",
        "",
        f"{upload}Load: benchmarks/loadgen.py in "
        "its own process, closed loop, keep-alive; bounds per level: "
        f"GET {results['bounds']['get']}, POST {results['bounds']['post']}. Server CPU per "
        "request includes the warm-up requests; the baseline has no tag search. The baseline "
        "answers ids, titles and scores; musicprism adds track rows and per-facet "
        "explanations. 'baseline' keeps torch's and FAISS's default thread counts (all "
        "cores), as demos do; 'baseline, 1 thread' is the same app with one thread each.",
        "", table, "",
        "## Targets (2 cores)", "",
        *[f"- {line}" for line in results["verdict"]],
        *(["", "### Issue 15: the GET routes against the one-thread baseline", "",
           *[f"- {line}" for line in results["get_verdict"]]]
          if results.get("get_verdict") else []),
        "", "## Where the time goes", "", *profile,
    ])


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    meta = meta_block(command)
    meta["note"] = args.note
    quick = args.quick
    n_synth = args.tracks or (1_000 if quick else 10_000)
    n_clips = 20 if quick else 300
    clips: list[Path] = []
    recording = None
    if not args.get_only:
        clips = sorted(args.clips.rglob("*.flac"))[:n_clips]
        recordings = sorted(args.real.rglob("*.ogg"))
        if not clips or not recordings:
            raise SystemExit(f"need clips under {args.clips} (musicprism dataset build) and "
                             f"recordings under {args.real} (musicprism dataset real), or "
                             "--get-only")
        recording = recordings[0]
    bounds = {
        "get": {"max_requests": 400 if quick else 3000, "max_seconds": 3.0 if quick else 10.0,
                "warmup": 20},
        "post": {"max_requests": 40 if quick else 300, "max_seconds": 5.0 if quick else 20.0,
                 "warmup": 4},
    }
    with tempfile.TemporaryDirectory(prefix="mp-api-load-") as tmp:
        data_dir = Path(tmp)
        logger.info("building the catalogue: %d synthetic + %d clips", n_synth, len(clips))
        catalogue = build_data_dir(data_dir, n_synthetic=n_synth, clips=clips)
        clip = query_clip(recording) if recording is not None else b""
        endpoints = endpoint_requests(catalogue.pop("ids"), clip)
        if args.get_only:
            endpoints = {k: v for k, v in endpoints.items() if k.startswith("GET")}
        rows: list[dict[str, Any]] = []
        profile = None
        servers = [(f"musicprism {w} worker{'s' if w > 1 else ''}", w) for w in args.workers]
        for name, workers in servers:
            server = start_musicprism(data_dir, workers, data_dir / f"serve-{workers}.log")
            try:
                rows += run_server(name, server, endpoints, bounds)
                if workers == 1 and args.profile:
                    profile = profile_get_similar(server, endpoints["GET /similar/{id}"],
                                                  data_dir / "pyspy.txt", 4.0 if quick else 8.0)
            finally:
                server.stop()
        baseline_endpoints = {k: v for k, v in endpoints.items() if not k.startswith("GET /search")}
        for name, threads in (("baseline", None), ("baseline, 1 thread", 1)):
            server = start_baseline(data_dir, data_dir / "baseline.log", threads)
            try:
                rows += run_server(name, server, baseline_endpoints, bounds)
            finally:
                server.stop()
    verdicts = [line for name, _ in servers for line in verdict(rows, name)]
    return {"meta": finish_meta(meta), "catalogue": catalogue, "rows": rows,
            "verdict": verdicts, "get_verdict": get_verdict(rows), "bounds": bounds,
            "clips_dir": str(args.clips), "get_only": args.get_only,
            "query_recording": recording.name if recording is not None else None,
            "clip_bytes": len(clip), "quick": quick, "profile": profile}


def main(argv: list[str] | None = None) -> int:
    data = ROOT / "data" / "datasets"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 tracks, short levels")
    ap.add_argument("--tracks", type=int, default=None, help="synthetic tracks (default 10,000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clips", type=Path, default=None,
                    help="folder of clips to ingest for real (flac; default: the benchmark "
                    "corpus, bench-full or else bench-ci, under data/datasets)")
    ap.add_argument("--real", type=Path, default=data / "real",
                    help="folder of real recordings (ogg); the query clip is cut from one")
    ap.add_argument("--get-only", action="store_true",
                    help="the GET routes only: no clips ingested, no upload (no audio needed)")
    ap.add_argument("--no-profile", dest="profile", action="store_false",
                    help="skip the py-spy profile of GET /similar/{id}")
    ap.add_argument("--out", type=Path, default=RESULTS, help="result path without suffix")
    ap.add_argument("--note", default="", help="a remark for the results (e.g. other load)")
    args = ap.parse_args(argv)
    if args.clips is None:
        corpora = [data / c / "audio" for c in ("bench-full", "bench-ci")]
        args.clips = next((c for c in corpora if c.is_dir()), corpora[0])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    command = command_line("benchmarks.api_load", argv)
    results = run(args, command)
    write_results(args.out, results, report(results))
    for line in results["verdict"] + results["get_verdict"]:
        logger.info("%s", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
