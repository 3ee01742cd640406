"""The web page at ``/``: plain ES modules and CSS from service/web/ (package data).

Everything the page loads comes from this server: the HTML at ``/``, its scripts and styles
under ``/web/``. A Content-Security-Policy says so to the browser too, so a page that tried
to reach a CDN (or ran an inline script) would fail in the browser tests rather than in an
air-gapped deployment.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
PAGE_URL = "/"
STATIC_URL = "/web"

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",  # blob: plays the clip being searched with, before upload
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class PageFiles(StaticFiles):
    """Static files revalidated on every load (ETag, 304), so an upgraded server's page is
    never mixed with a cached older module."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(PAGE_HEADERS)
        return response


def install_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets at ``/web/``."""
    index = WEB_DIR / "index.html"
    if not index.is_file():
        raise RuntimeError(f"the web page is missing from the package: {index}")
    app.mount(STATIC_URL, PageFiles(directory=WEB_DIR / "static"), name="web")

    @app.get(PAGE_URL, include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
