"""A small app served by real uvicorn workers in test_workers.py (``--factory``)."""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from service.api.routes import metrics
from service.observability import install_observability


def create() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        logging.getLogger("tests.ops.workers").info("item %d", item_id)
        return {"id": item_id, "pid": os.getpid()}

    app.state.catalog = None
    app.include_router(metrics.router)
    install_observability(app)
    return app
