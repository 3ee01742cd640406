"""Observability: structured logs with a request id (:mod:`.logs`), Prometheus metrics
(:mod:`.metrics`) and the middleware that ties them to each request (:mod:`.middleware`).

``install_observability(app)`` wraps the app in the middleware and puts a :class:`Metrics` on
``app.state.metrics`` whose ``observe_embedding`` / ``count_ingest`` are plain callables, so
the catalogue can be handed them without importing anything from here. ``GET /metrics`` is a
route like the others (service/api/routes/metrics.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from index import VectorIndex
from service.observability.logs import (
    REQUEST_ID_HEADER,
    JsonFormatter,
    RequestIdFilter,
    accept_request_id,
    configure_logging,
    current_request_id,
    logging_config,
    request_id_var,
)
from service.observability.metrics import (
    MULTIPROC_ENV,
    IndexCollector,
    Metrics,
    multiprocess_dir,
    prepare_metrics_for_workers,
    prepare_multiprocess_dir,
)
from service.observability.middleware import (
    UNMATCHED_ROUTE,
    ObservabilityMiddleware,
    route_template,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "MULTIPROC_ENV",
    "REQUEST_ID_HEADER",
    "UNMATCHED_ROUTE",
    "IndexCollector",
    "JsonFormatter",
    "Metrics",
    "ObservabilityMiddleware",
    "RequestIdFilter",
    "accept_request_id",
    "configure_logging",
    "current_request_id",
    "install_observability",
    "logging_config",
    "multiprocess_dir",
    "prepare_metrics_for_workers",
    "prepare_multiprocess_dir",
    "request_id_var",
    "route_template",
]

log = logging.getLogger(__name__)


def install_observability(app: FastAPI) -> Metrics:
    """Add the middleware (outermost of the app's own) and ``app.state.metrics``. Call it
    after every other ``add_middleware`` in ``create_app``.

    Returns:
        The app's :class:`Metrics` (also on ``app.state.metrics``).
    """
    def index_provider() -> VectorIndex | None:
        catalog = getattr(app.state, "catalog", None)
        if catalog is None:
            return None
        try:  # follow what other workers and the CLI stored (throttled, as for queries)
            catalog.indexes.sync()
        except SQLAlchemyError as exc:
            log.warning("metrics: the store is unreachable, index sizes may lag: %s", exc)
        index: VectorIndex = catalog.indexes.index
        return index

    metrics = Metrics(index_provider, multiproc=multiprocess_dir())
    app.state.metrics = metrics
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return metrics
