"""Filters on GET /similar/{id}, POST /similar and GET /search against brute force over the
catalogue (stored vectors, stored tag scores, uploaded metadata), on SQLite and PostgreSQL.

Each case asks for fewer results than qualify where it can: k results must come back
whenever k tracks qualify (the filters run inside FAISS, not on its first k).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layout.tags import tag_query
from service.store import artist_key, check_isrc
from support.audio import encode
from tests.conftest import BACKENDS
from tests.service.conftest import SR, song
from tests.service.shelf import ROWS, Shelf, open_shelf

EVERY = {"genre": 0.25, "mood": 0.25, "instrument": 0.25, "era": 0.25}
Params = list[tuple[str, Any]]


@pytest.fixture(scope="module", params=BACKENDS)
def shelf(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    yield from open_shelf(request, tmp_path_factory)


def values(params: Params, name: str) -> list[Any]:
    return [v for n, v in params if n == name]


def one(params: Params, name: str, default: Any = None) -> Any:
    found = values(params, name)
    return found[0] if found else default


def qualifies(shelf: Shelf, tid: int, params: Params) -> bool:
    """The filters of ``params`` applied in Python to one track."""
    row = shelf.rows[tid]
    duration = shelf.client.get(f"/tracks/{tid}").json()["duration"]
    checks = [
        (values(params, "artist"), lambda v: artist_key(row.artist) in map(artist_key, v)),
        (values(params, "album"), lambda v: row.album in v),
        (values(params, "isrc"), lambda v: row.isrc is not None
         and check_isrc(row.isrc) in map(check_isrc, v)),
        (one(params, "year_min"), lambda v: row.year is not None and row.year >= v),
        (one(params, "year_max"), lambda v: row.year is not None and row.year <= v),
        (one(params, "duration_min"), lambda v: duration >= v),
        (one(params, "duration_max"), lambda v: duration <= v),
        (values(params, "exclude"), lambda v: tid not in v),
        (one(params, "exclude_artist"), lambda v: artist_key(row.artist) != artist_key(v)),
        (values(params, "tag"), lambda v: tagged(shelf, tid, params, v)),
    ]
    return all(check(given) for given, check in checks if given not in (None, []))


def tagged(shelf: Shelf, tid: int, params: Params, tags: list[str]) -> bool:
    threshold = float(one(params, "tag_threshold", 0.5))
    has = [shelf.tags[tid].get(t, 0.0) > threshold for t in tags]
    return any(has) if one(params, "tag_mode", "all") == "any" else all(has)


def expected(shelf: Shelf, query: np.ndarray, params: Params, k: int,
             weights: dict[str, float] = EVERY, skip: int | None = None) -> list[tuple[int, float]]:
    ranked = shelf.ranked(query, weights, lambda t: t != skip and qualifies(shelf, t, params))
    return ranked[:k]


def assert_matches(body: dict[str, Any], want: list[tuple[int, float]], k: int) -> None:
    got = [(r["track"]["id"], r["score"]) for r in body["results"]]
    assert len(got) == len(want) <= k
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-4)



CASES: list[tuple[str, Params, int]] = [
    ("years", [("year_min", 1970), ("year_max", 2005)], 3),
    ("from a year", [("year_min", 2001)], 2),
    ("one year", [("year_min", 1965), ("year_max", 1965)], 5),
    ("any year", [("year_min", 1860)], 20),  # tracks without a year fail
    ("artist, case ignored", [("artist", "ANN")], 2),
    ("two artists", [("artist", "Bob"), ("artist", "dee")], 4),
    ("artist with SQL", [("artist", "O'Brien; DROP TABLE tracks; --")], 5),
    ("unicode artist", [("artist", "éva")], 5),
    ("album", [("album", "Red")], 2),
    ("album is exact", [("album", "red")], 5),
    ("two albums", [("album", "Red"), ("album", "Ünïcode")], 10),
    ("isrc spellings", [("isrc", "us-rc1-76-00002"), ("isrc", "FRZ030100001")], 10),
    ("durations", [("duration_min", 2.9), ("duration_max", 4.1)], 3),
    ("short", [("duration_max", 2.2)], 10),
    ("exclude", [("artist", "Bob"), ("exclude", "b2")], 10),
    ("exclude artist", [("year_min", 1960), ("exclude_artist", "cy")], 4),
    # The tiny random model's tag probabilities sit in narrow, tag-specific bands (jazz
    # ~0.998, chorale 0.17..0.32, baroque 0.06..0.13): thresholds are chosen inside them.
    ("tag", [("tag", "chorale"), ("tag_threshold", 0.25)], 3),
    ("tags all", [("tag", "baroque"), ("tag", "strings"), ("tag_threshold", 0.1)], 10),
    ("tags any", [("tag", "baroque"), ("tag", "modern"), ("tag_mode", "any"),
                  ("tag_threshold", 0.072)], 3),
    ("tags all, default threshold", [("tag", "jazz"), ("tag", "piano")], 4),
    ("no tag above", [("tag", "rock")], 10),
    ("tag threshold high", [("tag", "folk song"), ("tag", "piano"), ("tag_mode", "all"),
                            ("tag_threshold", 0.9)], 10),
    ("everything", [("year_min", 1965), ("duration_min", 1.0), ("album", "First"),
                    ("album", "Blue"), ("album", "Red"), ("exclude_artist", "dee"),
                    ("tag", "jazz"), ("tag", "sad"), ("tag_mode", "any"),
                    ("tag_threshold", 0.2)], 3),
    ("nothing qualifies", [("year_min", 2030)], 5),
]


def resolved(shelf: Shelf, params: Params) -> Params:
    """``exclude`` values given as row keys -> track ids."""
    return [(n, shelf.ids[v] if n == "exclude" else v) for n, v in params]


@pytest.mark.parametrize("name, params, k", CASES, ids=[c[0] for c in CASES])
def test_similar_to_track_filters_match_brute_force(shelf: Shelf, name, params, k):
    params = resolved(shelf, params)
    qid = shelf.ids["a1"]
    body = shelf.client.get(f"/similar/{qid}", params=[*params, ("k", k)]).json()
    want = expected(shelf, shelf.vector(qid), params, k, skip=qid)
    assert_matches(body, want, k)
    qualifying = [t for t in shelf.rows if t != qid and qualifies(shelf, t, params)]
    assert len(body["results"]) == min(k, len(qualifying))


@pytest.mark.parametrize("name, params, k", CASES[::3], ids=[c[0] for c in CASES[::3]])
def test_similar_to_clip_filters_match_brute_force(shelf: Shelf, name, params, k):
    params = resolved(shelf, params)
    row = ROWS[9]  # the clip is track d2's audio: its stored vector is the query
    data = encode(song(row.key, row.seconds), SR, "wav")
    form: dict[str, list[str]] = {"k": [str(k)], "identify": ["false"]}
    for n, v in params:
        form.setdefault(n, []).append(str(v))
    r = shelf.client.post("/similar", files=[("file", ("q.wav", data, "audio/wav"))], data=form)
    assert r.status_code == 200, r.text
    want = expected(shelf, shelf.vector(shelf.ids[row.key]), params, k)
    assert_matches(r.json(), want, k)


SEARCH_CASES = [c for c in CASES if not values(c[1], "tag")][::2]


@pytest.mark.parametrize("name, params, k", SEARCH_CASES, ids=[c[0] for c in SEARCH_CASES])
def test_search_filters_match_brute_force(shelf: Shelf, name, params, k):
    params = resolved(shelf, params)
    tags = ["jazz", "sad"]
    body = shelf.client.get("/search", params=[*params, *(("tag", t) for t in tags), ("k", k)])
    assert body.status_code == 200, body.text
    catalog = shelf.catalog
    query, weights = tag_query(tags, catalog.model.tag_proxies, catalog.schema)
    assert_matches(body.json(), expected(shelf, query, params, k, weights), k)


def test_filters_are_reported_in_openapi(shelf: Shelf):
    spec = shelf.client.get("/openapi.json").json()
    by_id = {p["name"]: p for p in spec["paths"]["/similar/{track_id}"]["get"]["parameters"]}
    assert {"year_min", "year_max", "artist", "album", "isrc", "duration_min", "duration_max",
            "tag", "tag_mode", "tag_threshold", "exclude", "exclude_artist"} <= set(by_id)
    assert "above this" in by_id["tag_threshold"]["description"]
    search = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert "year_min" in search and "tag_mode" not in search
