"""The interactive API docs at ``/docs``, served offline.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, so an air-gapped host shows a blank
page. Here the page references only this server: Swagger UI's files come from the
``swagger-ui-py`` package (a maintained distribution of the upstream ``swagger-ui-dist``
files, version 5, which renders the OpenAPI 3.1 that FastAPI writes), mounted at
``/docs/static``. ReDoc, which no package here ships, is not served.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's files in the installed ``swagger-ui-py`` package (found
    without importing it: its module imports web frameworks' adapters we do not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (it is a dependency)")
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (static / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"Swagger UI's files are missing from {static}")
    return static


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` from local files. The app must be built with ``docs_url=None`` and
    ``redoc_url=None`` (FastAPI's CDN pages)."""
    app.mount(STATIC_URL, StaticFiles(directory=swagger_ui_dir()), name="swagger-ui")
    title = f"{app.title} - API docs"
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
