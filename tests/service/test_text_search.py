"""GET /search?q=: free text read onto the model's tags, ranked as the reading says, against
brute force over the stored vectors (SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pytest

from layout.tags import tag_cosines
from tests.service.conftest import Catalogue


def brute_force(catalogue: Catalogue, weights: dict[str, float]) -> dict[int, float]:
    """Track id -> sum_t w_t cos_t / sum_t |w_t| over every track in the index."""
    catalog = catalogue.client.app.state.catalog
    ids = list(catalogue.ids.values())
    vectors = np.stack([catalog.indexes.index.get(i) for i in ids])
    cos = tag_cosines(vectors, catalog.model.tag_proxies, catalog.schema)
    total = sum(abs(w) for w in weights.values())
    score = sum(w * cos[:, catalog.schema.tag_index(t)] for t, w in weights.items()) / total
    return dict(zip(ids, score.tolist(), strict=True))


def test_the_text_is_read_and_ranked_as_read(catalogue: Catalogue) -> None:
    body = catalogue.client.get(
        "/search", params={"q": "Calm piano with strings, no drums", "k": 6}).json()
    want = {"calm": 1.0, "piano": 1.0, "strings": 1.0, "drums": -1.0}
    assert body["tag_weights"] == want and body["tags"] == list(want)
    assert [(t["text"], t["tags"], t["weight"]) for t in body["reading"]["terms"]] == [
        ("calm", ["calm"], 1.0), ("piano", ["piano"], 1.0), ("strings", ["strings"], 1.0),
        ("drums", ["drums"], -1.0)]
    assert body["reading"]["not_understood"] == [] and body["reading"]["no_tag"] == []
    expected = brute_force(catalogue, want)
    assert [r["track"]["id"] for r in body["results"]] == sorted(
        expected, key=expected.__getitem__, reverse=True)
    for r in body["results"]:
        assert r["score"] == pytest.approx(expected[r["track"]["id"]], abs=1e-4)
        assert set(r["tag_scores"]) == set(want)  # the negated tag's probability too


def test_a_negated_tag_ranks_its_tracks_last(catalogue: Catalogue) -> None:
    c = catalogue.client
    like = [r["track"]["id"] for r in c.get("/search", params={"tag": "jazz", "k": 6}).json()[
        "results"]]
    unlike = [r["track"]["id"] for r in c.get("/search", params={"q": "no jazz", "k": 6}).json()[
        "results"]]
    assert unlike == like[::-1]


def test_text_and_tags_combine(catalogue: Catalogue) -> None:
    c = catalogue.client
    both = c.get("/search", params=[("tag", "jazz"), ("q", "very happy"), ("k", 6)]).json()
    assert both["tag_weights"] == {"jazz": 1.0, "happy": 2.0}
    expected = brute_force(catalogue, {"jazz": 1.0, "happy": 2.0})
    for r in both["results"]:
        assert r["score"] == pytest.approx(expected[r["track"]["id"]], abs=1e-4)


def test_synonyms_and_unknown_words_are_reported(catalogue: Catalogue) -> None:
    body = catalogue.client.get(
        "/search", params={"q": "relaxing violin, no percussion, polka, catchy"}).json()
    assert body["tag_weights"] == {"calm": 1.0, "strings": 1.0, "drums": -1.0}
    assert [t["via"] for t in body["reading"]["terms"]] == [
        "lexicon:calm", "lexicon:strings", "lexicon:drums"]
    assert body["reading"]["not_understood"] == ["polka"]
    assert body["reading"]["no_tag"] == ["catchy"]  # the tiny model has no such tag


def test_filters_apply_to_text_search(catalogue: Catalogue) -> None:
    ann = {catalogue.ids["alpha"], catalogue.ids["beta"]}
    body = catalogue.client.get("/search", params={"q": "piano", "artist": "Ann"}).json()
    assert {r["track"]["id"] for r in body["results"]} == ann


@pytest.mark.parametrize(("q", "detail"), [
    ("", "the search text is empty"),
    ("   ", "the search text is empty"),
    ("polka xyzzy", "nothing in 'polka xyzzy' reads as a tag of this model; not understood: "
                    "polka, xyzzy; the tags: GET /tags"),
    ("instrumental", "nothing in 'instrumental' reads as a tag of this model; no tag for: "
                     "instrumental; the tags: GET /tags"),
    ("piano, no piano", "nothing in 'piano, no piano' reads as a tag of this model (its terms "
                        "cancel out); the tags: GET /tags"),
    ("piano^x", "the weight in 'piano^x' is not a plain decimal number"),
    ("piano^1_0", "the weight in 'piano^1_0' is not a plain decimal number"),
    ("piano^0", "the weight in 'piano^0' must be > 0"),
    ("piano " * 100, "the search text is 599 characters long; at most 500 are read"),
])
def test_bad_text_is_a_422_that_says_why(catalogue: Catalogue, q: str, detail: str) -> None:
    r = catalogue.client.get("/search", params={"q": q})
    assert r.status_code == 422
    assert r.json()["detail"].startswith(detail)


@pytest.mark.parametrize("q", ["\x00piano", "<script>alert(1)</script> piano",
                               "piano'; DROP TABLE tracks; --", "🎹 piano", "x" * 20_000])
def test_hostile_text_never_breaks_the_search(catalogue: Catalogue, q: str) -> None:
    r = catalogue.client.get("/search", params={"q": q})
    assert r.status_code in (200, 414, 422), r.text
    if r.status_code == 200:
        assert r.json()["tag_weights"] == {"piano": 1.0}
    assert catalogue.client.get("/tracks").json()["total"] == 6  # nothing lost
