"""Parameters a route does not take are refused (422), never silently ignored.

``GET /similar/1?year=1990`` used to answer 200, unfiltered: a misspelt or unsupported filter
looked as if it had worked. :class:`StrictRoute` knows the query parameters (and, for form
routes, the form fields) its route declares, its dependencies' included, and refuses a
request that carries any other with :class:`~service.errors.UnknownParameter`, which names
the valid ones, and one that repeats a parameter taking a single value (``k=5&k=6``: which
one was meant?) with :class:`~service.errors.RepeatedParameter`. Query parameters are
checked before the body is read; form fields once the form is parsed (it is parsed once:
FastAPI's handler reuses it). No route takes a JSON body; one that did would refuse unknown
keys in its model (``extra="forbid"``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from fastapi import Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.errors import RepeatedParameter, UnknownParameter

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class Declared:
    """The names a route takes from one source (query or form), in declaration order, and
    those of them that take several values."""

    names: tuple[str, ...]
    repeatable: frozenset[str]

    def check(self, given: list[tuple[str, Any]], where: str) -> None:
        """Raise UnknownParameter / RepeatedParameter for ``given`` (name, value) pairs."""
        counts = Counter(name for name, _ in given)
        unknown = [name for name in counts if name not in self.names]
        if unknown:
            raise UnknownParameter(unknown, self.names, where=where)
        for name, n in counts.items():
            if n > 1 and name not in self.repeatable:
                raise RepeatedParameter(name, n, where=where)


def declared(dependant: Dependant) -> tuple[Declared, Declared]:
    """(the query parameters, the form fields) of a route, its dependencies' included."""
    query: dict[str, bool] = {}
    form: dict[str, bool] = {}
    stack = [dependant]
    while stack:
        dep = stack.pop(0)
        query.update((f.alias, _repeatable(f.field_info.annotation)) for f in dep.query_params)
        form.update(
            (f.alias, _repeatable(f.field_info.annotation))
            for f in dep.body_params
            if isinstance(f.field_info, params.Form)
        )
        stack.extend(dep.dependencies)
    return _declared(query), _declared(form)


def _declared(names: dict[str, bool]) -> Declared:
    return Declared(tuple(names), frozenset(n for n, many in names.items() if many))


def _repeatable(annotation: Any) -> bool:
    """Whether a parameter of this type takes several values (a list, maybe optional)."""
    for arg in (annotation, *get_args(annotation)):
        if get_origin(arg) in (list, tuple, set, frozenset):
            return True
    return False


class StrictRoute(APIRoute):
    """An ``APIRoute`` that refuses query parameters and form fields it does not declare."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        query, form = declared(self.dependant)

        async def strict(request: Request) -> Response:
            query.check(request.query_params.multi_items(), "query parameter")
            if form.names and _is_form(request):
                # A malformed body raises here as it would in FastAPI's handler (400), and
                # one over the size limit stops here too (service/api/limits.py).
                body = await request.form()
                try:
                    form.check(body.multi_items(), "form field")
                except ValueError:
                    await body.close()  # FastAPI closes the files of a form it goes on with
                    raise
            return await handler(request)

        return strict


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").lower()
    return content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded"))
