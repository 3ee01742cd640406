"""Small helpers shared by the routes: k checks and ORM -> response conversion."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import HTTPException, Path, Response
from pydantic import BaseModel, Field

from layout.schema import ConceptSchema
from service.api.numbers import Int
from service.catalog import Hit
from service.catalog.rows import TrackRow
from service.models import Track
from service.schemas import (
    MatchedRegionInfo,
    RecordingMatchInfo,
    RegionInfo,
    SimilarResult,
    TagScore,
    TrackPublic,
    TrackSummary,
)
from service.settings import Settings

# Track ids are the store's INTEGER primary key (32 bits on PostgreSQL). Ids outside this range
# cannot exist: refusing them here keeps them from reaching the database driver or FAISS, which
# would fail on them (500) instead of answering 404.
MAX_TRACK_ID = 2**31 - 1
TrackId = Annotated[Int, Path(ge=1, le=MAX_TRACK_ID, description="A track id.")]
TrackIdItem = Annotated[Int, Field(ge=1, le=MAX_TRACK_ID)]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing API key"},
    403: {"description": "Wrong API key"},
    404: {"description": "Unknown track id"},
    413: {"description": "Upload or decoded audio too large"},
    415: {"description": "Not decodable audio"},
    422: {"description": "Invalid parameter: unknown facet or tag, bad weights, k out of range"},
    503: {"description": "Not ready yet"},
}


def json_response(body: BaseModel) -> Response:
    """``body`` as the JSON FastAPI sends for a route whose ``response_model`` is its type:
    the same bytes (pydantic's JSON serialiser, by alias), made once, in the handler's thread.
    Given the model itself, FastAPI would validate it against its own type again, in a second
    trip to the thread pool, before serialising it. The route keeps declaring
    ``response_model``, so the OpenAPI schema is unchanged."""
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


def check_k(k: int, settings: Settings) -> int:
    if not 1 <= k <= settings.max_k:
        raise HTTPException(422, f"k must be between 1 and {settings.max_k}, got {k}")
    return k


def summary(track: Track | TrackRow) -> TrackSummary:
    return TrackSummary(
        id=track.id,
        external_id=track.external_id,
        title=track.title,
        artist=track.artist,
        album=track.album,
        isrc=track.isrc,
        year=track.year,
        duration=track.duration_seconds,
    )


def public(track: Track, tags: dict[str, dict[str, float]]) -> TrackPublic:
    return TrackPublic(
        **summary(track).model_dump(),
        source=track.source,
        content_hash=track.content_hash,
        created=track.created,
        updated=track.updated,
        tags={
            c: [TagScore(tag=t, score=round(s, 6)) for t, s in scores.items()]
            for c, scores in tags.items()
        },
    )


def results(hits: list[Hit]) -> list[SimilarResult]:
    return [
        SimilarResult(track=summary(h.track), score=h.score, facets=h.facets, match=_match(h),
                      region=_region(h))
        for h in hits
    ]


def _span(start: float, duration: float) -> RegionInfo:
    return RegionInfo(start=round(start, 3), duration=round(duration, 3),
                      end=round(start + duration, 3))


def _region(hit: Hit) -> MatchedRegionInfo | None:
    r = hit.region
    if r is None:
        return None
    return MatchedRegionInfo(**_span(r.result.start, r.result.duration).model_dump(),
                             score=round(r.score, 6), query=_span(r.query.start, r.query.duration))


def _match(hit: Hit) -> RecordingMatchInfo | None:
    m = hit.match
    if m is None:
        return None
    return RecordingMatchInfo(offset=m.offset_seconds, aligned=m.aligned, share=m.share)


def predicted_tags(
    schema: ConceptSchema, probs: np.ndarray, per_concept: int = 3
) -> dict[str, list[TagScore]]:
    """The most probable tags of each concept from a (T,) probability vector."""
    out: dict[str, list[TagScore]] = {}
    for concept, tags in schema.concepts.items():
        scored = sorted(
            ((t, float(probs[schema.tag_index(t)])) for t in tags), key=lambda kv: -kv[1]
        )
        out[concept] = [TagScore(tag=t, score=round(s, 6)) for t, s in scored[:per_concept]]
    return out
