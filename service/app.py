"""The FastAPI application: ``create_app(settings)`` and its lifespan (STYLE.md rules 2, 11).

The lifespan loads the checkpoint, opens the store (which must already be migrated: Alembic
runs as a prestart step, never ``create_all`` here), and loads or rebuilds the indexes. All of
it lives on ``app.state`` and reaches routes through service/api/deps.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import faiss
import torch
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from model.checkpoint import SHIPPED_MODEL, load_checkpoint
from service.api.docs import install_docs
from service.api.errors import install_error_handlers
from service.api.limits import BodySizeLimit
from service.api.page import install_page
from service.api.routes import (
    admin,
    audio,
    health,
    jobs,
    metrics,
    playlist,
    search,
    seeds,
    similar,
    tracks,
    transfer,
)
from service.catalog import Catalog, CatalogConfig
from service.db import assert_at_head, make_engine, make_session_factory
from service.jobs import JobConfig, JobRunner, Spool
from service.jobs.queue import JobQueue
from service.observability import install_observability
from service.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MODEL = SHIPPED_MODEL

#: Every API router, in the order the app mounts them (the page and /docs are not routers).
ROUTERS = (health, tracks, jobs, audio, similar, seeds, playlist, search, admin, transfer,
           metrics)


def resolve_model_path(settings: Settings) -> Path:
    return settings.model_path or DEFAULT_MODEL


def build_catalog(settings: Settings) -> Catalog:
    """The model and a store checked to be at the latest migration, as a catalogue that is
    not open yet (``Catalog.open`` loads the indexes); also used by the command line."""
    torch.set_num_threads(settings.torch_threads)
    faiss.omp_set_num_threads(settings.faiss_threads)
    model = load_checkpoint(resolve_model_path(settings))
    engine = make_engine(settings.resolved_database_url)
    try:
        assert_at_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return Catalog(model, make_session_factory(engine), CatalogConfig.from_settings(settings))


def job_parts(settings: Settings, catalog: Catalog) -> tuple[JobQueue, JobRunner]:
    """The queue requests submit jobs to, and a runner that works them with ``catalog``."""
    spool = Spool(settings.jobs_dir)
    config = JobConfig.from_settings(settings)
    queue = JobQueue(catalog.binding.session, spool, config.webhook_hosts)
    return queue, JobRunner(catalog.binding.session, catalog.recordings, spool, config)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    owned = getattr(app.state, "catalog", None) is None
    if owned:
        catalog = await run_in_threadpool(build_catalog, settings)
        try:
            await run_in_threadpool(catalog.open)
        except BaseException:
            catalog.close()
            raise
        app.state.catalog = catalog
    catalog = app.state.catalog
    catalog.recordings.on_embed = app.state.metrics.observe_embedding
    catalog.recordings.on_ingest = app.state.metrics.count_ingest
    app.state.jobs, runner = job_parts(settings, catalog)
    if settings.job_workers:
        runner.start(settings.job_workers)
    log.info("ready: model %s, %d tracks", catalog.model.version, len(catalog.indexes))
    try:
        yield
    finally:
        await run_in_threadpool(runner.stop)
        app.state.jobs = None
        catalog = app.state.catalog
        await run_in_threadpool(catalog.indexes.save_snapshot)
        if owned:
            catalog.close()
            app.state.catalog = None


def create_app(settings: Settings, *, catalog: Catalog | None = None) -> FastAPI:
    """Build the app. Pass ``catalog`` to serve an already-built one (tests, the CLI)."""
    app = FastAPI(
        title="musicprism",
        version="0.1.0",
        summary="Music similarity and tagging with per-facet explanations.",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_docs, not from FastAPI's CDN page
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.catalog = catalog
    install_error_handlers(app)
    for module in ROUTERS:
        app.include_router(module.router)
    install_docs(app)
    install_page(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    install_observability(app)
    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (several workers): settings from the environment."""
    from service.settings import get_settings

    return create_app(get_settings())
