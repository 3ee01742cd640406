"""Liveness and readiness."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.access import GatedRoute
from service.schemas import Health, Readiness

router = APIRouter(tags=["health"], route_class=GatedRoute)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request) -> Readiness | JSONResponse:
    """Model, store and indexes are loaded."""
    catalog = getattr(request.app.state, "catalog", None)
    if catalog is None:
        body = Readiness(status="loading")
        return JSONResponse(body.model_dump(), status_code=503)
    indexes = catalog.indexes
    indexes.sync()  # count what other processes have stored too
    with indexes.lock:
        index = indexes.index
        snapshot = index.snapshot if indexes.mmap else None
        sizes = {f: index.facet_size(f) for f in catalog.schema.facet_names}
        count = len(index)
    return Readiness(
        status="ready",
        model=catalog.model.version,
        tracks=count,
        index={"factory": catalog.config.index_factory, **sizes},
        worker=os.getpid(),
        mmap=indexes.mmap,
        snapshot=snapshot.name if snapshot is not None else None,
    )
