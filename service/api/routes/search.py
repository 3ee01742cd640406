"""Tag search and the vocabulary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from layout.text_query import TextQueryError, TextReading, read_text
from service.api.access import GatedRoute
from service.api.deps import ModelDep, QueriesDep, SettingsDep
from service.api.filters import QueryMetadataFilters
from service.api.numbers import Int
from service.api.routes.common import ERRORS, check_k, json_response, summary
from service.catalog import NO_FILTER
from service.schemas import (
    FacetInfo,
    FacetsResponse,
    ReadTermInfo,
    SearchResponse,
    SearchResult,
    TagInfo,
    TagsResponse,
    TextReadingInfo,
)

router = APIRouter(tags=["search"], responses=ERRORS, route_class=GatedRoute)


@router.get("/search", response_model=SearchResponse)
def search(
    queries: QueriesDep,
    settings: SettingsDep,
    tag: Annotated[list[str] | None, Query(description="Tag to rank by; repeat to combine")] = None,
    q: Annotated[str | None, Query(
        description="Free text read onto the model's tags (synonyms, negation such as "
        "'no vocals', weights such as 'very' or 'piano^2'); the response says how it was "
        "read. Combines with tag=.",
        examples=["calm piano with strings, no vocals"],
    )] = None,
    k: Int = 10,
    filters: QueryMetadataFilters = NO_FILTER,
) -> Response:
    """Tracks ranked by tags (nearest to the tags' proxies in their facets): given by name
    (``tag=``), or read from free text (``q=``, see docs/api.md "Text search")."""
    check_k(k, settings)
    weights = dict.fromkeys(tag or [], 1.0)
    reading = None
    if q is not None:
        try:
            reading = read_text(q, queries.schema.tags)
        except TextQueryError as exc:
            raise HTTPException(422, str(exc)) from None
        for t, w in reading.weights.items():
            weights[t] = weights.get(t, 0.0) + w
        weights = {t: w for t, w in weights.items() if w != 0}
    if not weights:
        if reading is None:
            raise HTTPException(422, "give at least one tag or a text, e.g. /search?tag=jazz "
                                     "or /search?q=calm+piano (see GET /tags)")
        raise HTTPException(422, _unread(reading))
    hits = queries.search_weighted(weights, k=k, filters=filters)
    scores = queries.tag_scores([h.track.id for h in hits], list(weights))
    return json_response(SearchResponse(
        tags=list(weights),
        tag_weights=weights,
        k=k,
        reading=None if reading is None else TextReadingInfo(
            text=reading.text,
            terms=[ReadTermInfo(text=t.text, tags=list(t.tags), weight=t.weight, via=t.via)
                   for t in reading.terms],
            no_tag=list(reading.no_tag),
            not_understood=list(reading.not_understood),
        ),
        results=[
            SearchResult(
                track=summary(h.track), score=h.score, tag_scores=scores.get(h.track.id, {})
            )
            for h in hits
        ],
    ))


def _unread(reading: TextReading) -> str:
    """Why a text gave nothing to search by, naming the words."""
    parts = [f"nothing in {reading.text!r} reads as a tag of this model"]
    if reading.terms:
        parts.append("(its terms cancel out)")
    if reading.no_tag:
        parts.append(f"; no tag for: {', '.join(reading.no_tag)}")
    if reading.not_understood:
        parts.append(f"; not understood: {', '.join(reading.not_understood)}")
    return " ".join(parts).replace(" ;", ";") + "; the tags: GET /tags"


@router.get("/tags", response_model=TagsResponse)
def tags(model: ModelDep) -> TagsResponse:
    """Every tag the model predicts, with its concept and facet."""
    schema = model.schema
    return TagsResponse(
        tags=[
            TagInfo(name=t, concept=c, facet=schema.facet_of_concept(c).name)
            for c, ts in schema.concepts.items()
            for t in ts
        ]
    )


@router.get("/facets", response_model=FacetsResponse)
def facets(model: ModelDep) -> FacetsResponse:
    """The facets of the embedding, usable in `facet=`."""
    schema = model.schema
    return FacetsResponse(
        disentangled=schema.disentangled,
        facets=[
            FacetInfo(
                name=f.name,
                dim=f.dim,
                concepts=[c for c in schema.concepts if schema.facet_of_concept(c).name == f.name],
            )
            for f in schema.facets
        ],
    )
