"""The filter parameters of the search routes, declared once for query strings and forms.

``GET /similar/{id}`` and ``GET /search`` take them as query parameters, ``POST /similar``
as form fields; all three build the same :class:`~service.catalog.TrackFilter`. The
parameters are listed once (:data:`METADATA`, :data:`TAGS`) and :func:`filter_dependency`
makes a FastAPI dependency from them for either source, so the names, limits and
descriptions in the OpenAPI schema are the same everywhere.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Query
from pydantic import StringConstraints

from service.api.numbers import Decimal, Int
from service.api.routes.common import TrackIdItem
from service.catalog import TAG_FILTER_THRESHOLD, TrackFilter
from service.catalog.filters import TagMode
from service.models import MAX_YEAR, MIN_YEAR

#: At most this many values of one repeated filter parameter (tag, artist, exclude...).
MAX_VALUES = 100
MAX_SECONDS = 86_400

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
IsrcText = Annotated[str, StringConstraints(min_length=1, max_length=40)]


@dataclass(frozen=True)
class Param:
    """One filter parameter: its name, type, default and constraints (Query/Form kwargs)."""

    name: str
    annotation: Any
    default: Any = None
    options: tuple[tuple[str, Any], ...] = ()

    def declared(self, source: Callable[..., Any]) -> inspect.Parameter:
        return inspect.Parameter(
            self.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=self.default,
            annotation=Annotated[self.annotation, source(**dict(self.options))],
        )


def _opts(description: str, **limits: Any) -> tuple[tuple[str, Any], ...]:
    return (("description", description), *limits.items())


def _repeated(description: str) -> tuple[tuple[str, Any], ...]:
    return _opts(f"{description}; repeat for several (at most {MAX_VALUES}).",
                 max_length=MAX_VALUES)


METADATA: tuple[Param, ...] = (
    Param("exclude", list[TrackIdItem] | None, None, _repeated("Track ids to leave out")),
    Param("exclude_artist", str | None, None,
          _opts("Leave out this artist's tracks (case ignored).", max_length=500)),
    Param("artist", list[Text] | None, None,
          _repeated("Only tracks by one of these artists (case ignored)")),
    Param("album", list[Text] | None, None,
          _repeated("Only tracks on one of these albums (exact text)")),
    Param("isrc", list[IsrcText] | None, None,
          _repeated("Only tracks with one of these ISRCs (e.g. USRC17607839)")),
    Param("year_min", Int | None, None, _opts(
        "Only tracks released in this year or later.", ge=MIN_YEAR, le=MAX_YEAR)),
    Param("year_max", Int | None, None, _opts(
        "Only tracks released in this year or earlier.", ge=MIN_YEAR, le=MAX_YEAR)),
    Param("duration_min", Decimal | None, None, _opts(
        "Only tracks at least this long, in seconds.", ge=0, le=MAX_SECONDS)),
    Param("duration_max", Decimal | None, None, _opts(
        "Only tracks at most this long, in seconds.", ge=0, le=MAX_SECONDS)),
)

TAGS: tuple[Param, ...] = (
    Param("tag", list[Text] | None, None, _repeated(
        "Only tracks predicted with this tag (see GET /tags)")),
    Param("tag_mode", TagMode, "all", _opts(
        "How several tags combine: 'all' (every tag, AND) or 'any' (at least one, OR).")),
    Param("tag_threshold", Decimal, TAG_FILTER_THRESHOLD, _opts(
        "A track has a tag when its predicted probability is above this.", ge=0, le=1)),
)


def build_filter(values: dict[str, Any]) -> TrackFilter:
    """A :class:`TrackFilter` from the parameters' values (raises InvalidValue)."""
    return TrackFilter(
        exclude_ids=tuple(values.get("exclude") or ()),
        exclude_artist=values.get("exclude_artist"),
        artists=tuple(values.get("artist") or ()),
        albums=tuple(values.get("album") or ()),
        isrcs=tuple(values.get("isrc") or ()),
        year_min=values.get("year_min"),
        year_max=values.get("year_max"),
        duration_min=values.get("duration_min"),
        duration_max=values.get("duration_max"),
        tags=tuple(values.get("tag") or ()),
        tag_mode=values.get("tag_mode", "all"),
        tag_threshold=values.get("tag_threshold", TAG_FILTER_THRESHOLD),
    )


def filter_dependency(
    source: Callable[..., Any], parameters: Sequence[Param]
) -> Callable[..., Coroutine[Any, Any, TrackFilter]]:
    """A dependency taking ``parameters`` from ``source`` (``Query`` or ``Form``) and
    returning the :class:`TrackFilter` they describe."""

    async def dependency(**values: Any) -> TrackFilter:  # no I/O: run on the event loop
        return build_filter(values)

    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.declared(source) for p in parameters], return_annotation=TrackFilter
    )
    return dependency


QueryFilters = Annotated[TrackFilter, Depends(filter_dependency(Query, METADATA + TAGS))]
FormFilters = Annotated[TrackFilter, Depends(filter_dependency(Form, METADATA + TAGS))]
QueryMetadataFilters = Annotated[TrackFilter, Depends(filter_dependency(Query, METADATA))]
