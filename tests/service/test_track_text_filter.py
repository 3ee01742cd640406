"""GET /tracks?q=: tracks whose title or artist contains the text, on both backends."""

from __future__ import annotations

from tests.service.conftest import Catalogue


def titles(catalogue: Catalogue, **params: object) -> tuple[int, list[str]]:
    r = catalogue.client.get("/tracks", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return body["total"], [t["title"] for t in body["tracks"]]


CASES = [
    ("alpha", ["Alpha"]),
    ("ALP", ["Alpha"]),  # case is ignored
    ("ann", ["Alpha", "Beta"]),  # the artist matches too
    ("  bob ", ["Gamma", "Delta"]),  # surrounding spaces are trimmed
    ("ta", ["Beta", "Delta", "Zeta"]),  # anywhere in the text
    ("DROP TABLE", ["Zeta"]),  # text, never SQL
    ("%", []),  # LIKE wildcards are literal
    ("_", []),
    ("\\", []),
    ("nothing like it", []),
    ("", ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"]),  # no filter
    ("a\x00b", []),  # text no row can hold
]


def test_q_filters_title_and_artist(catalogue: Catalogue) -> None:
    got = {q: titles(catalogue, q=q) for q, _ in CASES}
    assert got == {q: (len(expected), expected) for q, expected in CASES}
    # pages and counts the matches ("Epsilon" by Cy has no a)
    assert titles(catalogue, q="a", limit=2, offset=1) == (5, ["Beta", "Gamma"])
    r = catalogue.client.get("/tracks", params={"q": "x" * 201})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("query.q: String should have at most 200 characters")
