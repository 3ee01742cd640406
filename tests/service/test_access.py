"""The API key is checked before a write request's body is read (SQLite and PostgreSQL).

FastAPI parses a multipart body before a route's dependencies run, so with the key checked
only there an anonymous upload was spooled up to the size limit before its 401 (a 192 MiB
chunked upload without a key got 413 after ~68 MiB). Now nothing of the body is read.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi import FastAPI

from service.api import routes
from service.api.access import GatedRoute, depends_on, refusal
from service.api.deps import require_api_key
from service.app import create_app
from service.db import upgrade
from support.server import Server, start_server
from tests.service.conftest import API_KEY, Catalogue, make_settings

MULTIPART = b"multipart/form-data; boundary=xyz"
CHUNK = b"\1" * 65536


def request(app: FastAPI, method: str, path: str, key: str | None, chunks: int = 100
            ) -> tuple[int, bytes, int]:
    """One request through the whole ASGI app; returns (status, body, body chunks read)."""
    parts = [b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n',
             *[CHUNK] * chunks, b"\r\n--xyz--\r\n"]
    read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        read += 1
        if read > len(parts):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": parts[read - 1], "more_body": read < len(parts)}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", MULTIPART)]
    if key is not None:
        headers.append((b"x-api-key", key.encode()))
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "headers": headers, "query_string": b"", "http_version": "1.1", "scheme": "http",
             "root_path": "", "server": ("test", 80), "client": ("test", 1), "app": app}
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, read


@pytest.mark.parametrize(("key", "status", "detail"), [
    (None, 401, "missing X-API-Key header"),
    ("", 401, "missing X-API-Key header"),
    ("wrong-key-0123456789", 403, "invalid API key"),
])
@pytest.mark.parametrize(("method", "path"), [("POST", "/tracks"), ("DELETE", "/tracks/1"),
                                              ("POST", "/admin/snapshot")])
def test_a_write_without_the_key_is_refused_before_its_body_is_read(
    catalogue: Catalogue, key: str | None, status: int, detail: str, method: str, path: str
) -> None:
    app = catalogue.client.app
    got, body, read = request(app, method, path, key)
    assert (got, read) == (status, 0)
    assert json.loads(body) == {"detail": detail}


def test_a_write_with_the_key_reads_its_body(catalogue: Catalogue) -> None:
    got, body, read = request(catalogue.client.app, "POST", "/tracks", API_KEY, chunks=3)
    assert got == 415 and read == 5  # every part read, then refused as not audio
    assert b"not a recognised audio format" in body


def test_queries_are_not_gated(catalogue: Catalogue) -> None:
    got, _, read = request(catalogue.client.app, "POST", "/similar", None, chunks=3)
    assert got == 415 and read == 5  # a query needs no key: its body is read


def test_writes_disabled_without_a_configured_key(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, api_key=None)
    got, body, read = request(create_app(settings), "POST", "/tracks", API_KEY)
    assert (got, read) == (403, 0)
    assert b"writes are disabled" in body


@pytest.mark.parametrize(("configured", "given", "want"), [
    (None, "x", (403, "writes are disabled: the server has no API key configured")),
    ("k" * 20, None, (401, "missing X-API-Key header")),
    ("k" * 20, "k" * 19, (403, "invalid API key")),
    ("k" * 20, "k" * 20, None),
])
def test_refusal(configured: str | None, given: str | None, want: object) -> None:
    assert refusal(configured, given) == want


def test_every_write_route_is_gated() -> None:
    """A write route on a router without GatedRoute would read its body before the key."""
    writes = []
    for module in (routes.admin, routes.health, routes.metrics, routes.search, routes.similar,
                   routes.tracks):
        for route in module.router.routes:
            assert isinstance(route, GatedRoute), (module.__name__, route)
            if depends_on(route, require_api_key):
                writes.append((sorted(route.methods)[0], route.path))
    assert sorted(writes) == [("DELETE", "/tracks/{track_id}"), ("POST", "/admin/snapshot"),
                              ("POST", "/tracks")]


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    settings = make_settings(tmp_path, database_url)
    upgrade(database_url)
    env = {"DATABASE_URL": database_url, "MUSICPRISM_DATA_DIR": str(settings.data_dir),
           "MUSICPRISM_MODEL_PATH": str(settings.model_path), "MUSICPRISM_API_KEY": API_KEY}
    s = start_server(env, tmp_path / "server.log")
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.slow
def test_a_real_server_answers_401_before_the_client_sends_a_byte_of_body(server: Server
                                                                          ) -> None:
    """A chunked upload announced without a key: the 401 arrives while the client still holds
    the whole body back."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /tracks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: " + MULTIPART + b"\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            reply += chunk
        reply = reply.decode("latin-1")
    assert reply.startswith("HTTP/1.1 401"), reply
    assert "connection: close" in reply.lower() and "missing X-API-Key header" in reply
