"""Similarity to several seeds: catalogue tracks and uploaded clips, liked and disliked."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, HTTPException, UploadFile

from layout.seeds import average_query
from service.api import examples
from service.api.access import GatedRoute
from service.api.deps import QueriesDep, RecordingsDep, SettingsDep
from service.api.filters import MAX_VALUES, FormFilters
from service.api.numbers import Decimal, Int
from service.api.routes.common import ERRORS, TrackIdItem, check_k, results
from service.api.routes.similar import FACET_HELP
from service.catalog import NO_FILTER
from service.schemas import QueryInfo, SeedsInfo, SimilarResponse

router = APIRouter(tags=["similarity"], responses=ERRORS, route_class=GatedRoute)

#: At most this many uploaded clips per query (each is decoded and embedded).
MAX_CLIPS = 8
STRATEGY = "average_vector"

Ids = Annotated[
    list[TrackIdItem] | None,
    Form(max_length=MAX_VALUES, description=f"Track ids; repeat for several (at most "
                                            f"{MAX_VALUES})."),
]
Clips = Annotated[
    list[UploadFile] | None,
    File(description=f"Audio clips; repeat for several (at most {MAX_CLIPS} in all)."),
]
NEGATIVE_WEIGHT_HELP = "lambda: how strongly the negatives push the query away (0: ignored)."


@router.post("/similar/query", response_model=SimilarResponse,
             responses=examples.answer(examples.SIMILAR_TO_SEEDS))
def similar_to_seeds(
    recordings: RecordingsDep,
    queries: QueriesDep,
    settings: SettingsDep,
    positive: Ids = None,
    negative: Ids = None,
    positive_clip: Clips = None,
    negative_clip: Clips = None,
    negative_weight: Annotated[Decimal, Form(ge=0, le=100, description=NEGATIVE_WEIGHT_HELP)
                               ] = 1.0,
    facet: Annotated[str | None, Form(max_length=500, description=FACET_HELP)] = None,
    k: Annotated[Int, Form()] = 10,
    filters: FormFilters = NO_FILTER,
) -> SimilarResponse:
    """Tracks like the positive seeds and unlike the negative ones (ids and/or clips).

    Per facet, the query is the mean of the positives' unit facet vectors minus
    ``negative_weight`` times the negatives' mean, renormalised ("average vector"); it is then
    searched like any query, in a facet mix (negative weights: unlike in that facet), with
    the filters. Seed tracks are never returned.
    """
    check_k(k, settings)
    positive, negative = positive or [], negative or []
    pos_clips, neg_clips = positive_clip or [], negative_clip or []
    if not positive and not pos_clips:
        raise HTTPException(422, "give at least one positive seed: positive=<track id> or "
                                 "positive_clip=<audio file>")
    if len(pos_clips) + len(neg_clips) > MAX_CLIPS:
        raise HTTPException(422, f"at most {MAX_CLIPS} clips in all, got "
                                 f"{len(pos_clips) + len(neg_clips)}")
    seconds = 0.0
    vectors: dict[str, list[np.ndarray]] = {"positive": [], "negative": []}
    for side, ids, clips in (("positive", positive, pos_clips),
                             ("negative", negative, neg_clips)):
        vectors[side] += [queries.vector_of(i) for i in ids]
        for clip in clips:
            decoded = recordings.decode(clip.file.read())
            seconds += decoded.duration
            vectors[side].append(recordings.embed(decoded.samples).vector)
    query = average_query(
        np.stack(vectors["positive"]),
        np.stack(vectors["negative"]) if vectors["negative"] else None,
        queries.schema,
        negative_weight=negative_weight,
    )
    weights, hits = queries.similar(
        query, k=k, facet=facet, filters=filters.excluding(*positive, *negative)
    )
    seeds = SeedsInfo(positive=positive, negative=negative, positive_clips=len(pos_clips),
                      negative_clips=len(neg_clips), negative_weight=negative_weight,
                      strategy=STRATEGY)
    info = QueryInfo(duration=round(seconds, 3) if pos_clips or neg_clips else None,
                     seeds=seeds)
    return SimilarResponse(facet_weights=weights, k=k, query=info, results=results(hits))
