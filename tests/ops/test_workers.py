"""Two real uvicorn worker processes, as ``musicprism serve --workers 2`` runs them: one
scrape adds up both workers' counts, and every worker logs JSON lines with request ids."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.observability import MULTIPROC_ENV
from tests.ops.files import ROOT

SERVE = """
    import sys, uvicorn
    from service.observability import logging_config, prepare_metrics_for_workers
    prepare_metrics_for_workers(2)
    uvicorn.run("tests.ops.workers_app:create", factory=True, host="127.0.0.1",
                port=int(sys.argv[1]), workers=2, log_config=logging_config("info", fmt="json"),
                access_log=False)
"""
N = 24


def get(url: str, request_id: str | None = None) -> tuple[int, str | None, str]:
    """Status, the X-Request-ID response header, and the body."""
    request = urllib.request.Request(url, headers={"X-Request-ID": request_id} if request_id
                                     else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers.get("X-Request-ID"), response.read().decode()


@pytest.mark.slow
def test_two_workers_one_scrape(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path / "prom")}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SERVE), str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/items/0")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "uvicorn did not answer"
                time.sleep(0.1)
        time.sleep(1.0)  # let the second worker finish starting
        pids: set[int] = set()
        n = 0
        while n < N or len(pids) < 2:  # until both workers have served some
            n += 1
            assert n <= 20 * N, f"one worker served all {n} requests"
            status, echoed, body = get(f"{base}/items/{n}", f"req-{n}")
            assert status == 200 and echoed == f"req-{n}"
            pids.add(json.loads(body)["pid"])
        totals = []
        for _ in range(4):  # whichever worker answers, the sum is the same
            text = get(f"{base}/metrics")[2]
            counts = {tuple(sorted(s.labels.items())): s.value
                      for f in text_string_to_metric_families(text) for s in f.samples
                      if s.name == "musicprism_http_requests_total"}
            totals.append(counts[(("method", "GET"), ("route", "/items/{item_id}"),
                                  ("status", "200"))])
        assert totals == [n + 1.0] * 4
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert len(records) == len(stderr.splitlines()), "every log line is JSON"
    items = {r["request_id"]: r for r in records if r["logger"] == "tests.ops.workers"}
    assert {f"req-{i}" for i in range(1, n + 1)} <= set(items)
    assert all(items[f"req-{i}"]["message"] == f"item {i}" for i in range(1, n + 1))
    assert {items[f"req-{i}"]["pid"] for i in range(1, n + 1)} == pids
    access = [r for r in records if r["logger"] == "musicprism.access"
              and r["route"] == "/items/{item_id}"]
    assert len(access) == n + 1
    assert any(r["logger"] == "uvicorn.error" for r in records)  # uvicorn's own lines, as JSON
