"""GET /playlist (a path from track A to track B) on a real catalogue, SQLite and PostgreSQL:
the steps against a brute force over the stored vectors, the ends, the trend from A to B,
artist spacing, filters, and the 404s and 422s."""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pytest

from layout.facets import facet_cosines, parse_weights
from tests.conftest import BACKENDS
from tests.service.shelf import ROWS, Shelf, open_shelf

ROW = {r.key: r for r in ROWS}
PARAMS = ("from, to, k, facet, spacing, exclude, exclude_artist, artist, album, isrc, "
          "year_min, year_max, duration_min, duration_max, tag, tag_mode, tag_threshold")


@pytest.fixture(scope="module", params=BACKENDS)
def shelf(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    yield from open_shelf(request, tmp_path_factory)


def get(shelf: Shelf, a: str, b: str, **params: Any):
    return shelf.client.get("/playlist", params={"from": shelf.ids[a], "to": shelf.ids[b]}
                            | params)


def artist(shelf: Shelf, tid: int) -> str:
    return unicodedata.normalize("NFKC", shelf.rows[tid].artist).casefold().strip()


def targets(shelf: Shelf, a: int, b: int, k: int) -> np.ndarray:
    """The k slerped targets, written out: each facet turns from A's direction to B's."""
    schema = shelf.catalog.schema
    n = len(schema.facets)
    va, vb = shelf.vector(a).astype(np.float64), shelf.vector(b).astype(np.float64)
    out = np.zeros((k, schema.dim))
    for i in range(1, k + 1):
        t = i / (k + 1)
        for f in schema.facets:
            ua, ub = va[f.slice] * np.sqrt(n), vb[f.slice] * np.sqrt(n)
            w = np.arccos(np.clip(ua @ ub, -1, 1))
            u = (np.sin((1 - t) * w) * ua + np.sin(t * w) * ub) / np.sin(w)
            out[i - 1, f.slice] = u / np.linalg.norm(u) / np.sqrt(n)
    return out.astype(np.float32)


def brute_force(shelf: Shelf, a: int, b: int, k: int, weights: dict[str, float],
                spacing: int, keep=lambda _: True) -> list[tuple[int, int, float]]:
    """(position, id, score) in path order; filled from the ends inwards (1, k, 2, k - 1...),
    each the best unused track with no same artist near it."""
    placed = {0: artist(shelf, a), k + 1: artist(shelf, b)}
    out: list[tuple[int, int, float]] = []
    goal = targets(shelf, a, b, k)
    order = [p for pair in zip(range(1, k + 1), range(k, 0, -1), strict=True) for p in pair]
    for i in order[:k]:
        near = {x for p, x in placed.items() if abs(p - i) <= spacing}
        taken = {a, b} | {tid for _, tid, _ in out}
        ranked = shelf.ranked(goal[i - 1], weights, lambda t, taken=taken, near=near: keep(t)
                              and t not in taken and artist(shelf, t) not in near)
        if ranked:
            out.append((i, *ranked[0]))
            placed[i] = artist(shelf, ranked[0][0])
    return sorted(out)


def position(step: dict[str, Any], k: int) -> int:
    return round(step["t"] * (k + 1))


@pytest.mark.parametrize("a, b, k, facet, spacing", [
    ("a1", "e2", 6, None, 0),
    ("b1", "d2", 8, "mood:2,genre:1", 1),
    ("c2", "a3", 5, "genre", 2),
    ("d1", "b3", 4, "genre:1,mood:-1", 0),
    ("a2", "c1", 10, "era:0.2,instrument:0.8", 1),
])
def test_steps_match_brute_force(shelf: Shelf, a, b, k, facet, spacing):
    params = {"k": k, "spacing": spacing} | ({"facet": facet} if facet else {})
    r = get(shelf, a, b, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    schema = shelf.catalog.schema
    weights = parse_weights(facet, schema)
    ia, ib = shelf.ids[a], shelf.ids[b]
    want = brute_force(shelf, ia, ib, k, weights, spacing)
    got = body["results"]
    assert [(position(s, k), s["track"]["id"]) for s in got] == [(p, t) for p, t, _ in want]
    np.testing.assert_allclose([s["score"] for s in got], [s for *_, s in want], atol=1e-4)
    assert body["k"] == k and body["found"] == len(want) == len(got)
    assert body["facet_weights"] == pytest.approx(weights)
    ids = [s["track"]["id"] for s in got]
    assert len(set(ids)) == len(ids) and not {ia, ib} & set(ids)
    info = body["query"]["playlist"]
    assert (info["from_track"]["id"], info["to_track"]["id"], info["spacing"]) == (ia, ib, spacing)
    names = schema.facet_names
    chain = [ia, *ids, ib]
    for i, s in enumerate(got):
        x = shelf.vector(s["track"]["id"])[None, :]
        for key, other in (("from_facets", ia), ("to_facets", ib)):
            cos = facet_cosines(shelf.vector(other), x, schema)[0]
            assert s[key] == pytest.approx(dict(zip(names, cos.tolist(), strict=True)),
                                           abs=1e-5)
        for key in ("", "from_", "to_"):  # each score is its explanation, weighted
            total = sum(weights.get(n, 0) * c for n, c in s[f"{key}facets"].items())
            assert s[f"{key}score"] == pytest.approx(total, abs=1e-4)
        for key, (p, q) in (("previous_score", (i, i + 1)), ("next_score", (i + 1, i + 2))):
            cos = facet_cosines(shelf.vector(chain[p]), shelf.vector(chain[q])[None, :], schema)
            assert s[key] == pytest.approx(sum(weights.get(n, 0) * c for n, c in
                                               zip(names, cos[0], strict=True)), abs=1e-4)


@pytest.mark.parametrize("a, b, facet", [("a1", "e2", None), ("b1", "d2", "mood:2,genre:1"),
                                         ("c2", "a3", "genre"), ("e1", "b2", None)])
def test_first_step_is_near_a_and_last_near_b(shelf: Shelf, a, b, facet):
    k = 8
    params = {"k": k} | ({"facet": facet} if facet else {})
    steps = get(shelf, a, b, **params).json()["results"]
    assert len(steps) == k
    ia, ib = shelf.ids[a], shelf.ids[b]

    def nearest(x: int) -> list[int]:  # /similar/{x} under the same weights, A and B left out
        body = shelf.client.get(f"/similar/{x}", params={"k": 3, "exclude": [ia, ib]}
                                | ({"facet": facet} if facet else {})).json()
        return [h["track"]["id"] for h in body["results"]]

    assert steps[0]["track"]["id"] in nearest(ia)
    assert steps[-1]["track"]["id"] in nearest(ib)


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def test_the_path_leaves_a_and_approaches_b(shelf: Shelf):
    # 12 tracks leave few to choose from (10 candidates for 5 steps), so the trend is checked
    # on average over pairs and facet mixes; tests/layout/test_playlist.py checks it on 3,000
    rhos_a, rhos_b = [], []
    pairs = [("a1", "e2"), ("b1", "d2"), ("c2", "a3"), ("e1", "b2"), ("d1", "a2"), ("b3", "c1")]
    for facet in (None, "genre", "mood:2,genre:1"):
        for a, b in pairs:
            params = {"k": 5} | ({"facet": facet} if facet else {})
            steps = get(shelf, a, b, **params).json()["results"]
            t = [s["t"] for s in steps]
            assert t == sorted(t) and len(t) == 5
            rhos_a.append(spearman(t, [s["from_score"] for s in steps]))
            rhos_b.append(spearman(t, [s["to_score"] for s in steps]))
    # cosine to A falls and cosine to B rises along the path
    assert np.mean(rhos_a) < -0.4 and np.mean(rhos_b) > 0.25, (rhos_a, rhos_b)


@pytest.mark.parametrize("spacing", [1, 2, 3])
def test_artist_spacing_holds(shelf: Shelf, spacing):
    k = 8
    body = get(shelf, "a1", "b1", k=k, spacing=spacing).json()
    placed = [(0, artist(shelf, shelf.ids["a1"])), (k + 1, artist(shelf, shelf.ids["b1"]))]
    placed += [(position(s, k), artist(shelf, s["track"]["id"])) for s in body["results"]]
    for p, x in placed:
        for q, y in placed:
            if p < q and x == y:
                assert q - p > spacing, (p, q, x)
    assert body["found"] == len(body["results"]) >= 4
    # with no rule, Ann's and Bob's other tracks can sit next to A and B: the rule moved them
    want = brute_force(shelf, shelf.ids["a1"], shelf.ids["b1"], k,
                       parse_weights(None, shelf.catalog.schema), spacing)
    assert [s["track"]["id"] for s in body["results"]] == [t for _, t, _ in want]


def test_filters_are_respected_and_fewer_steps_are_said(shelf: Shelf):
    body = get(shelf, "b1", "c1", k=5, artist="ann").json()  # only Ann's 3 tracks qualify
    ids = [s["track"]["id"] for s in body["results"]]
    assert sorted(ids) == sorted(shelf.ids[x] for x in ("a1", "a2", "a3"))
    assert (body["k"], body["found"]) == (5, 3)
    assert [s["t"] for s in body["results"]] == pytest.approx([0.25, 0.5, 0.75])
    body = get(shelf, "a1", "e2", k=4, year_min=1980, exclude=[shelf.ids["c2"]]).json()
    keep = {t for t, row in shelf.rows.items() if row.year is not None and row.year >= 1980}
    keep -= {shelf.ids["c2"]}
    want = brute_force(shelf, shelf.ids["a1"], shelf.ids["e2"], 4,
                       parse_weights(None, shelf.catalog.schema), 0, lambda t: t in keep)
    assert [s["track"]["id"] for s in body["results"]] == [t for _, t, _ in want]
    assert body["found"] == 4
    body = get(shelf, "a1", "e2", k=3, tag="chorale", tag_threshold=0.25).json()
    for s in body["results"]:
        assert shelf.tags[s["track"]["id"]]["chorale"] > 0.25
    assert get(shelf, "a1", "e2", artist="nobody").json()["results"] == []


@pytest.mark.parametrize("query, status, detail", [
    ("from={a1}&to={a1}", 422, "invalid to {a1}: is the same track as from; a path needs two "
                               "different tracks"),
    ("from={a1}&to=999999", 404, "track 999999 not found"),
    ("from=999999&to={a1}", 404, "track 999999 not found"),
    ("to={a1}", 422, "query.from: Field required"),
    ("from={a1}", 422, "query.to: Field required"),
    ("from=0&to={a1}", 422, "query.from: Input should be greater than or equal to 1"),
    ("from=x&to={a1}", 422, "query.from: 'x' is not an integer in ASCII digits"),
    ("from={a1}&to={b1}&k=0", 422, "k must be between 1 and 50, got 0"),
    ("from={a1}&to={b1}&k=51", 422, "k must be between 1 and 50, got 51"),
    ("from={a1}&to={b1}&spacing=-1", 422,
     "query.spacing: Input should be greater than or equal to 0"),
    ("from={a1}&to={b1}&spacing=101", 422,
     "query.spacing: Input should be less than or equal to 100"),
    ("from={a1}&to={b1}&facet=tempo", 422, "unknown facet 'tempo'; valid facets: "),
    ("from={a1}&to={b1}&facet=mood:0", 422, "facet weights are all zero"),
    ("from={a1}&to={b1}&tag=nope", 422, "unknown tag 'nope'; valid tags: "),
    ("from={a1}&to={b1}&year_min=2000&year_max=1990", 422,
     "invalid year_max 1990: is below year_min 2000"),
    ("from={a1}&to={b1}&length=3", 422,
     f"unknown query parameter 'length'; valid query parameters: {PARAMS}"),
    ("from={a1}&to={b1}&k=3&k=4", 422, "query parameter 'k' is given 2 times"),
])
def test_bad_requests_say_what_is_valid(shelf: Shelf, query, status, detail):
    ids = {"a1": shelf.ids["a1"], "b1": shelf.ids["b1"]}
    r = shelf.client.get(f"/playlist?{query.format(**ids)}")
    assert r.status_code == status, r.text
    assert r.json()["detail"].startswith(detail.format(**ids)), r.json()["detail"]


def test_openapi_documents_the_route_with_an_example(shelf: Shelf):
    op = shelf.client.get("/openapi.json").json()["paths"]["/playlist"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert ", ".join(params) == PARAMS
    assert params["from"]["required"] and params["to"]["required"]
    example = op["responses"]["200"]["content"]["application/json"]["example"]
    assert [s["t"] for s in example["results"]] == [0.333333, 0.666667]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PlaylistResponse"}
