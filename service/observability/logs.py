"""Structured logs: one JSON object per line (or text on a terminal), each with the id of the
request it was written for (a context variable set by the middleware)."""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

REQUEST_ID_HEADER = "X-Request-ID"
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

request_id_var: ContextVar[str | None] = ContextVar("musicprism_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside a request."""
    return request_id_var.get()


def accept_request_id(value: str | None) -> str:
    """``value`` when it is a safe short token (1-64 of ``A-Za-z0-9._:-``, starting with a
    letter or digit), else a new random id (32 hex digits)."""
    if value is not None and SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "color_message", "taskName",
}


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (``"-"`` outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, ``pid`` (which
    worker), ``request_id`` (when inside a request), any ``extra={...}`` fields, and ``exc``
    (the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid and rid != "-":
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
LogFormat = Literal["json", "text", "auto"]


def logging_config(level: str = "info", *, fmt: LogFormat = "auto") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: one stderr handler on the root logger, JSON or
    text, with the request id; uvicorn's loggers propagate to it (pass the same dict to
    ``uvicorn.run(log_config=...)`` so every worker logs the same way, with
    ``access_log=False``: the middleware writes the access lines).

    Args:
        level: debug | info | warning | error.
        fmt: ``json``, ``text``, or ``auto`` (text when stderr is a terminal, else JSON).
    """
    if fmt not in ("json", "text", "auto"):
        raise ValueError(f"log format must be json, text or auto, got '{fmt}'")
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    upper = level.upper()
    uvicorn = {"handlers": [], "propagate": True, "level": upper}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": upper},
        "loggers": {"uvicorn": uvicorn, "uvicorn.error": dict(uvicorn),
                    "uvicorn.access": {**uvicorn, "level": "WARNING"}},
    }


def configure_logging(level: str = "info", *, fmt: LogFormat = "auto") -> None:
    """Apply :func:`logging_config` to this process (the command line calls it once)."""
    logging.config.dictConfig(logging_config(level, fmt=fmt))


