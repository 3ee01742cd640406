"""Metrics (Prometheus) and structured logs with a request id.

``install_observability(app)`` wraps the app in one ASGI middleware that, per HTTP request:
accepts a safe ``X-Request-ID`` or makes one, echoes it in the response, puts it into every
log record written while the request runs (a context variable), counts the request and times
it by *route template* (``/similar/{track_id}``, never the raw path), and writes one access log
line. It adds ``GET /metrics`` (service/api/routes/metrics.py) and puts a :class:`Metrics` on
``app.state.metrics`` whose ``observe_embedding`` / ``count_ingest`` are plain callables, so
the catalogue can be handed them without importing anything from here.

Several worker processes: prometheus-client's multiprocess mode is on when the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` names a folder *before prometheus_client is imported*
(prometheus-client reads it once, at import; that is its contract, so it is read here too,
not through ``Settings``). Clear the folder before the workers start
(:func:`prepare_multiprocess_dir`); every scrape then adds up all workers' files.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

    from index.facet_set import FacetIndexSet

log = logging.getLogger(__name__)
access_log = logging.getLogger("musicprism.access")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID_HEADER = "X-Request-ID"
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
UNMATCHED_ROUTE = "<unmatched>"
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # access-logged at DEBUG
INGEST_OUTCOMES = ("added", "duplicate", "failed")
SAFE_REASON = re.compile(r"[A-Za-z0-9_]{1,64}")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
EMBEDDING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                     300.0)

request_id_var: ContextVar[str | None] = ContextVar("musicprism_request_id", default=None)


# --- request ids ---------------------------------------------------------------------------
def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside a request."""
    return request_id_var.get()


def accept_request_id(value: str | None) -> str:
    """``value`` when it is a safe short token (1-64 of ``A-Za-z0-9._:-``, starting with a
    letter or digit), else a new random id (32 hex digits)."""
    if value is not None and SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


# --- structured logs -----------------------------------------------------------------------
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "color_message", "taskName",
}


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (``"-"`` outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, ``pid`` (which
    worker), ``request_id`` (when inside a request), any ``extra={...}`` fields, and ``exc``
    (the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid and rid != "-":
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
LogFormat = Literal["json", "text", "auto"]


def logging_config(level: str = "info", *, fmt: LogFormat = "auto") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: one stderr handler on the root logger, JSON or
    text, with the request id; uvicorn's loggers propagate to it (pass the same dict to
    ``uvicorn.run(log_config=...)`` so every worker logs the same way, with
    ``access_log=False``: the middleware writes the access lines).

    Args:
        level: debug | info | warning | error.
        fmt: ``json``, ``text``, or ``auto`` (text when stderr is a terminal, else JSON).
    """
    if fmt not in ("json", "text", "auto"):
        raise ValueError(f"log format must be json, text or auto, got '{fmt}'")
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    upper = level.upper()
    uvicorn = {"handlers": [], "propagate": True, "level": upper}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": upper},
        "loggers": {"uvicorn": uvicorn, "uvicorn.error": dict(uvicorn),
                    "uvicorn.access": {**uvicorn, "level": "WARNING"}},
    }


def configure_logging(level: str = "info", *, fmt: LogFormat = "auto") -> None:
    """Apply :func:`logging_config` to this process (the command line calls it once)."""
    logging.config.dictConfig(logging_config(level, fmt=fmt))


# --- metrics ---------------------------------------------------------------------------------
def multiprocess_dir() -> Path | None:
    """The folder of prometheus-client's multiprocess mode, or None when it is off.

    Raises:
        RuntimeError: the variable is set but prometheus_client was imported before it was
            (its metrics then live in process memory and a scrape would miss them), or the
            folder does not exist.
    """
    raw = os.environ.get(MULTIPROC_ENV)
    if not raw:
        return None
    if values.ValueClass is values.MutexValue:
        raise RuntimeError(
            f"{MULTIPROC_ENV} is set to '{raw}' but prometheus_client was imported before it "
            "was set: set it in the environment of the process from the start"
        )
    path = Path(raw)
    if not path.is_dir():
        raise RuntimeError(f"{MULTIPROC_ENV} is '{raw}', which is not an existing folder")
    return path


def prepare_multiprocess_dir(path: Path) -> int:
    """Create ``path`` and delete the metric files a previous run left there. Call it in the
    parent process before the workers start (never in a worker). Returns the files removed."""
    path.mkdir(parents=True, exist_ok=True)
    removed = 0
    for stale in path.glob("*.db"):
        stale.unlink()
        removed += 1
    return removed


def prepare_metrics_for_workers(workers: int) -> Path | None:
    """Before ``uvicorn.run`` in ``musicprism serve`` (the parent process): clear the
    multiprocess folder when ``PROMETHEUS_MULTIPROC_DIR`` is set, and warn when several
    workers run without it (each scrape would then show one worker's counts only).

    Returns:
        The folder, or None when multiprocess mode is off.
    """
    raw = os.environ.get(MULTIPROC_ENV)
    if not raw:
        if workers > 1:
            log.warning("%d workers without %s: /metrics will show one worker's counts; "
                        "see docs/operations.md", workers, MULTIPROC_ENV)
        return None
    path = Path(raw)
    removed = prepare_multiprocess_dir(path)
    log.info("metrics: multiprocess folder %s (%d stale files removed)", path, removed)
    return path


IndexProvider = Callable[[], "FacetIndexSet | None"]


class IndexCollector(Collector):
    """Collected at scrape time: vectors per index (``full`` and each facet) and readiness."""

    def __init__(self, provider: IndexProvider) -> None:
        self.provider = provider

    def collect(self) -> Iterator[Metric]:
        index = self.provider()
        ready = GaugeMetricFamily(
            "musicprism_catalog_ready", "1 when the model, store and indexes are loaded."
        )
        ready.add_metric([], 0.0 if index is None else 1.0)
        yield ready
        sizes = GaugeMetricFamily(
            "musicprism_index_vectors", "Vectors held per index: full space and each facet.",
            labels=["index"],
        )
        if index is not None:
            sizes.add_metric(["full"], float(len(index)))
            for name in index.schema.facet_names:
                sizes.add_metric([name], float(len(index.facet_index(name))))
        yield sizes


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app).

    Args:
        index_provider: returns the catalogue's index set (None while loading); read at scrape.
        multiproc: the multiprocess folder (see :func:`multiprocess_dir`), or None.
    """

    def __init__(self, index_provider: IndexProvider, *, multiproc: Path | None = None) -> None:
        self.multiproc = multiproc
        self.registry = CollectorRegistry()
        self.index_collector = IndexCollector(index_provider)
        if multiproc is None:
            self.registry.register(self.index_collector)
        self.requests = Counter(
            "musicprism_http_requests", "HTTP requests by method, route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "musicprism_http_request_duration_seconds",
            "HTTP request latency (until the last body byte) by method, route and status.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.embedding = Histogram(
            "musicprism_embedding_seconds", "Time to embed one decoded audio (all windows).",
            buckets=EMBEDDING_BUCKETS, registry=self.registry,
        )
        self.ingests = Counter(
            "musicprism_ingest", "Tracks offered for ingest, by outcome and failure reason.",
            ["outcome", "reason"], registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def observe_embedding(self, seconds: float) -> None:
        """Record one embedding's duration (seconds >= 0)."""
        if not seconds >= 0:
            raise ValueError(f"embedding time must be >= 0 seconds, got {seconds}")
        self.embedding.observe(seconds)

    def count_ingest(self, outcome: str, reason: str | None = None) -> None:
        """Count one ingest: ``added``, ``duplicate`` or ``failed`` with a short reason (an
        error class name such as ``AudioDecodeError``; anything else is counted as ``other``)."""
        if outcome not in INGEST_OUTCOMES:
            raise ValueError(f"ingest outcome must be one of {', '.join(INGEST_OUTCOMES)}, "
                             f"got '{outcome}'")
        if outcome != "failed":
            label = ""
        elif reason is not None and SAFE_REASON.fullmatch(reason):
            label = reason
        else:
            label = "other"
        self.ingests.labels(outcome, label).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type (all workers' sums in multiprocess mode)."""
        if self.multiproc is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiproc))  # type: ignore[no-untyped-call]
        registry.register(self.index_collector)  # this worker's view: all workers sync alike
        return generate_latest(registry), CONTENT_TYPE_LATEST


# --- the middleware ---------------------------------------------------------------------------
def route_template(scope: Scope) -> str:
    """The matched route's path template, or ``<unmatched>`` (bounded label values)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED_ROUTE


class ObservabilityMiddleware:
    """Request id, metrics and one access log line per HTTP request (pure ASGI).

    The request id stays set in the request's context after the app returns: an error that
    escapes to Starlette's outermost handler is logged there, after this middleware, and its
    record should carry the id too. Each request runs in a task of its own, so it ends there.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id")
        rid = accept_request_id(incoming.decode("latin-1") if incoming is not None else None)
        request_id_var.set(rid)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = 500
            raise
        finally:
            self._record(scope, status, time.perf_counter() - start)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        method = scope.get("method", "GET")
        self.metrics.observe_request(method, route, status, seconds)
        level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
        access_log.log(
            level, "%s %s %d %.1fms", method, scope.get("path", ""), status, seconds * 1e3,
            extra={"method": method, "path": scope.get("path", ""), "route": route,
                   "status": status, "duration_ms": round(seconds * 1e3, 3)},
        )


def install_observability(app: FastAPI) -> Metrics:
    """Add the middleware (outermost of the app's own), ``GET /metrics`` and
    ``app.state.metrics``. Call it after every other ``add_middleware`` in ``create_app``.

    Returns:
        The app's :class:`Metrics` (also on ``app.state.metrics``).
    """
    from service.api.routes import metrics as metrics_route

    def index_provider() -> FacetIndexSet | None:
        catalog = getattr(app.state, "catalog", None)
        if catalog is None:
            return None
        try:  # follow what other workers and the CLI stored (throttled, as for queries)
            catalog.sync()
        except SQLAlchemyError as exc:
            log.warning("metrics: the store is unreachable, index sizes may lag: %s", exc)
        return catalog.index

    metrics = Metrics(index_provider, multiproc=multiprocess_dir())
    app.state.metrics = metrics
    app.include_router(metrics_route.router)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return metrics
