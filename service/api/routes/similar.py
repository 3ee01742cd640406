"""Similarity: by uploaded clip, or by catalogue track, in any facet mix."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from service.api import examples
from service.api.access import GatedRoute
from service.api.deps import QueriesDep, RecordingsDep, SettingsDep
from service.api.filters import FormFilters, QueryFilters
from service.api.numbers import Decimal, Int
from service.api.routes.common import (
    ERRORS,
    TrackId,
    check_k,
    json_response,
    predicted_tags,
    results,
)
from service.catalog import NO_FILTER
from service.schemas import QueryInfo, SimilarResponse

REGIONS_HELP = (
    "Also say, for each result, which stretch of it (up to 15 s) best matches which stretch "
    "of the query, from the stored window vectors under the same facet weights."
)
router = APIRouter(tags=["similarity"], responses=ERRORS, route_class=GatedRoute)

FACET_HELP = (
    "A facet ('mood') or a weighted mix ('mood:0.7,genre:0.3'; a negative weight ranks by "
    "dissimilarity in its facet: 'genre:1,mood:-1'); default: all facets."
)
IDENTIFY_HELP = (
    "Put the catalogue recording the clip is cut from first (audio fingerprint); false: rank "
    "by embedding only."
)


@router.post("/similar", response_model=SimilarResponse)
def similar_to_clip(
    recordings: RecordingsDep,
    queries: QueriesDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="Query audio clip")],
    start: Annotated[Decimal, Form(ge=0, le=86_400)] = 0.0,
    duration: Annotated[Decimal | None, Form(gt=0, le=86_400)] = None,
    facet: Annotated[str | None, Form(max_length=500, description=FACET_HELP)] = None,
    k: Annotated[Int, Form()] = 10,
    filters: FormFilters = NO_FILTER,
    identify: Annotated[bool, Form(description=IDENTIFY_HELP)] = True,
    regions: Annotated[bool, Form(description=REGIONS_HELP)] = False,
) -> Response:
    """Catalogue tracks that sound like the uploaded clip (optionally a part of it).

    A catalogue recording the clip is cut from (found by its audio fingerprint) comes first,
    with a ``match``; then the nearest tracks by embedding.
    """
    check_k(k, settings)
    data = file.file.read()
    decoded = recordings.decode(data, start=start, duration=duration)
    emb = recordings.embed(decoded.samples)
    matches = recordings.identify(decoded.samples) if identify else []
    weights, hits = queries.similar(
        emb.vector,
        k=k,
        facet=facet,
        filters=filters,
        matches=matches,
    )
    if regions:
        queries.add_regions(hits, emb.windows, query_hop=emb.hop_seconds,
                            query_window=emb.window_seconds, weights=weights,
                            query_offset=start)
    query = QueryInfo(
        duration=round(decoded.duration, 3), tags=predicted_tags(queries.schema, emb.tag_probs)
    )
    return json_response(
        SimilarResponse(facet_weights=weights, k=k, query=query, results=results(hits))
    )


@router.get("/similar/{track_id}", response_model=SimilarResponse,
            responses=examples.answer(examples.SIMILAR_TO_TRACK))
def similar_to_track(
    queries: QueriesDep,
    settings: SettingsDep,
    track_id: TrackId,
    facet: Annotated[str | None, Query(max_length=500, description=FACET_HELP)] = None,
    k: Int = 10,
    filters: QueryFilters = NO_FILTER,
    regions: Annotated[bool, Query(description=REGIONS_HELP)] = False,
) -> Response:
    """Tracks like this one, in one facet or a weighted mix; the track itself is excluded."""
    check_k(k, settings)
    vector = queries.vector_of(track_id)
    weights, hits = queries.similar(
        vector,
        k=k,
        facet=facet,
        filters=filters.excluding(track_id),
    )
    if regions:
        seed = queries.windows_of(track_id)
        queries.add_regions(hits, seed.windows, query_hop=seed.hop_seconds,
                            query_window=seed.window_seconds, weights=weights)
    return json_response(SimilarResponse(
        facet_weights=weights, k=k, query=QueryInfo(track_id=track_id), results=results(hits)
    ))
