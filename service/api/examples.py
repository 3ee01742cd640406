"""OpenAPI answer examples of the query and export routes (issue 16: each route "in the
OpenAPI schema with an example").

Each example is an answer of the route trimmed to a readable size (two results, three tags,
a 4-dimensional model): tests/service/test_openapi_examples.py checks that each one is a valid
answer of its response model and agrees with itself (a region's end is its start plus its
duration, a vector's facet slices make up the vector), so an example cannot drift from the
schema it illustrates.
"""

from __future__ import annotations

from typing import Any

_NO_META = {"external_id": None, "album": None, "isrc": None, "year": None}


def _track(track_id: int, title: str, artist: str, duration: float) -> dict[str, Any]:
    return {"id": track_id, "title": title, "artist": artist, "duration": duration, **_NO_META}


def _query(**given: Any) -> dict[str, Any]:
    query: dict[str, Any] = {"duration": None, "track_id": None, "tags": None, "seeds": None,
                             "playlist": None}
    return query | given


#: GET /similar/12?k=2&facet=mood:0.7,genre:0.3&regions=true
SIMILAR_TO_TRACK: dict[str, Any] = {
    "facet_weights": {"mood": 0.7, "genre": 0.3},
    "k": 2,
    "query": _query(track_id=12),
    "results": [
        {"track": _track(31, "Slow strings", "Cy", 150.0), "score": 0.874,
         "facets": {"genre": 0.81, "mood": 0.901, "instrument": 0.42, "era": 0.66},
         "match": None,
         "region": {"start": 42.0, "duration": 15.0, "end": 57.0, "score": 0.83,
                    "query": {"start": 9.0, "duration": 15.0, "end": 24.0}}},
        {"track": _track(7, "Night walk", "Dee", 201.5), "score": 0.802,
         "facets": {"genre": 0.64, "mood": 0.871, "instrument": 0.55, "era": 0.3},
         "match": None,
         "region": {"start": 0.0, "duration": 12.0, "end": 12.0, "score": 0.77,
                    "query": {"start": 0.0, "duration": 12.0, "end": 12.0}}},
    ],
}

#: POST /similar/query with positive=12, positive=40, negative=7, facet=genre:1,mood:-1, k=2
SIMILAR_TO_SEEDS: dict[str, Any] = {
    "facet_weights": {"genre": 0.5, "mood": -0.5},
    "k": 2,
    "query": _query(seeds={"positive": [12, 40], "negative": [7], "positive_clips": 0,
                           "negative_clips": 0, "negative_weight": 1.0,
                           "strategy": "average_vector"}),
    "results": [
        {"track": _track(88, "Brisk band", "Eve", 222.0), "score": 0.412,
         "facets": {"genre": 0.91, "mood": 0.086, "instrument": 0.37, "era": 0.52},
         "match": None, "region": None},
        {"track": _track(5, "Loud drums", "Bob", 187.0), "score": 0.352,
         "facets": {"genre": 0.77, "mood": 0.067, "instrument": 0.61, "era": 0.48},
         "match": None, "region": None},
    ],
}

#: GET /tracks/12/tags/timeline?concept=mood (a 7.5 s track: three 3 s windows, the last
#: one padded)
TAG_TIMELINE: dict[str, Any] = {
    "track_id": 12,
    "window_seconds": 3.0,
    "hop_seconds": 3.0,
    "windows": [
        {"start": 0.0, "duration": 3.0, "tags": {"calm": 0.91, "energetic": 0.04, "sad": 0.22}},
        {"start": 3.0, "duration": 3.0, "tags": {"calm": 0.62, "energetic": 0.31, "sad": 0.1}},
        {"start": 6.0, "duration": 3.0, "tags": {"calm": 0.15, "energetic": 0.88, "sad": 0.03}},
    ],
}

#: GET /tracks/12/vectors?windows=true (a 4-dimensional model for the example; the shipped
#: one has 256 dimensions in four facets of 64)
TRACK_VECTORS: dict[str, Any] = {
    "track_id": 12,
    "model": "musicprism-default-ef6ab01a7166",
    "dim": 4,
    "vector": [0.5, -0.5, 0.5, 0.5],
    "facets": {"genre": [0.5], "mood": [-0.5], "instrument": [0.5], "era": [0.5]},
    "window_seconds": 3.0,
    "hop_seconds": 3.0,
    "windows": [[0.6, -0.4, 0.6, 0.36], [0.4, -0.6, 0.4, 0.56]],
}

#: POST /admin/import of a file of three tracks, one of which was already here
IMPORT_RESULT: dict[str, Any] = {
    "rows": 3,
    "added": 2,
    "embedded": 0,
    "present": 1,
    "ids": [{"source_id": 1, "track_id": 204}, {"source_id": 2, "track_id": 17},
            {"source_id": 3, "track_id": 205}],
}


def answer(example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` entry that shows ``example`` as its 200 answer."""
    return {200: {"content": {"application/json": {"example": example}}}}
