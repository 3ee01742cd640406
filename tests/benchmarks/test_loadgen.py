"""benchmarks/loadgen.py: request bytes, response framing, summaries, and a run against a
tiny real HTTP server."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from benchmarks.loadgen import (
    ProtocolError,
    Request,
    build_request,
    multipart,
    parse_head,
    run_plan,
    summarise,
)


def test_build_request_get_and_post():
    assert build_request("h", 80, Request("GET", "/a?b=1")) == (
        b"GET /a?b=1 HTTP/1.1\r\nHost: h:80\r\nAccept: */*\r\n\r\n"
    )
    body, ctype = multipart("file", "q.flac", b"DATA", "BND")
    assert body == (
        b'--BND\r\nContent-Disposition: form-data; name="file"; filename="q.flac"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nDATA\r\n--BND--\r\n"
    )
    wire = build_request("h", 80, Request("POST", "/similar", body, ctype))
    head, _, rest = wire.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    assert b"Content-Type: multipart/form-data; boundary=BND" in head
    assert rest == body


def test_parse_head():
    head = b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\nConnection: close\r\n\r\n"
    assert parse_head(head) == (404, 12, True)
    assert parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == (200, 0, False)
    with pytest.raises(ProtocolError, match="Content-Length"):
        parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(ProtocolError, match="status line"):
        parse_head(b"garbage\r\n\r\n")


def test_summarise_hand_values():
    lat = [0.001 * v for v in (10, 1, 9, 2, 8, 3, 7, 4, 6, 5)]
    out = summarise(lat, {"200": 8, "500": 1, "OSError": 1}, elapsed=2.0)
    assert (out["requests"], out["ok"], out["errors"]) == (10, 8, 2)
    assert out["req_per_s"] == 4.0
    assert out["p50_ms"] == pytest.approx(5.5)
    assert out["p95_ms"] == pytest.approx(9.55)
    assert out["p99_ms"] == pytest.approx(9.91)
    assert out["mean_ms"] == pytest.approx(5.5)
    assert out["max_ms"] == pytest.approx(10.0)


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 keep-alive: 200 with the path as body, 500 on /fail (no request bodies)."""

    def handle(self) -> None:
        while line := self.rfile.readline():
            path = line.split(b" ")[1]
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            self.server.seen.append(path)  # type: ignore[attr-defined]
            status = b"500 Oops" if path == b"/fail" else b"200 OK"
            self.wfile.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(path), path))


@pytest.fixture
def tiny_server() -> Iterator[tuple[int, list[bytes]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_run_plan_counts_requests_and_errors(tiny_server):
    port, seen = tiny_server
    plan = {"host": "127.0.0.1", "port": port, "concurrency": 3, "max_requests": 30,
            "max_seconds": 30.0, "warmup": 3,
            "requests": [{"method": "GET", "path": "/a"}, {"method": "GET", "path": "/fail"}]}
    out = run_plan(plan)
    assert out["requests"] == 30 and out["concurrency"] == 3
    assert out["statuses"] == {"200": 15, "500": 15}
    assert out["errors"] == 15 and out["ok"] == 15
    assert len(seen) == 33  # warm-up included
    assert out["p50_ms"] <= out["p95_ms"] <= out["p99_ms"]
