"""service/observability/: request ids, structured logs, metrics by route template, index
sizes at scrape time (a real FacetIndexSet), ingest and embedding hooks."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from index import FacetIndexSet, LayeredIndex, VectorIndex
from layout.facets import to_full_space
from service.api.routes import metrics as metrics_route
from service.observability import install_observability
from service.observability.logs import (
    JsonFormatter,
    RequestIdFilter,
    accept_request_id,
    current_request_id,
)
from service.observability.metrics import EMBEDDING_BUCKETS, Metrics
from tests.utils.models import tiny_schema

log = logging.getLogger("tests.ops.app")


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict:  # sync: runs in the thread pool
        log.info("reading item %d", item_id)
        if item_id == 0:
            raise HTTPException(404, "no such item")
        if item_id == 13:
            raise RuntimeError("boom")
        return {"id": item_id, "seen": current_request_id()}

    @app.post("/echo")
    async def echo() -> dict:
        log.info("echo")
        return {"seen": current_request_id()}

    app.state.catalog = None
    app.include_router(metrics_route.router)
    install_observability(app)
    return app


def call(app: FastAPI, *requests: tuple[str, str, dict]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(m, url, **kw) for m, url, kw in requests]

    return asyncio.run(go())


def samples(app: FastAPI) -> dict[tuple[str, tuple], float]:
    (response,) = call(app, ("GET", "/metrics", {}))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def records() -> Iterator[io.StringIO]:
    """JSON log lines written while the test runs, as a real handler formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- request ids ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "A1.b-c_d:9", "x" * 64, str(uuid.UUID(int=7))])
def test_a_safe_request_id_is_kept(value: str) -> None:
    assert accept_request_id(value) == value


@pytest.mark.parametrize("value", [None, "", "x" * 65, "-leading", "a b", "a\nb", "é", "a;b"])
def test_an_unsafe_request_id_is_replaced(value: str | None) -> None:
    new = accept_request_id(value)
    assert new != value and len(new) == 32 and int(new, 16) >= 0


def test_request_id_is_echoed_and_seen_by_the_route_and_its_logs(records: io.StringIO) -> None:
    app = make_app()
    given, bad, fresh = call(
        app,
        ("GET", "/items/5", {"headers": {"X-Request-ID": "req-42"}}),
        ("POST", "/echo", {"headers": {"X-Request-ID": "not safe!"}}),
        ("GET", "/items/0", {}),
    )
    assert given.headers["x-request-id"] == "req-42" and given.json()["seen"] == "req-42"
    made = bad.headers["x-request-id"]
    assert made != "not safe!" and len(made) == 32 and bad.json()["seen"] == made
    assert fresh.status_code == 404 and len(fresh.headers["x-request-id"]) == 32
    out = lines(records)
    route_lines = [(r["message"], r.get("request_id")) for r in out if r["logger"] == log.name]
    assert route_lines == [("reading item 5", "req-42"), ("echo", made),
                           ("reading item 0", fresh.headers["x-request-id"])]
    access = [r for r in out if r["logger"] == "musicprism.access"]
    assert [(a["method"], a["path"], a["route"], a["status"], a["request_id"]) for a in access] == [
        ("GET", "/items/5", "/items/{item_id}", 200, "req-42"),
        ("POST", "/echo", "/echo", 200, made),
        ("GET", "/items/0", "/items/{item_id}", 404, fresh.headers["x-request-id"]),
    ]
    assert all(a["duration_ms"] >= 0 for a in access)
    assert current_request_id() is None  # nothing leaked into the test's own context


def test_json_formatter_fields_and_traceback() -> None:
    record = logging.LogRecord("m", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    record.track_id = 7
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()
    out = json.loads(JsonFormatter().format(record))
    assert (out["level"], out["logger"], out["message"], out["track_id"]) == (
        "error", "m", "failed x", 7)
    assert "request_id" not in out and out["ts"].endswith("+00:00")
    assert out["pid"] == os.getpid()
    assert out["exc"].startswith("Traceback") and "ValueError: bad" in out["exc"]


# --- request metrics -----------------------------------------------------------------------------
def test_requests_are_counted_by_route_template_and_status() -> None:
    app = make_app()
    call(app, *[("GET", f"/items/{i}", {}) for i in (1, 2, 3, 0)],
         ("GET", "/items/13", {}), ("GET", "/no/such/page", {}), ("GET", "/nope", {}),
         ("POST", "/echo", {}), ("DELETE", "/echo", {}))
    got = samples(app)
    counts = {labels: v for (name, labels), v in got.items()
              if name == "musicprism_http_requests_total"}

    def key(method: str, route: str, status: int) -> tuple:
        return (("method", method), ("route", route), ("status", str(status)))

    assert counts == {
        key("GET", "/items/{item_id}", 200): 3.0,
        key("GET", "/items/{item_id}", 404): 1.0,
        key("GET", "/items/{item_id}", 500): 1.0,
        key("GET", "<unmatched>", 404): 2.0,
        key("POST", "/echo", 200): 1.0,
        key("DELETE", "/echo", 405): 1.0,
    }  # no raw path (/items/1 ...) ever becomes a label; the scrape itself is not counted yet
    hist = {labels: v for (name, labels), v in got.items()
            if name == "musicprism_http_request_duration_seconds_count"}
    assert hist == counts
    inf = got[("musicprism_http_request_duration_seconds_bucket",
               (("le", "+Inf"), *key("GET", "/items/{item_id}", 200)))]
    assert inf == 3.0
    again = samples(app)  # the first scrape is counted by the second
    assert again[("musicprism_http_requests_total", key("GET", "/metrics", 200))] == 1.0


# --- catalogue hooks -----------------------------------------------------------------------------
def test_embedding_times_fill_the_right_buckets() -> None:
    metrics = Metrics(lambda: None)
    for seconds in (0.004, 0.3, 0.3, 7.0, 400.0):
        metrics.observe_embedding(seconds)
    with pytest.raises(ValueError, match="got -1"):
        metrics.observe_embedding(-1)
    with pytest.raises(ValueError, match="got nan"):
        metrics.observe_embedding(float("nan"))
    got = {dict(s.labels).get("le"): s.value
           for f in text_string_to_metric_families(metrics.render()[0].decode())
           for s in f.samples if s.name == "musicprism_embedding_seconds_bucket"}
    expected = {str(b): float(sum(x <= b for x in (0.004, 0.3, 0.3, 7.0, 400.0)))
                for b in EMBEDDING_BUCKETS}
    assert {k: v for k, v in got.items() if k != "+Inf"} == expected
    assert got["+Inf"] == 5.0


def test_ingest_outcomes_and_reasons_are_bounded() -> None:
    metrics = Metrics(lambda: None)
    for outcome, reason in [("added", None), ("added", "ignored"), ("duplicate", None),
                            ("failed", "AudioDecodeError"), ("failed", "AudioDecodeError"),
                            ("failed", "/etc/passwd: no"), ("failed", None)]:
        metrics.count_ingest(outcome, reason)
    with pytest.raises(ValueError, match="got 'skipped'"):
        metrics.count_ingest("skipped")
    got = {tuple(sorted(s.labels.items())): s.value
           for f in text_string_to_metric_families(metrics.render()[0].decode())
           for s in f.samples if s.name == "musicprism_ingest_total"}
    assert got == {
        (("outcome", "added"), ("reason", "")): 2.0,
        (("outcome", "duplicate"), ("reason", "")): 1.0,
        (("outcome", "failed"), ("reason", "AudioDecodeError")): 2.0,
        (("outcome", "failed"), ("reason", "other")): 2.0,
    }


class Lifecycle:  # what the collector uses of app.state.catalog.indexes: the index, sync
    def __init__(self, index: VectorIndex) -> None:
        self.index = index
        self.syncs = 0

    def sync(self) -> int:
        self.syncs += 1
        return 0


class Loaded:
    def __init__(self, index: VectorIndex) -> None:
        self.indexes = Lifecycle(index)


def three_of_five(tmp_path: Path, layered: bool) -> VectorIndex:
    """Tracks 10-14 added, 11 and 12 removed: in memory, or as a mapped snapshot whose delta
    holds the changes (what every worker serves with index_mmap on)."""
    schema = tiny_schema()
    rng = np.random.default_rng(0)
    vectors = to_full_space(rng.standard_normal((5, schema.dim)).astype(np.float32), schema)
    if not layered:
        index = FacetIndexSet(schema, "IDMap2,Flat")
        index.add(np.arange(10, 15), vectors)
        index.remove(np.array([11, 12]))
        return index
    base = FacetIndexSet(schema, "IDMap2,Flat")
    base.add(np.arange(10, 13), vectors[:3])
    base.save(tmp_path / "snap", state={})
    mapped = LayeredIndex(FacetIndexSet.load(tmp_path / "snap", schema, mmap=True))
    mapped.add(np.arange(13, 15), vectors[3:])
    mapped.remove(np.array([11, 12]))
    return mapped


@pytest.mark.parametrize("layered", [False, True], ids=["in-memory", "mmap-layered"])
def test_index_sizes_are_read_from_the_catalogue_at_scrape_time(
    tmp_path: Path, layered: bool
) -> None:
    """With memory-mapped indexes (the default with several workers) the collector once
    called a method only the in-memory class had, and /metrics answered 500."""
    app = make_app()
    before = samples(app)
    assert before[("musicprism_catalog_ready", ())] == 0.0
    assert not any(name == "musicprism_index_vectors" for name, _ in before)

    catalog = Loaded(three_of_five(tmp_path, layered))
    app.state.catalog = catalog
    after = samples(app)
    assert catalog.indexes.syncs == 1  # caught up with the store before reporting
    assert after[("musicprism_catalog_ready", ())] == 1.0
    schema = tiny_schema()
    sizes = {dict(labels)["index"]: v for (name, labels), v in after.items()
             if name == "musicprism_index_vectors"}
    assert sizes == {"full": 3.0, **{f: 3.0 for f in schema.facet_names}}
    assert set(schema.facet_names) == {"genre", "mood", "instrument", "era"}


def test_an_unhandled_error_is_logged_with_the_request_id(records: io.StringIO) -> None:
    app = make_app()

    async def unexpected(request: object, exc: Exception) -> JSONResponse:
        # as service/api/errors.py does: Starlette runs this outside every middleware
        logging.getLogger("tests.ops.errors").exception("unhandled error")
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_exception_handler(Exception, unexpected)
    (response,) = call(app, ("GET", "/items/13", {"headers": {"X-Request-ID": "r13"}}))
    assert response.status_code == 500
    errors = [r for r in lines(records) if r["logger"] == "tests.ops.errors"]
    assert len(errors) == 1 and errors[0]["request_id"] == "r13"
    assert "RuntimeError: boom" in errors[0]["exc"]
    access = [r for r in lines(records) if r["logger"] == "musicprism.access"]
    assert [(a["status"], a["request_id"]) for a in access] == [(500, "r13")]


def test_index_sizes_are_still_reported_when_the_store_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = tiny_schema()
    index = FacetIndexSet(schema, "IDMap2,Flat")
    vectors = to_full_space(np.random.default_rng(1).standard_normal((2, schema.dim)), schema)
    index.add(np.array([1, 2]), vectors.astype(np.float32))

    class Unreachable(Lifecycle):
        def sync(self) -> int:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    app = make_app()
    app.state.catalog = Loaded(index)
    app.state.catalog.indexes = Unreachable(index)
    with caplog.at_level(logging.WARNING, logger="service.observability"):
        got = samples(app)
    assert got[("musicprism_index_vectors", (("index", "full"),))] == 2.0
    assert any("store is unreachable" in r.getMessage() for r in caplog.records)
