"""POST /similar/query (several seeds, positives and negatives, ids and clips) and negative
facet weights, against brute force over the stored vectors; SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layout.facets import parse_weights
from support.audio import encode
from tests.conftest import BACKENDS
from tests.service.conftest import SR, song
from tests.service.shelf import ROWS, Shelf, open_shelf

ROW = {r.key: r for r in ROWS}


@pytest.fixture(scope="module", params=BACKENDS)
def shelf(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    yield from open_shelf(request, tmp_path_factory)


def seeds_query(shelf: Shelf, pos: list[str], neg: list[str], lam: float) -> np.ndarray:
    """The average-vector query, written out: per facet, unit(mean u(p) - lam mean u(n))."""
    schema = shelf.catalog.schema
    k = len(schema.facets)
    P = np.stack([shelf.vector(shelf.ids[key]) for key in pos]).astype(np.float64)
    N = np.stack([shelf.vector(shelf.ids[key]) for key in neg]).astype(np.float64) if neg else None
    q = np.zeros(schema.dim)
    for f in schema.facets:
        u = P[:, f.slice].mean(0) * np.sqrt(k)
        if N is not None:
            u = u - lam * N[:, f.slice].mean(0) * np.sqrt(k)
        q[f.slice] = u / np.linalg.norm(u) / np.sqrt(k)
    return q.astype(np.float32)


def clip(key: str) -> tuple[str, bytes, str]:
    return (f"{key}.wav", encode(song(key, ROW[key].seconds), SR, "wav"), "audio/wav")


def post(shelf: Shelf, data: dict[str, Any], files: list[tuple[str, Any]] | None = None):
    return shelf.client.post("/similar/query", data=data, files=files or None)


def assert_brute_force(shelf: Shelf, body: dict[str, Any], query: np.ndarray,
                       weights: dict[str, float], skip: set[int], k: int) -> None:
    want = shelf.ranked(query, weights, lambda t: t not in skip)[:k]
    got = [(r["track"]["id"], r["score"]) for r in body["results"]]
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-4)
    for r in body["results"]:  # the explanation adds up to the score
        total = sum(weights.get(n, 0) * c for n, c in r["facets"].items())
        assert r["score"] == pytest.approx(total, abs=1e-4)


CASES = [
    (["a1", "c1"], [], 1.0, None, 5),
    (["a1"], ["b2"], 1.0, None, 4),
    (["a1", "a2", "d1"], ["b1", "e1"], 0.5, "genre:1,mood:-1", 6),
    (["c2"], ["c1", "d2"], 2.0, "era:0.2,instrument:0.8", 20),
    (["b3", "e2"], ["a3"], 0.0, "mood", 3),
]


@pytest.mark.parametrize("pos, neg, lam, facet, k", CASES)
def test_seed_ids_match_brute_force(shelf: Shelf, pos, neg, lam, facet, k):
    data = {"positive": [shelf.ids[p] for p in pos], "negative": [shelf.ids[n] for n in neg],
            "negative_weight": str(lam), "k": str(k)} | ({"facet": facet} if facet else {})
    r = post(shelf, data)
    assert r.status_code == 200, r.text
    body = r.json()
    weights = parse_weights(facet, shelf.catalog.schema)
    assert body["facet_weights"] == pytest.approx(weights)
    skip = {shelf.ids[key] for key in pos + neg}
    assert_brute_force(shelf, body, seeds_query(shelf, pos, neg, lam), weights, skip, k)
    assert len(body["results"]) == min(k, len(ROWS) - len(skip))
    assert body["query"]["seeds"] == {
        "positive": data["positive"], "negative": data["negative"], "positive_clips": 0,
        "negative_clips": 0, "negative_weight": lam, "strategy": "average_vector",
    }


def test_clips_and_ids_mix(shelf: Shelf):
    files = [("positive_clip", clip("d2")), ("negative_clip", clip("b3"))]
    data = {"positive": [shelf.ids["a1"]], "facet": "genre:0.6,mood:-0.4", "k": "5"}
    r = post(shelf, data, files)
    assert r.status_code == 200, r.text
    body = r.json()
    # each clip is a catalogue track's audio: its embedding is that track's stored vector
    weights = parse_weights("genre:0.6,mood:-0.4", shelf.catalog.schema)
    query = seeds_query(shelf, ["a1", "d2"], ["b3"], 1.0)
    # clip seeds are not catalogue ids: the tracks they are cut from may come back
    assert_brute_force(shelf, body, query, weights, {shelf.ids["a1"]}, 5)
    assert body["query"]["duration"] == pytest.approx(ROW["d2"].seconds + ROW["b3"].seconds,
                                                      abs=1e-3)
    seeds = body["query"]["seeds"]
    assert (seeds["positive_clips"], seeds["negative_clips"]) == (1, 1)


def test_seeds_with_filters(shelf: Shelf):
    data = {"positive": [shelf.ids["a1"], shelf.ids["d1"]], "negative": [shelf.ids["b1"]],
            "year_min": "1970", "tag": ["chorale"], "tag_threshold": "0.25", "k": "2"}
    body = post(shelf, data).json()
    keep = {t for t, row in shelf.rows.items() if row.year is not None and row.year >= 1970
            and shelf.tags[t]["chorale"] > 0.25} - {shelf.ids[x] for x in ("a1", "d1", "b1")}
    assert len(keep) >= 2
    weights = parse_weights(None, shelf.catalog.schema)
    skip = set(shelf.rows) - keep
    assert_brute_force(shelf, body, seeds_query(shelf, ["a1", "d1"], ["b1"], 1.0), weights,
                       skip, 2)
    assert len(body["results"]) == 2


@pytest.mark.parametrize("facet", ["genre:1,mood:-1", "mood:-1", "era:-0.3,instrument:0.7"])
def test_negative_facet_weights_on_similar_by_id(shelf: Shelf, facet):
    qid = shelf.ids["c1"]
    body = shelf.client.get(f"/similar/{qid}", params={"facet": facet, "k": 6}).json()
    weights = parse_weights(facet, shelf.catalog.schema)
    assert sum(abs(w) for w in body["facet_weights"].values()) == pytest.approx(1.0)
    assert_brute_force(shelf, body, shelf.vector(qid), weights, {qid}, 6)


@pytest.mark.parametrize(
    "data, status, detail",
    [
        ({}, 422, "give at least one positive seed: positive=<track id> or positive_clip="),
        ({"negative": "1"}, 422, "give at least one positive seed"),
        ({"positive": "999999"}, 404, "track 999999 not found"),
        ({"positive": "0"}, 422, "positive.0: Input should be greater than or equal to 1"),
        ({"positive": "abc"}, 422, "positive.0: 'abc' is not an integer in ASCII digits"),
        ({"positive": "1", "negative_weight": "-1"}, 422,
         "negative_weight: Input should be greater than or equal to 0"),
        ({"positive": "1", "negative_weight": "nan"}, 422, "negative_weight: 'nan' is not a"),
        ({"positive": "1", "k": "0"}, 422, "k must be between 1 and 50, got 0"),
        ({"positive": "1", "facet": "mood:0"}, 422, "facet weights are all zero"),
        ({"positive": "1", "seed": "2"}, 422, "unknown form field 'seed'; valid form fields: "
                                              "positive, negative, positive_clip, "),
        ({"positive": ["1", "2"], "k": ["3", "4"]}, 422,
         "form field 'k' is given 2 times; it takes one value"),
        ({"positive": [str(i) for i in range(1, 102)]}, 422,
         "positive: List should have at most 100 items after validation, not 101"),
    ],
)
def test_bad_seed_queries_are_clear(shelf: Shelf, data, status, detail):
    r = post(shelf, data)
    assert r.status_code == status, r.text
    assert r.json()["detail"].startswith(detail), r.json()["detail"]


def test_bad_clips_are_refused(shelf: Shelf):
    r = post(shelf, {}, [("positive_clip", ("x.wav", b"not audio", "audio/wav"))])
    assert r.status_code == 415 and "cannot decode audio" in r.json()["detail"]
    nine = [("positive_clip", clip("a1"))] * 5 + [("negative_clip", clip("b1"))] * 4
    r = post(shelf, {}, nine)
    assert r.status_code == 422
    assert r.json() == {"detail": "at most 8 clips in all, got 9"}
