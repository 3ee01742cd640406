"""The body-size limit bites while the body streams in, before it is spooled or parsed."""

from __future__ import annotations

import anyio
import pytest
from fastapi import FastAPI, File, UploadFile

from service.api.limits import BodySizeLimit

CHUNK = 64 * 1024


def upload_app(limit: int) -> BodySizeLimit:
    app = FastAPI()

    @app.post("/upload")
    def receive(file: UploadFile = File(...)) -> dict[str, int]:
        return {"size": len(file.file.read())}

    return BodySizeLimit(app, max_bytes=limit)


def run(app: BodySizeLimit, chunks: int, *, declared: int | None = None) -> tuple[int, int, bytes]:
    """POST a multipart body of ``chunks`` x 64 kB; returns (status, chunks read, body)."""
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    tail = b"\r\n--xyz--\r\n"
    parts = [head] + [b"\1" * CHUNK] * chunks + [tail]
    read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        read += 1
        more = read < len(parts)
        return {"type": "http.request", "body": parts[read - 1], "more_body": more}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", b"multipart/form-data; boundary=xyz")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": headers,
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "root_path": "",
        "server": ("test", 80),
        "client": ("test", 1),
    }
    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, read, body


def test_under_the_limit_passes():
    status, read, body = run(upload_app(10 * CHUNK), 4)
    assert status == 200 and body == b'{"size":262144}'
    assert read == 6


@pytest.mark.parametrize("chunks", [11, 200])
def test_streamed_body_stops_at_the_limit(chunks):
    status, read, body = run(upload_app(10 * CHUNK), chunks)
    assert status == 413
    assert body == b'{"detail": "request body is larger than the limit of 655360 bytes"}'
    assert read <= 12  # head + 10 chunks + the one that crossed the limit; never the rest


def test_declared_length_over_the_limit_reads_nothing():
    status, read, _ = run(upload_app(10 * CHUNK), 200, declared=200 * CHUNK)
    assert status == 413 and read == 0


def test_bogus_declared_length_is_still_counted():
    status, read, _ = run(upload_app(10 * CHUNK), 50, declared=5)
    assert status == 413 and read <= 12
