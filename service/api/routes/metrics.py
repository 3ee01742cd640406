"""Prometheus metrics (``app.state.metrics``, made by ``service.observability``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.api.access import GatedRoute

router = APIRouter(tags=["operations"], route_class=GatedRoute)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
def metrics(request: Request) -> Response:
    """Request counts and latencies by route, embedding time, index sizes, ingest outcomes."""
    body, content_type = request.app.state.metrics.render()
    return Response(content=body, media_type=content_type)
