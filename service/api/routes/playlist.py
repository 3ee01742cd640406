"""A playlist that moves from one catalogue track to another, in a facet mix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from service.api.access import GatedRoute
from service.api.deps import PlaylistsDep, SettingsDep
from service.api.filters import QueryFilters
from service.api.numbers import Int
from service.api.routes.common import ERRORS, MAX_TRACK_ID, results, summary
from service.api.routes.similar import FACET_HELP
from service.catalog import NO_FILTER, PathStep
from service.schemas import (
    PlaylistInfo,
    PlaylistResponse,
    PlaylistStep,
    QueryInfo,
    SimilarResult,
)
from service.settings import Settings

router = APIRouter(tags=["similarity"], responses=ERRORS, route_class=GatedRoute)

#: At most this many steps (each is a target searched for several times k candidates),
#: whatever ``settings.max_k`` allows for other queries.
MAX_STEPS = 100

FROM_HELP = "A: the track the path starts from (not a step itself)."
TO_HELP = "B: the track the path ends at (not a step itself)."
SPACING_HELP = (
    "Two tracks of one artist are more than this many positions apart, A (position 0) and B "
    "(position k + 1) included; 0: no rule. Tracks without an artist never conflict."
)
_TRACK = {"external_id": None, "album": None, "isrc": None, "year": None}
#: The OpenAPI example: GET /playlist?from=12&to=40&k=2&facet=mood:2,genre:1&spacing=1
EXAMPLE: dict[str, Any] = {
    "facet_weights": {"mood": 0.666667, "genre": 0.333333},
    "k": 2,
    "found": 2,
    "query": {"playlist": {
        "from_track": {"id": 12, "title": "Calm piano", "artist": "Ann", "duration": 184.0,
                       **_TRACK},
        "to_track": {"id": 40, "title": "Loud drums", "artist": "Bob", "duration": 201.5,
                     **_TRACK},
        "spacing": 1, "score": 0.12, "facets": {"genre": 0.31, "mood": 0.02,
                                               "instrument": 0.4, "era": 0.7},
    }},
    "results": [
        {"track": {"id": 7, "title": "Slow strings", "artist": "Cy", "duration": 150.0,
                   **_TRACK},
         "score": 0.91, "facets": {"genre": 0.93, "mood": 0.9, "instrument": 0.5, "era": 0.8},
         "t": 0.333333, "from_score": 0.8, "from_facets": {"genre": 0.7, "mood": 0.85,
                                                          "instrument": 0.6, "era": 0.9},
         "to_score": 0.3, "to_facets": {"genre": 0.5, "mood": 0.2, "instrument": 0.3,
                                        "era": 0.6},
         "previous_score": 0.8, "next_score": 0.7},
        {"track": {"id": 33, "title": "Brisk band", "artist": "Dee", "duration": 222.0,
                   **_TRACK},
         "score": 0.88, "facets": {"genre": 0.9, "mood": 0.87, "instrument": 0.4, "era": 0.7},
         "t": 0.666667, "from_score": 0.35, "from_facets": {"genre": 0.5, "mood": 0.28,
                                                           "instrument": 0.4, "era": 0.8},
         "to_score": 0.79, "to_facets": {"genre": 0.75, "mood": 0.81, "instrument": 0.5,
                                         "era": 0.7},
         "previous_score": 0.7, "next_score": 0.79},
    ],
}

def check_steps(k: int, settings: Settings) -> int:
    limit = min(settings.max_k, MAX_STEPS)
    if not 1 <= k <= limit:
        raise HTTPException(422, f"k must be between 1 and {limit}, got {k}")
    return k


@router.get("/playlist", response_model=PlaylistResponse,
            responses={200: {"content": {"application/json": {"example": EXAMPLE}}}})
def playlist(
    playlists: PlaylistsDep,
    settings: SettingsDep,
    from_: Annotated[Int, Query(alias="from", ge=1, le=MAX_TRACK_ID, description=FROM_HELP)],
    to: Annotated[Int, Query(ge=1, le=MAX_TRACK_ID, description=TO_HELP)],
    k: Int = 10,
    facet: Annotated[str | None, Query(max_length=500, description=FACET_HELP)] = None,
    spacing: Annotated[Int, Query(ge=0, le=MAX_STEPS, description=SPACING_HELP)] = 0,
    filters: QueryFilters = NO_FILTER,
) -> PlaylistResponse:
    """k tracks that move from track A to track B, smoothly in a facet mix.

    Step i aims at the point i / (k + 1) of the way from A to B (each facet turned on the
    sphere from A's direction to B's) and takes the nearest track there, under the facet
    weights and filters, that is neither A, B nor an earlier step and keeps ``spacing``
    between two tracks of one artist. Each step is explained facet by facet: against its
    target (score, facets), A and B, and the tracks before and after it.
    """
    check_steps(k, settings)
    path = playlists.path(from_, to, k=k, facet=facet, spacing=spacing, filters=filters)
    steps = [_step(s, r) for s, r in zip(path.steps, results([s.hit for s in path.steps]),
                                         strict=True)]
    info = PlaylistInfo(from_track=summary(path.source), to_track=summary(path.target),
                        spacing=spacing, score=path.score, facets=path.facets)
    return PlaylistResponse(facet_weights=path.weights, k=k, found=len(steps),
                            query=QueryInfo(playlist=info), results=steps)


def _step(step: PathStep, result: SimilarResult) -> PlaylistStep:
    return PlaylistStep(
        **result.model_dump(), t=step.t, from_score=step.from_score,
        from_facets=step.from_facets, to_score=step.to_score, to_facets=step.to_facets,
        previous_score=step.previous_score, next_score=step.next_score,
    )
