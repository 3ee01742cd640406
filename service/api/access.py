"""Write access: the API key is checked before a write request's body is read.

FastAPI reads (and spools) a multipart body before it runs a route's dependencies, so a key
checked only in a dependency let an anonymous client upload up to the size limit first.
Every router uses :class:`GatedRoute`: a route that depends on the write guard
(``deps.require_api_key``) checks the key from the request's headers before FastAPI's handler
reads anything, and refuses at once (401 without a key, 403 with a wrong one or when writes
are disabled), asking the client to close the connection it would otherwise keep sending
on. The dependency stays, so the rule is in the OpenAPI schema too. Both use
:func:`refusal`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from service.api.strict import StrictRoute

API_KEY_HEADER = "X-API-Key"
WWW_AUTHENTICATE = {"WWW-Authenticate": "ApiKey"}
#: Set on ``request.state`` once the gate has let a write through.
ACCESS_CHECKED = "write_access_checked"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def refusal(configured: str | None, given: str | None) -> tuple[int, str] | None:
    """Why a request with key ``given`` may not write, as (status, detail); None if it may.
    The key is compared in constant time."""
    if not configured:
        return 403, "writes are disabled: the server has no API key configured"
    if not given:
        return 401, f"missing {API_KEY_HEADER} header"
    if not hmac.compare_digest(given.encode(), configured.encode()):
        return 403, "invalid API key"
    return None


def refuse(why: tuple[int, str], *, close: bool = False) -> HTTPException:
    status, detail = why
    headers = dict(WWW_AUTHENTICATE) if status == 401 else {}
    if close:
        headers["Connection"] = "close"
    return HTTPException(status, detail, headers=headers or None)


def depends_on(route: APIRoute, guard: object) -> bool:
    """Whether ``route`` runs the dependency ``guard`` (directly or nested)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is guard:
            return True
        stack.extend(dep.dependencies)
    return False


class GatedRoute(StrictRoute):
    """An ``APIRoute`` that, when it depends on the write guard, checks the key first (and,
    as every :class:`StrictRoute`, refuses parameters it does not declare)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        from service.api.deps import require_api_key  # deps imports this module

        if not depends_on(self, require_api_key):
            return handler

        async def gated(request: Request) -> Response:
            given = request.headers.get(API_KEY_HEADER)
            why = refusal(request.app.state.settings.api_key, given)
            if why is not None:
                raise refuse(why, close=True)  # the body is never read
            setattr(request.state, ACCESS_CHECKED, True)
            return await handler(request)

        return gated
