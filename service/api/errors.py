"""One place that maps typed errors to HTTP statuses and JSON bodies (STYLE.md rule 12).

Bodies are always ``{"detail": "..."}``: the error's own message, never a stack trace or a
file-system path.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from layout.facets import FacetWeightError
from model.audio import AudioDecodeError, AudioError, AudioTooLong
from service.audio_store import AudioNotStored
from service.errors import (
    ExternalIdConflict,
    InvalidValue,
    IsrcConflict,
    JobNotFound,
    NotReady,
    RepeatedParameter,
    TrackNotFound,
    UnknownParameter,
    UnknownTag,
)

log = logging.getLogger(__name__)

STATUS: list[tuple[type[Exception], int]] = [
    (TrackNotFound, 404),
    (JobNotFound, 404),
    (AudioNotStored, 404),
    (UnknownTag, 422),
    (UnknownParameter, 422),
    (RepeatedParameter, 422),
    (InvalidValue, 422),
    (ExternalIdConflict, 409),
    (IsrcConflict, 409),
    (FacetWeightError, 422),
    (AudioDecodeError, 415),
    (AudioTooLong, 413),
    (AudioError, 422),
    (NotReady, 503),
]


def status_of(exc: Exception) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    async def typed(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))

    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    for cls, _ in STATUS:
        app.add_exception_handler(cls, typed)
    app.add_exception_handler(RequestValidationError, validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)
