"""One pure-ASGI middleware per HTTP request: accepts a safe ``X-Request-ID`` or makes one,
echoes it in the response, puts it into every log record written while the request runs,
counts and times the request by *route template* (``/similar/{track_id}``, never the raw
path) and writes one access log line."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.logs import REQUEST_ID_HEADER, accept_request_id, request_id_var
from service.observability.metrics import Metrics

access_log = logging.getLogger("musicprism.access")

UNMATCHED_ROUTE = "<unmatched>"
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # access-logged at DEBUG


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


