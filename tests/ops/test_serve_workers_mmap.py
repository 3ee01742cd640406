"""``musicprism serve --workers 2``, a real process, serves memory-mapped snapshots by default.

Nothing sets ``MUSICPRISM_INDEX_MMAP``: the worker count alone must turn mapped snapshots on.
A catalogue ingested with the command line first is loaded, mapped, by both workers; a track
uploaded through one worker is found by the other within seconds (the store's change log);
after ``POST /admin/snapshot`` both workers serve the new snapshot and answer identically,
and both answer ``GET /metrics``.
Which worker answered is read from ``/readyz`` (its ``worker`` pid) and, for other routes,
from the JSON access log (``request_id`` -> ``pid``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from support.audio import encode
from support.server import GRACEFUL, REPO_ROOT, musicprism_command, start_server, subprocess_env
from tests.service.conftest import API_KEY, SR, song
from tests.utils.models import tiny_checkpoint

SYNC_S = 1.0  # Catalog's default sync interval: how often a worker follows the store
SEEDS = 4


def poll(check: Callable[[], Any], what: str, timeout: float) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        out = check()
        if out:
            return out
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.05)


def readiness_by_worker(client: httpx2.Client, want: Callable[[dict], bool]) -> dict:
    """/readyz of both workers once each satisfies ``want`` (None until then)."""
    seen: dict[int, dict] = {}
    for _ in range(40):  # the kernel spreads new connections over both workers
        r = client.get("/readyz", headers={"Connection": "close"})
        assert r.status_code == 200, r.text
        body = r.json()
        if want(body):
            seen[body["worker"]] = body
        if len(seen) == 2:
            return seen
    return {}


def mapped_files(pid: int) -> set[str]:
    """Files the process has memory-mapped (Linux)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {parts[5] for line in lines if len(parts := line.split(maxsplit=5)) == 6}


def access_pids(log: Path, prefix: str) -> dict[str, int]:
    """request_id -> pid of the worker that served it, for request ids starting ``prefix``."""
    out = {}
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record["logger"] == "musicprism.access" and str(
            record.get("request_id", "")
        ).startswith(prefix):
            out[record["request_id"]] = record["pid"]
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_serve_two_workers_maps_snapshots_by_default(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "data"
    env = {
        "DATABASE_URL": database_url,
        "MUSICPRISM_DATA_DIR": str(data_dir),
        "MUSICPRISM_MODEL_PATH": str(tiny_checkpoint(tmp_path / "model.pt")),
        "MUSICPRISM_API_KEY": API_KEY,
        "MUSICPRISM_MIN_AUDIO_SECONDS": "0.5",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    folder = tmp_path / "import"
    folder.mkdir()
    for i in range(SEEDS):
        (folder / f"seed-{i}.wav").write_bytes(encode(song(f"seed-{i}", 1.5), SR, "wav"))
    ingest = subprocess.run(musicprism_command("ingest", str(folder), "--quiet"), cwd=REPO_ROOT,
                            env=subprocess_env(env), capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr

    log = tmp_path / "serve.log"
    server = start_server(env, log, args=("--workers", "2"))
    try:
        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            # Both workers up, each serving the ingested catalogue from a mapped snapshot.
            ready = poll(lambda: readiness_by_worker(
                client, lambda b: b["tracks"] == SEEDS), "both workers ready", 60)
            assert all(b["mmap"] is True and b["snapshot"] for b in ready.values()), ready
            for pid, body in ready.items():
                snap = data_dir.resolve() / "indexes" / body["model"] / body["snapshot"]
                held = {Path(f).parent for f in mapped_files(pid) if f.startswith(str(snap))}
                assert held == {snap}, f"worker {pid} maps {held}, not {snap}"
            seed_id = client.get("/tracks").json()["tracks"][0]["id"]

            # An upload through one worker reaches the other through the store.
            r = client.post("/tracks", headers={"X-API-Key": API_KEY, "X-Request-ID": "post"},
                            files={"file": ("new.wav", encode(song("new", 1.5), SR, "wav"))})
            assert r.status_code == 201, r.text
            new_id = r.json()["track"]["id"]
            started = time.monotonic()
            poll(lambda: readiness_by_worker(client, lambda b: b["tracks"] == SEEDS + 1),
                 "both workers hold the upload", 2 * SYNC_S + 3)
            synced_s = time.monotonic() - started
            for i in range(20):
                r = client.get(f"/similar/{seed_id}", params={"k": 10},
                               headers={"X-Request-ID": f"after-post-{i}", "Connection": "close"})
                assert r.status_code == 200, r.text
                assert new_id in [h["track"]["id"] for h in r.json()["results"]]

            # A new snapshot: every worker swaps to it, and all answer the same.
            r = client.post("/admin/snapshot", headers={"X-API-Key": API_KEY})
            assert r.status_code == 200, r.text
            written = r.json()
            assert written["written"] is True and written["mmap"] is True
            assert written["tracks"] == SEEDS + 1
            assert written["snapshot"] not in {b["snapshot"] for b in ready.values()}
            swapped = poll(lambda: readiness_by_worker(
                client, lambda b: b["snapshot"] == written["snapshot"]), "both swapped",
                2 * SYNC_S + 3)
            assert set(swapped) == set(ready)  # the same two workers, not restarted
            for pid, body in swapped.items():
                snap = data_dir.resolve() / "indexes" / body["model"] / body["snapshot"]
                assert any(Path(f).parent == snap for f in mapped_files(pid)), pid
            answers = {}
            for i in range(20):
                for query in (seed_id, new_id):
                    r = client.get(f"/similar/{query}", params={"k": 10, "facet": "mood"},
                                   headers={"X-Request-ID": f"after-snap-{i}-{query}",
                                            "Connection": "close"})
                    assert r.status_code == 200, r.text
                    answers.setdefault(query, set()).add(json.dumps(r.json(), sort_keys=True))
            assert all(len(bodies) == 1 for bodies in answers.values()), answers

            # /metrics: the answering worker serves a mapped snapshot under its delta, whose
            # index sizes the collector reads (this once answered 500 with mmap on). The same
            # connections as above, spread over both workers (its access lines are DEBUG).
            for i in range(20):
                r = client.get("/metrics", headers={"X-Request-ID": f"metrics-{i}",
                                                    "Connection": "close"})
                assert r.status_code == 200, r.text
                assert 'musicprism_index_vectors{index="mood"} 5.0' in r.text, r.text[-2000:]
    finally:
        status = server.stop()
    assert status in GRACEFUL, server.log()

    # The access log says which worker served what: both served each phase.
    assert len(set(access_pids(log, "after-post-").values())) == 2, server.log()
    assert len(set(access_pids(log, "after-snap-").values())) == 2, server.log()
    assert synced_s < 2 * SYNC_S + 3
