"""Dependencies handed to routes: everything comes from ``app.state`` (built in the lifespan),
so tests can swap any of it with ``app.dependency_overrides``.

Each route asks for the part it needs: the model (``ModelDep``: schema, tags), the queries
(``QueriesDep``), paths between tracks (``PlaylistsDep``), audio in and tracks written
(``RecordingsDep``), the served index's life cycle (``IndexesDep``), or the background job
queue (``JobsDep``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from model.checkpoint import LoadedModel
from service.api.access import ACCESS_CHECKED, refusal, refuse
from service.catalog import Catalog, IndexLifecycle, Playlists, Queries, Recordings
from service.errors import NotReady
from service.jobs.queue import JobQueue
from service.settings import Settings

# The dependencies are ``async def`` although they do no I/O: FastAPI runs a plain ``def``
# dependency in the thread pool, and each such hop costs a GIL hand-over per request
# (benchmarks/results/api_load.md: two hops were about a fifth of GET /similar/{id}'s CPU).
# They only read app.state and compare a key, so running them on the event loop is safe.


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request) -> Catalog:
    catalog = getattr(request.app.state, "catalog", None)
    if catalog is None:
        raise NotReady("the catalogue is still loading")
    return catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


async def get_model(catalog: CatalogDep) -> LoadedModel:
    return catalog.model


async def get_queries(catalog: CatalogDep) -> Queries:
    return catalog.queries


async def get_playlists(catalog: CatalogDep) -> Playlists:
    return catalog.playlists


async def get_recordings(catalog: CatalogDep) -> Recordings:
    return catalog.recordings


async def get_indexes(catalog: CatalogDep) -> IndexLifecycle:
    return catalog.indexes


async def get_jobs(request: Request) -> JobQueue:
    queue = getattr(request.app.state, "jobs", None)
    if queue is None:
        raise NotReady("the job queue is still loading")
    return queue


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
QueriesDep = Annotated[Queries, Depends(get_queries)]
PlaylistsDep = Annotated[Playlists, Depends(get_playlists)]
RecordingsDep = Annotated[Recordings, Depends(get_recordings)]
IndexesDep = Annotated[IndexLifecycle, Depends(get_indexes)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]


async def require_api_key(
    request: Request,
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(description="API key for write routes.")] = None,
) -> None:
    """401 without a key, 403 with a wrong one; compared in constant time. On a
    ``GatedRoute`` the key was already checked, before the body was read, and is not
    compared twice."""
    if getattr(request.state, ACCESS_CHECKED, False):
        return
    why = refusal(settings.api_key, x_api_key)
    if why is not None:
        raise refuse(why)


WriteAccess = Depends(require_api_key)
