"""Prometheus metrics: requests by route template, embedding time, ingest outcomes, and the
index sizes read at scrape time.

Several worker processes: prometheus-client's multiprocess mode is on when the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` names a folder *before prometheus_client is imported*
(prometheus-client reads it once, at import; that is its contract, so it is read here too,
not through ``Settings``). Clear the folder before the workers start
(:func:`prepare_multiprocess_dir`); every scrape then adds up all workers' files.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from index import VectorIndex

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
INGEST_OUTCOMES = ("added", "duplicate", "failed")
SAFE_REASON = re.compile(r"[A-Za-z0-9_]{1,64}")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
EMBEDDING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                     300.0)


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


IndexProvider = Callable[[], VectorIndex | None]


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
                sizes.add_metric([name], float(index.facet_size(name)))
        yield sizes


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app).

    Args:
        index_provider: returns the served index (None while loading); read at scrape.
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


