"""Tag search and the vocabulary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from service.api.access import GatedRoute
from service.api.deps import ModelDep, QueriesDep, SettingsDep
from service.api.filters import QueryMetadataFilters
from service.api.numbers import Int
from service.api.routes.common import ERRORS, check_k, summary
from service.catalog import NO_FILTER
from service.schemas import (
    FacetInfo,
    FacetsResponse,
    SearchResponse,
    SearchResult,
    TagInfo,
    TagsResponse,
)

router = APIRouter(tags=["search"], responses=ERRORS, route_class=GatedRoute)


@router.get("/search", response_model=SearchResponse)
def search(
    queries: QueriesDep,
    settings: SettingsDep,
    tag: Annotated[list[str] | None, Query(description="Tag to rank by; repeat to combine")] = None,
    k: Int = 10,
    filters: QueryMetadataFilters = NO_FILTER,
) -> SearchResponse:
    """Tracks ranked by one or more tags (nearest to the tags' proxies in their facets)."""
    check_k(k, settings)
    tags = list(dict.fromkeys(tag or []))
    if not tags:
        raise HTTPException(422, "give at least one tag, e.g. /search?tag=jazz (see GET /tags)")
    hits = queries.search_tags(tags, k=k, filters=filters)
    scores = queries.tag_scores([h.track.id for h in hits], tags)
    return SearchResponse(
        tags=tags,
        k=k,
        results=[
            SearchResult(
                track=summary(h.track), score=h.score, tag_scores=scores.get(h.track.id, {})
            )
            for h in hits
        ],
    )


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
