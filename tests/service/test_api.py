"""The HTTP API end to end: real audio, a real encoder, a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pytest

from layout.facets import facet_cosines
from support.audio import encode
from tests.service.conftest import API_KEY, SR, Catalogue, song, upload


def brute_force(
    cat: Catalogue, query_id: int, weights: dict[str, float]
) -> list[tuple[int, float]]:
    """Every other track's weighted facet score, best first, from the stored vectors."""
    catalog = cat.client.app.state.catalog
    q = catalog.indexes.index.get(query_id)
    names = catalog.schema.facet_names
    out = []
    for tid in cat.ids.values():
        if tid == query_id:
            continue
        cos = facet_cosines(q, catalog.indexes.index.get(tid)[None, :], catalog.schema)[0]
        out.append(
            (tid, float(sum(weights.get(n, 0.0) * c for n, c in zip(names, cos, strict=True))))
        )
    return sorted(out, key=lambda p: -p[1])


def test_health_and_readiness(catalogue: Catalogue):
    c = catalogue.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz").json()
    assert ready["status"] == "ready" and ready["tracks"] == len(catalogue.ids)
    assert ready["model"].startswith("tiny-")
    assert ready["index"] == {
        "factory": "IDMap2,Flat",
        "genre": 6,
        "mood": 6,
        "instrument": 6,
        "era": 6,
    }


def test_get_track_has_tags_by_concept(catalogue: Catalogue):
    body = catalogue.client.get(f"/tracks/{catalogue.ids['alpha']}").json()
    assert body["title"] == "Alpha" and body["artist"] == "Ann"
    assert body["duration"] == pytest.approx(4.0, abs=0.01)
    assert set(body["tags"]) == {"genre", "mood", "instrument", "era"}
    genre = body["tags"]["genre"]
    assert [t["tag"] for t in genre] and all(0 <= t["score"] <= 1 for t in genre)
    assert [t["score"] for t in genre] == sorted((t["score"] for t in genre), reverse=True)


@pytest.mark.parametrize(
    "facet, weights",
    [
        (None, {"genre": 0.25, "mood": 0.25, "instrument": 0.25, "era": 0.25}),
        ("mood", {"mood": 1.0}),
        ("mood:0.7,genre:0.3", {"mood": 0.7, "genre": 0.3}),
        ("era:1,instrument:3", {"era": 0.25, "instrument": 0.75}),
        ("genre:1,mood:-1", {"genre": 0.5, "mood": -0.5}),  # same genre, different mood
        ("instrument:-1", {"instrument": -1.0}),
    ],
)
def test_similar_by_id_matches_brute_force(catalogue: Catalogue, facet, weights):
    qid = catalogue.ids["gamma"]
    params = {"k": 5} | ({"facet": facet} if facet else {})
    body = catalogue.client.get(f"/similar/{qid}", params=params).json()
    assert body["facet_weights"] == pytest.approx(weights)
    got = [(r["track"]["id"], r["score"]) for r in body["results"]]
    expected = brute_force(catalogue, qid, weights)[:5]
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-4)
    for r in body["results"]:  # the explanation adds up to the score
        total = sum(weights.get(n, 0) * c for n, c in r["facets"].items())
        assert r["score"] == pytest.approx(total, abs=1e-4)
    assert qid not in [i for i, _ in got]


def test_similar_by_clip_same_audio_scores_one(catalogue: Catalogue):
    # A random encoder cannot be asked to find excerpts or re-encodings of a track: that is
    # tested with the trained model (tests/service/test_default_model.py).
    data = encode(catalogue.audio["eps"], SR, "wav")
    r = catalogue.client.post("/similar", files={"file": ("q.wav", data)}, data={"k": "3"})
    body = r.json()
    assert len(body["results"]) == 3
    assert body["query"]["duration"] == pytest.approx(4.0, abs=1e-3)
    assert set(body["query"]["tags"]) == {"genre", "mood", "instrument", "era"}
    top = body["results"][0]
    assert top["track"]["id"] == catalogue.ids["eps"]
    assert top["score"] == pytest.approx(1.0, abs=1e-4)
    assert all(v == pytest.approx(1.0, abs=1e-4) for v in top["facets"].values())


def test_similar_by_clip_part(catalogue: Catalogue):
    two = np.concatenate([catalogue.audio["alpha"], catalogue.audio["beta"]])
    data = encode(two, SR, "wav")
    r = catalogue.client.post(
        "/similar", files={"file": ("q.wav", data)}, data={"start": "4.0", "duration": "4.0"}
    )
    top = r.json()["results"][0]
    assert top["track"]["id"] == catalogue.ids["beta"]
    assert top["score"] == pytest.approx(1.0, abs=1e-4)


def test_filters(catalogue: Catalogue):
    c, ids = catalogue.client, catalogue.ids
    qid = ids["alpha"]
    body = c.get(f"/similar/{qid}", params={"k": 10, "exclude_artist": "Bob"}).json()
    got = {r["track"]["id"] for r in body["results"]}
    assert got == {ids["beta"], ids["eps"], ids["zeta"]}
    body = c.get(
        f"/similar/{qid}", params=[("k", 10), ("exclude", ids["beta"]), ("exclude", ids["eps"])]
    ).json()
    assert {r["track"]["id"] for r in body["results"]} == {ids["gamma"], ids["delta"], ids["zeta"]}
    artist = "O'Brien; DROP TABLE tracks; --"
    body = c.get(f"/similar/{qid}", params={"k": 10, "exclude_artist": artist}).json()
    assert ids["zeta"] not in {r["track"]["id"] for r in body["results"]}
    assert len(body["results"]) == 4


def test_tag_filter_matches_stored_scores(catalogue: Catalogue):
    c, ids = catalogue.client, catalogue.ids
    tag = "jazz"
    with_tag = {
        tid
        for tid in ids.values()
        if any(
            t["tag"] == tag and t["score"] >= 0.5
            for t in c.get(f"/tracks/{tid}").json()["tags"]["genre"]
        )
    }
    body = c.get(f"/similar/{ids['alpha']}", params={"k": 10, "tag": tag}).json()
    assert {r["track"]["id"] for r in body["results"]} == with_tag - {ids["alpha"]}


def test_search_by_tag_ranks_by_proxy_cosine(catalogue: Catalogue):
    c = catalogue.client
    catalog = c.app.state.catalog
    body = c.get("/search", params={"tag": "jazz", "k": 6}).json()
    assert body["tags"] == ["jazz"] and len(body["results"]) == 6
    proxy = catalog.model.encoder.head.proxy_vectors().numpy()[catalog.schema.tag_index("jazz")]
    genre = catalog.schema.facet("genre").slice
    k = len(catalog.schema.facets)
    for r in body["results"]:
        v = catalog.indexes.index.get(r["track"]["id"])[genre] * np.sqrt(k)
        assert r["score"] == pytest.approx(float(v @ proxy), abs=1e-4)
        assert 0 <= r["tag_scores"]["jazz"] <= 1
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_with_two_tags_averages(catalogue: Catalogue):
    c = catalogue.client
    one = {
        r["track"]["id"]: r["score"]
        for r in c.get("/search", params={"tag": "jazz", "k": 6}).json()["results"]
    }
    two = {
        r["track"]["id"]: r["score"]
        for r in c.get("/search", params={"tag": "happy", "k": 6}).json()["results"]
    }
    both = c.get("/search", params=[("tag", "jazz"), ("tag", "happy"), ("k", 6)]).json()
    for r in both["results"]:
        tid = r["track"]["id"]
        assert r["score"] == pytest.approx((one[tid] + two[tid]) / 2, abs=1e-4)


def test_vocabulary(catalogue: Catalogue):
    tags = catalogue.client.get("/tags").json()["tags"]
    assert {"name": "jazz", "concept": "genre", "facet": "genre"} in tags
    facets = catalogue.client.get("/facets").json()
    assert facets["disentangled"] is True
    assert [f["name"] for f in facets["facets"]] == ["genre", "mood", "instrument", "era"]


def test_list_tracks(catalogue: Catalogue):
    body = catalogue.client.get("/tracks", params={"offset": 2, "limit": 2}).json()
    assert body["total"] == 6 and len(body["tracks"]) == 2


def test_duplicate_upload_returns_existing(catalogue: Catalogue):
    data = encode(catalogue.audio["alpha"], SR, "flac")
    r = upload(catalogue.client, data, "again.flac", title="Other title")
    assert r.status_code == 200
    assert r.json()["created"] is False
    assert r.json()["track"]["id"] == catalogue.ids["alpha"]
    assert r.json()["track"]["title"] == "Alpha"


def test_delete_removes_from_store_and_index(catalogue: Catalogue):
    c, ids = catalogue.client, catalogue.ids
    r = c.delete(f"/tracks/{ids['beta']}", headers={"X-API-Key": API_KEY})
    assert r.status_code == 204
    assert c.get(f"/tracks/{ids['beta']}").status_code == 404
    body = c.get(f"/similar/{ids['alpha']}", params={"k": 10}).json()
    assert ids["beta"] not in {r["track"]["id"] for r in body["results"]}
    assert len(body["results"]) == 4
    assert c.get("/readyz").json()["tracks"] == 5


def test_metadata_with_sql_metacharacters_is_stored_literally(catalogue: Catalogue):
    body = catalogue.client.get(f"/tracks/{catalogue.ids['zeta']}").json()
    assert body["artist"] == "O'Brien; DROP TABLE tracks; --"
    weird = "Robert'); DELETE FROM tracks WHERE ('1'='1 % _ \\ \u00e9\u4e2d"
    r = upload(catalogue.client, encode(song("weird"), SR, "wav"), title=weird, album=weird)
    assert r.status_code == 201
    assert r.json()["track"]["title"] == weird
    assert catalogue.client.get("/readyz").json()["tracks"] == 7
